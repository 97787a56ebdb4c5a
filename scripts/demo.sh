#!/usr/bin/env bash
# The main job so far: capture bundled real speech through a real ALSA `file` PCM, then inspect it.
# Usage: scripts/demo.sh [path/to/earshot]
set -euo pipefail
cd "$(dirname "$0")/.."
earshot="${1:-.build/release/earshot}"
work=out/demo
mkdir -p "$work"
audio="$PWD/Demo/audio/goforward.raw"

step() { printf '\n== %s\n' "$*"; }

step "An ALSA configuration with two virtual microphones fed by a real recording (no sound card needed)"
sox -t raw -e signed -b 16 -r 16000 -c 1 "$audio" -t raw -e signed -b 32 -r 48000 -c 2 "$PWD/$work/goforward-48k-s32-stereo.raw"
cat > "$work/asoundrc" <<CONF
# 16 kHz mono S16_LE: "go forward ten meters" (pocketsphinx test data)
pcm.demo_mic {
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "$audio"
    format "raw"
}
# The same speech as a 48 kHz stereo S32_LE microphone, to show resampling and downmixing
pcm.demo_mic_48k {
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "$PWD/$work/goforward-48k-s32-stereo.raw"
    format "raw"
}
CONF
cat "$work/asoundrc"

step "earshot devices --alsa-config $work/asoundrc"
"$earshot" devices --alsa-config "$work/asoundrc"

step "earshot record --device demo_mic --seconds 2.78 --out $work/goforward.wav"
"$earshot" record --alsa-config "$work/asoundrc" --device demo_mic --seconds 2.78 --out "$work/goforward.wav"

step "earshot info $work/goforward.wav"
"$earshot" info "$work/goforward.wav"

step "earshot record --device demo_mic_48k --format S32_LE --rate 48000 --channels 2 --out $work/goforward-from-48k.flac"
"$earshot" record --alsa-config "$work/asoundrc" --device demo_mic_48k --format S32_LE --rate 48000 --channels 2 \
    --seconds 2.78 --out "$work/goforward-from-48k.flac"

step "earshot info $work/goforward-from-48k.flac --json"
"$earshot" info "$work/goforward-from-48k.flac" --json

step "earshot model inspect Demo/models/micro_speech_quantized.tflite (TFLM's int8 keyword model)"
"$earshot" model inspect Demo/models/micro_speech_quantized.tflite

for word in yes no; do
  step "earshot classify --audio Demo/audio/${word}_1000ms.wav (fixed-point frontend + int8 interpreter)"
  "$earshot" classify --model Demo/models/micro_speech_quantized.tflite --labels silence,unknown,yes,no \
      --audio "Demo/audio/${word}_1000ms.wav"
done

step "earshot classify over the recorded 48 kHz capture, half-second hops"
"$earshot" classify --model Demo/models/micro_speech_quantized.tflite --labels silence,unknown,yes,no \
    --audio "$work/goforward-from-48k.flac"

step "earshot vad $work/goforward.wav (integer VAD: speech segments, then one probability per 10 ms)"
"$earshot" vad "$work/goforward.wav"
"$earshot" vad "$work/goforward.wav" --format frames | awk 'NR % 25 == 1 { printf "  %5.2f s  %s\n", (NR - 1) / 100, $1 }'

step "earshot transcribe Demo/audio/commands.flac (VAD → endpointer → command-en, int8; voices it never heard)"
"$earshot" transcribe Demo/audio/commands.flac

step "earshot run --audio Demo/audio/commands.flac (the runtime: one JSON decision per utterance; automation partial)"
"$earshot" run --audio Demo/audio/commands.flac > "$work/decisions.jsonl"
head -1 "$work/decisions.jsonl"
python3 -c 'import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    print("  %6.2f–%5.2f s  %-9s %.2f  %-8s %.1f ms" % (d["start"], d["end"], d["text"], d["confidence"], d["automation"], d["latency_ms"]))' "$work/decisions.jsonl"

step "earshot transcribe $work/goforward.wav --grammar Demo/audio/goforward.gram (phrase-en, decoding constrained by the grammar)"
"$earshot" transcribe "$work/goforward.wav" --grammar Demo/audio/goforward.gram --json

step "Done. Files are in $work/"
