# Earshot: two commands on a fresh Debian/Ubuntu machine.
#   make demo   installs missing packages, builds, runs the edge pipeline on bundled real audio
#   make test   installs missing packages, builds, runs every test
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

SWIFT_FLAGS ?=
RELEASE_BIN := .build/release/earshot

.PHONY: all deps deps-test build release demo test lifecycle-demo soak-spool bench-runtime bench-collector bench-teacher clean

all: build

deps:
	@scripts/install-deps.sh build

deps-test:
	@scripts/install-deps.sh test

build: deps
	@echo "build: swift build (debug)"
	swift build $(SWIFT_FLAGS)

release: deps
	@echo "build: swift build -c release"
	swift build -c release $(SWIFT_FLAGS)

demo: release
	@scripts/install-deps.sh demo
	@scripts/demo.sh $(RELEASE_BIN)

test: deps-test
	@scripts/oracles/install-venv.sh
	@echo "test: starting PostgreSQL for the collector's tests (scripts/test/start-postgres.sh)"
	@mkdir -p .build && scripts/test/start-postgres.sh > .build/postgres-url
	@echo "test: release build (the fleet-rollout tests run it: 20 devices replaying audio), swift build --build-tests, then swift test"
	swift build -c release $(SWIFT_FLAGS)
	swift build --build-tests $(SWIFT_FLAGS)
	EARSHOT_TEST_POSTGRES="$$(cat .build/postgres-url)" EARSHOT_FLEET_BIN_DIR="$$PWD/.build/release" swift test --skip-build $(SWIFT_FLAGS)
	@echo "test: end-to-end smoke test of the release build (scripts/release-smoke.sh)"
	@scripts/release-smoke.sh
	@echo "test: the ML lifecycle scenario, reduced (6 devices; make lifecycle-demo runs 12): shift, alarms, export, fine-tune, rollouts"
	@scripts/models/install-training.sh --lifecycle
	.venv-training/bin/python scripts/lifecycle/run.py --size small --check
	@echo "test: a short libFuzzer run of the model reader (Fuzz/run.sh -runs=20000)"
	@Fuzz/run.sh -runs=20000 > .build-fuzz.log 2>&1 || { tail -40 .build-fuzz.log; exit 1; }
	@grep -E "^Done|ERROR" .build-fuzz.log | tail -2
	@echo "test: a short libFuzzer run of the collector's ingest reader (Fuzz/run-ingest.sh -runs=50000)"
	@Fuzz/run-ingest.sh -runs=50000 > .build-fuzz-ingest.log 2>&1 || { tail -40 .build-fuzz-ingest.log; exit 1; }
	@grep -E "^Done|ERROR" .build-fuzz-ingest.log | tail -2

# Long runs, not part of `make test`.
# The ML lifecycle end to end at full size (docs/LIFECYCLE.md): about 10 minutes; the report is printed and kept.
lifecycle-demo: release deps-test
	@scripts/models/install-training.sh --lifecycle
	.venv-training/bin/python scripts/lifecycle/run.py --size full --work out/lifecycle --check

soak-spool: deps-test
	@echo "soak: 5000 kill -9 cycles of the spool writer (about 20 minutes)"
	swift build --build-tests $(SWIFT_FLAGS)
	EARSHOT_CRASH_ITERATIONS=5000 swift test --skip-build --filter SpoolCrashTests $(SWIFT_FLAGS)

bench-runtime: release
	python3 Benchmarks/runtime/run.py $(RELEASE_BIN)

bench-collector: release deps-test
	@mkdir -p .build && scripts/test/start-postgres.sh > .build/postgres-url
	python3 Benchmarks/collector/ingest.py .build/release --db sqlite:$$(mktemp -d)/ingest.db
	python3 Benchmarks/collector/ingest.py .build/release --db "$$(cat .build/postgres-url)?schema=bench_ingest_$$$$"
	python3 Benchmarks/collector/dashboard.py .build/release --db sqlite:$$(mktemp -d)/dashboard.db
	python3 Benchmarks/collector/dashboard.py .build/release --db "$$(cat .build/postgres-url)?schema=bench_dashboard_$$$$"

bench-teacher: release
	python3 Benchmarks/teacher/run.py .build/release

clean:
	rm -rf .build out
