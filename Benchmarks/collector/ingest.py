#!/usr/bin/env python3
"""Ingest throughput of `earshot-collector serve`, measured from this separate load process on loopback.

Registers DEVICES devices, builds every batch first (gzip JSON exactly as `earshot sync` sends it: decision records
shaped like `earshot run`'s, about 900 bytes of JSON each), then uploads them from one thread per device with keep-alive
connections and times first request to last acknowledgement. Checks afterwards that the collector holds every record
exactly once. Prints one JSON line.

Usage: Benchmarks/collector/ingest.py BIN_DIR --db URL [--devices 4] [--records 50000] [--batch 1000]
  e.g. Benchmarks/collector/ingest.py .build/release --db sqlite:/tmp/bench.db
       Benchmarks/collector/ingest.py .build/release --db 'postgres://earshot:earshot@127.0.0.1:5432/earshot_test?schema=bench1'
"""
import argparse
import gzip
import http.client
import json
import os
import subprocess
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("bin")
parser.add_argument("--db", required=True)
parser.add_argument("--devices", type=int, default=4)
parser.add_argument("--records", type=int, default=50_000, help="records per device")
parser.add_argument("--batch", type=int, default=1_000)
args = parser.parse_args()
collector = os.path.join(args.bin, "earshot-collector")


def record(seq):
    return {"seq": seq, "wall": 1795800000.0 + seq * 0.5, "kind": "decision", "record": {
        "schema": 1, "boot_id": "3f1c2a9e-6b1d-4c1e-9d7e-0a1b2c3d4e5f", "monotonic_ns": seq * 1_000_000, "decision": {
            "id": "u-%d" % seq, "start": 1.25, "end": 2.05, "text": ["stop", "go", "yes", "no"][seq % 4], "confidence": 0.91,
            "source": "local", "offline": False, "automation": "accept", "latency_ms": 4.4, "accepted": True,
            "top_k": [{"label": "stop", "p": 0.91}, {"label": "go", "p": 0.05}, {"label": "unknown", "p": 0.02}],
            "models": {"active": "command-en@1.0.0", "answered": "command-en@1.0.0"}, "automation_level": "partial",
            "stages": {"queue_ms": 0.1, "recognize_ms": 4.2, "cloud_ms": 0},
            "input": {"duration_s": 0.8, "rms_dbfs": -30.0 - seq % 9, "peak_dbfs": -8.5, "clipped_percent": 0, "speech_ratio": 0.62,
                      "dc_offset": 0.0001, "noise_floor_dbfs": -62.0, "snr_db": 24.0, "spectral_centroid_hz": 1480.0,
                      "spectral_tilt_db_per_octave": -4.1},
            "local": {"text": "stop", "confidence": 0.91, "recognised": True, "agrees": True},
            "software": {"queue_depth": 0, "dropped_utterances": 0, "rss_mb": 31.2}}}}


tokens = []
for d in range(args.devices):
    out = subprocess.run([collector, "devices", "add", "bench-%d-%d" % (os.getpid(), d), "--db", args.db], capture_output=True, text=True, check=True)
    tokens.append(out.stdout.strip().splitlines()[-1])

bodies = []
json_bytes = 0
for d in range(args.devices):
    batches = []
    for start in range(1, args.records + 1, args.batch):
        raw = json.dumps({"schema": 1, "device_id": "bench-%d-%d" % (os.getpid(), d), "epoch": 1, "counters": {"dropped": 0, "corrupt": 0},
                          "records": [record(s) for s in range(start, min(start + args.batch, args.records + 1))]}).encode()
        json_bytes += len(raw)
        batches.append(gzip.compress(raw, 6))
    bodies.append(batches)

server = subprocess.Popen([collector, "serve", "--port", "0", "--db", args.db], stderr=subprocess.PIPE, text=True)
line = server.stderr.readline()
port = int(line.split("127.0.0.1:")[1].split()[0])
errors = []


def upload(d):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for body in bodies[d]:
        connection.request("POST", "/v1/ingest", body, {"Authorization": "Bearer " + tokens[d], "Content-Type": "application/json",
                                                        "Content-Encoding": "gzip"})
        answer = connection.getresponse()
        data = answer.read()
        if answer.status != 200:
            errors.append((answer.status, data[:200]))
            return


threads = [threading.Thread(target=upload, args=(d,)) for d in range(args.devices)]
started = time.perf_counter()
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.perf_counter() - started
server.terminate()
server.wait()
devices = json.loads(subprocess.run([collector, "devices", "list", "--db", args.db, "--json"], capture_output=True, text=True, check=True).stdout)
stored = sum(d["records"] for d in devices if d["name"].startswith("bench-%d-" % os.getpid()))
total = args.devices * args.records
print(json.dumps({"db": args.db.split(":")[0], "devices": args.devices, "records": total, "batch": args.batch, "seconds": round(elapsed, 3),
                  "records_per_second": round(total / elapsed), "json_bytes_per_record": round(json_bytes / total),
                  "stored_exactly_once": stored == total, "errors": errors[:3]}))
