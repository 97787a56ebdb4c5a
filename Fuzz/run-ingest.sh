#!/usr/bin/env bash
# Builds the collector's ingest fuzzer (libFuzzer + AddressSanitizer: the batch reader, JSON scanner and gunzip) and
# runs it. The sources are compiled as one module with the fuzz entry point; zlib through the CZlib module map.
# Usage: Fuzz/run-ingest.sh [libFuzzer flags]   (default: -runs=20000)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
out=.build-fuzz
mkdir -p "$out" "$out/ingest-corpus"
binary="$out/ingest-fuzzer"
sources=(Sources/EarshotCollector/IngestBatch.swift Sources/EarshotCollector/JSONScanner.swift Sources/EarshotCollector/CollectorError.swift
         Sources/EarshotMonitoring/HourlyRollup.swift Fuzz/IngestFuzzer/*.swift)
if [ ! -x "$binary" ] || [ -n "$(find "${sources[@]}" -newer "$binary" 2>/dev/null | head -1)" ]; then
  echo "fuzz: building $binary (swiftc -sanitize=fuzzer,address)"
  swiftc -O -g -parse-as-library -sanitize=fuzzer,address -module-name EarshotIngestFuzz -D EARSHOT_INGEST_FUZZER -I Sources/CZlib "${sources[@]}" -lz -o "$binary"
fi
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(-runs=20000)
echo "fuzz: $binary ${args[*]} (seed corpus Fuzz/ingest-corpus, new inputs in $out/ingest-corpus)"
SWIFT_BACKTRACE=enable=no "$binary" -max_len=65536 -artifact_prefix="$out/ingest-" "${args[@]}" "$out/ingest-corpus" Fuzz/ingest-corpus
