#!/usr/bin/env bash
# The main job: bundled real and synthesised speech through a real ALSA `file` PCM into the edge runtime, with a local
# `earshot serve` as its cloud, its offline log synced to an embedded `earshot-collector`; before that, the stages one by
# one (capture, frontend, interpreter, VAD, models).
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

step "The full pipeline: ALSA capture → VAD → endpointer → command-en → router → decisions, with earshot serve as the cloud"
sox Demo/audio/commands.flac -t raw -e signed -b 16 -r 16000 -c 1 "$PWD/$work/commands.raw"
cat >> "$work/asoundrc" <<CONF
# Six spoken commands (synthesised voices the model never heard), as a 16 kHz microphone
pcm.demo_commands {
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "$PWD/$work/commands.raw"
    format "raw"
}
CONF
"$earshot" serve --port 0 2> "$work/serve.log" &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q listening "$work/serve.log" 2>/dev/null && break; sleep 0.05; done
cat "$work/serve.log"
port=$(grep -o '127.0.0.1:[0-9]*' "$work/serve.log" | cut -d: -f2)
echo "earshot run --alsa-config $work/asoundrc --device demo_commands --lossless --seconds 12.5 --cloud-url http://127.0.0.1:$port/v1/audio/transcriptions --policy local-first"
rm -rf "$work/spool"
"$earshot" run --alsa-config "$work/asoundrc" --device demo_commands --lossless --seconds 12.5 \
    --cloud-url "http://127.0.0.1:$port/v1/audio/transcriptions" --policy local-first --spool "$work/spool" > "$work/routed.jsonl"
python3 -c 'import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
for d in rows:
    cloud = d.get("cloud") or {}
    print("  %6.2f–%5.2f s  %-9s %.2f  %-6s %-8s %6.1f ms%s" % (d["start"], d["end"], d["text"], d["confidence"], d["source"],
          d["automation"], d["latency_ms"], "  (local said %s %.2f; cloud %s in %.0f ms)" % (d["local"]["text"], d["local"]["confidence"],
          cloud.get("status"), cloud.get("ms", 0)) if d.get("local") else ""))
latencies = sorted(d["latency_ms"] for d in rows)
by = {s: sum(d["source"] == s for d in rows) for s in ("local", "cloud")}
print("  summary: %d decisions, %d local, %d cloud, %d offline; latency median %.1f ms, max %.1f ms" % (
    len(rows), by["local"], by["cloud"], sum(d["offline"] for d in rows), latencies[len(latencies) // 2], latencies[-1]))' "$work/routed.jsonl"
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^earshot_serve_(requests_total|audio_seconds_total|real_time_factor_(sum|count))' | sed 's/^/  /'

step "earshot spool status and earshot logs: the same decisions in the durable offline log ($work/spool)"
"$earshot" spool status --spool "$work/spool"
"$earshot" logs --spool "$work/spool" -n 3

step "earshot sync --now: the spool's backlog to an embedded earshot-collector (SQLite, on 127.0.0.1), exactly once"
collector="$(dirname "$earshot")/earshot-collector"
db="sqlite:$PWD/$work/collector.db"
rm -f "$work"/collector.db*
token=$("$collector" devices add demo-box --db "$db" --site demo-bench --hardware "$(uname -m)" | tail -1)
echo "earshot-collector devices add demo-box --db $db   → token ${token:0:8}… (shown once, only its SHA-256 is stored)"
"$collector" serve --port 0 --db "$db" 2> "$work/collector.log" &
collector_pid=$!
trap 'kill $serve_pid $collector_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q listening "$work/collector.log" 2>/dev/null && break; sleep 0.05; done
cat "$work/collector.log"
cport=$(grep -o '127.0.0.1:[0-9]*' "$work/collector.log" | cut -d: -f2)
"$earshot" sync --now --spool "$work/spool" --collector "http://127.0.0.1:$cport" --token "$token"
"$earshot" sync --now --spool "$work/spool" --collector "http://127.0.0.1:$cport" --token "$token"   # again: nothing left to send
"$collector" devices list --db "$db"
curl -s "http://127.0.0.1:$cport/metrics" | grep -E '^earshot_collector_(records_stored_total|ingest_requests_total)' | sed 's/^/  /'
curl -s "http://127.0.0.1:$cport/" > "$work/dashboard.html"
echo "  the collector's dashboard (HTML + SVG, no JavaScript) is saved as $work/dashboard.html; live at http://127.0.0.1:$cport/ while it runs"
"$collector" export --db "$db" --no-record --out "$work/export.csv"
head -3 "$work/export.csv" | cut -c1-150 | sed 's/^/  /'

step "A quality-gated rollout to the demo box: shadow, then the switch (docs/ROLLOUT.md)"
rm -rf "$work/store" "$work/bundle-0.2.0"
"$earshot" models install Models/command/command-en --activate --store "$work/store"
# The candidate: the shipped network as version 0.2.0 (a retrained model would arrive the same way).
mkdir -p "$work/bundle-0.2.0" && cp Models/command/command-en/model.tflite "$work/bundle-0.2.0/"
python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); m["version"] = "0.2.0"; json.dump(m, open(sys.argv[2], "w"), indent=1)' \
    Models/command/command-en/manifest.json "$work/bundle-0.2.0/manifest.json"
"$collector" devices group bench --device demo-box --db "$db"
"$collector" models push "$work/bundle-0.2.0" --db "$db"
"$collector" rollout start command-en@0.2.0 --group bench --steps shadow,100 --interval 0s --min-samples 5 --baseline command-en@0.1.0 --id demo --db "$db"
box() {   # the box hears the commands, then syncs: upload, poll, download, verify, install, follow the plan
  "$earshot" run --audio Demo/audio/commands.flac --store "$work/store" --spool "$work/spool" > /dev/null 2>> "$work/rollout-run.log"
  "$earshot" sync --now --spool "$work/spool" --store "$work/store" --collector "http://127.0.0.1:$cport" --token "$token" | grep '^rollout:'
}
"$earshot" sync --now --spool "$work/spool" --store "$work/store" --collector "http://127.0.0.1:$cport" --token "$token" | grep '^rollout:'
for round in 1 2; do
  box
  "$collector" rollout evaluate --db "$db"
  "$earshot" sync --now --spool "$work/spool" --store "$work/store" --collector "http://127.0.0.1:$cport" --token "$token" | grep '^rollout:'
done
"$earshot" models list --store "$work/store"
"$collector" rollout show demo --db "$db"
curl -s "http://127.0.0.1:$cport/rollouts/demo" > "$work/rollout.html"
echo "  the rollout's page with every decision and its evidence is saved as $work/rollout.html"

step "earshot transcribe $work/goforward.wav --grammar Demo/audio/goforward.gram (phrase-en, decoding constrained by the grammar)"
"$earshot" transcribe "$work/goforward.wav" --grammar Demo/audio/goforward.gram --json

step "Done. Files are in $work/"
