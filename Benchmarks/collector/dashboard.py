#!/usr/bin/env python3
"""Dashboard render time of `earshot-collector serve`: a fleet of DEVICES devices with RECORDS decisions each (one in
five devices drifting halfway), then each page fetched REPEAT times from this process; prints the median and worst
wall time per page as one JSON line.

Usage: Benchmarks/collector/dashboard.py BIN_DIR --db URL [--devices 20] [--records 2000] [--repeat 7]
"""
import argparse, gzip, json, os, random, statistics, subprocess, time, urllib.request

p = argparse.ArgumentParser()
p.add_argument("bin"); p.add_argument("--db", required=True)
p.add_argument("--devices", type=int, default=20); p.add_argument("--records", type=int, default=2000); p.add_argument("--repeat", type=int, default=7)
a = p.parse_args()
collector = os.path.join(a.bin, "earshot-collector")
random.seed(1)
tokens = [subprocess.run([collector, "devices", "add", "dash-%d-%d" % (os.getpid(), d), "--db", a.db, "--site", "site-%d" % (d % 3)],
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1] for d in range(a.devices)]
server = subprocess.Popen([collector, "serve", "--port", "0", "--db", a.db], stderr=subprocess.PIPE, text=True)
port = int(server.stderr.readline().split("127.0.0.1:")[1].split()[0])
base = "http://127.0.0.1:%d" % port
now = time.time()
for d, token in enumerate(tokens):
    for start in range(1, a.records + 1, 1000):
        recs = []
        for s in range(start, min(start + 1000, a.records + 1)):
            shift = 8 if d % 5 == 0 and s > a.records // 2 else 0
            recs.append({"seq": s, "wall": now - (a.records - s) * 5, "kind": "decision", "record": {"schema": 1, "decision": {
                "id": "u%d" % s, "text": random.choice(["stop", "go", "yes", "no", ""]), "confidence": random.uniform(0.4, 1), "source": "local",
                "accepted": True, "latency_ms": random.gauss(5, 1), "models": {"active": "command-en@1.0.0"},
                "input": {"duration_s": random.uniform(0.5, 1.5), "rms_dbfs": random.gauss(-34 + shift, 4), "snr_db": random.gauss(20, 5),
                          "noise_floor_dbfs": random.gauss(-60, 3), "peak_dbfs": random.gauss(-8, 2), "speech_ratio": random.uniform(0.4, 0.8),
                          "spectral_centroid_hz": random.gauss(1500, 200), "spectral_tilt_db_per_octave": random.gauss(-4, 1)},
                "local": {"agrees": random.random() < 0.9}}}})
        body = gzip.compress(json.dumps({"schema": 1, "device_id": "dash-%d-%d" % (os.getpid(), d), "epoch": 1, "records": recs}).encode())
        urllib.request.urlopen(urllib.request.Request(base + "/v1/ingest", data=body, headers={"Authorization": "Bearer " + token, "Content-Encoding": "gzip"})).read()
pages = {"fleet": "/", "device": "/devices/dash-%d-0" % os.getpid(), "model": "/models/command-en@1.0.0"}
result = {"db": a.db.split(":")[0], "devices": a.devices, "records_per_device": a.records}
for name, path in pages.items():
    times = []
    for _ in range(a.repeat):
        t = time.perf_counter(); html = urllib.request.urlopen(base + path).read(); times.append(time.perf_counter() - t)
    result[name + "_ms_median"] = round(statistics.median(times) * 1000, 1)
    result[name + "_ms_max"] = round(max(times) * 1000, 1)
    result[name + "_kb"] = round(len(html) / 1024)
server.terminate(); server.wait()
print(json.dumps(result))
