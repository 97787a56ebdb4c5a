#!/usr/bin/env bash
# One session, side by side: Earshot's benchmarks and the peers (LiteRT, pymicro-features, WebRTC VAD, Silero) on
# the same machine, back to back, so the ratios in Benchmarks/README.md come from one run.
# Needs: scripts/oracles/install-venv.sh --all, and in that venv: webrtcvad-wheels onnxruntime, silero-vad --no-deps.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
python=${PYTHON:-.venv-oracles/bin/python}
swift build -c release
echo "## $(date -u +%F) — Earshot and peers, one run"
(cd Benchmarks && for target in AudioBenchmarks DSPBenchmarks InferenceBenchmarks VADBenchmarks; do
  swift package --allow-writing-to-package-directory benchmark --target "$target" --format markdown 2>/dev/null \
    | sed -n '/^## /,$p' | grep -E '^###|wall|Malloc'
done)
"$python" Benchmarks/peers/litert_peers.py 2>&1 | grep -v INFO
"$python" Benchmarks/vad/run_vad_benchmark.py 2>&1 | grep -v WARN
