#!/usr/bin/env bash
# Release-build smoke test: the optimiser has broken code that debug tests passed (see ARCHITECTURE.md), so
# `make test` also runs the release binary end to end and checks its output.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/earshot
fixtures=../shared/fixtures/tflm-micro-speech
fail() { echo "release-smoke: FAIL: $*" >&2; exit 1; }

out=$("$bin" classify --model "$fixtures/micro_speech_quantized.tflite" --audio "$fixtures/yes_1000ms.wav" --labels silence,unknown,yes,no --json)
echo "$out" | grep -q '"raw":\[-128,-128,127,-128\]' || fail "classify yes: $out"
out=$("$bin" classify --model "$fixtures/micro_speech_quantized.tflite" --audio "$fixtures/no_1000ms.wav" --labels silence,unknown,yes,no --json)
echo "$out" | grep -q '"raw":\[-128,-114,-128,114\]' || fail "classify no: $out"
"$bin" model inspect "$fixtures/micro_speech_quantized.tflite" --json | grep -q '"macs":336000' || fail "inspect"

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf 'pcm.smoke {\n type file\n slave.pcm "null"\n file "/dev/null"\n infile "%s"\n format "raw"\n}\n' \
  "$PWD/Demo/audio/goforward.raw" > "$dir/asoundrc"
"$bin" record --alsa-config "$dir/asoundrc" --device smoke --seconds 2.78625 --out "$dir/r.wav" --json > /dev/null 2>&1
cmp <(tail -c +45 "$dir/r.wav") Demo/audio/goforward.raw || fail "record is not byte-exact"
echo "release-smoke: classify, inspect and record pass on the release build"
