#!/usr/bin/env bash
# Makes Demo/audio/commands.flac: six utterances by flite voices (held out from every Earshot training set), with
# 0.6 s of room around each and faint pink noise: "stop", "seven", "forward", "status", "hello there" (not a
# command), "confirm". Deterministic (sox -R, no dither). Usage: Demo/audio/make-commands.sh
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
parts=()
i=0
for pair in "slt:stop" "awb:seven" "rms:forward" "kal:status" "slt:hello there" "awb:confirm"; do
  flite -voice "${pair%%:*}" -t "${pair#*:}" -o "$tmp/$i.wav"
  sox -R -D "$tmp/$i.wav" -r 16000 -c 1 -b 16 "$tmp/${i}p.wav" pad 0.6 0.6
  parts+=("$tmp/${i}p.wav"); i=$((i + 1))
done
sox -R -D "${parts[@]}" "$tmp/speech.wav"
sox -R -D -n -r 16000 -c 1 -b 16 "$tmp/noise.wav" synth "$(soxi -D "$tmp/speech.wav")" pinknoise vol 0.01
sox -R -D -m "$tmp/speech.wav" "$tmp/noise.wav" -b 16 commands.flac
