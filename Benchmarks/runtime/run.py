#!/usr/bin/env python3
"""End-to-end runtime benchmark of `earshot run` (issue 6's performance goals), in one run on one machine:

  * real-time factor on one core (taskset -c 0): CPU seconds (user + system) / seconds of audio, over a 250 s file
    (Demo/audio/commands.flac repeated 20 times: 120 utterances), release build;
  * decision latency after the end of speech, not counting the endpointer's hangover: `latency_ms` of each decision
    (from the endpointer closing the utterance to the decision), median and p95, and the recogniser's own share;
  * steady-state resident memory: the peak RSS of that run (/usr/bin/time %M), and with --metrics-port;
  * start-up: wall time of `earshot run --audio` on 0.2 s of silence (load VAD + model, read, exit), median of 20;
  * the same 250 s through local-first routing with `earshot serve` on 127.0.0.1 as the cloud (latency of the
    decisions the cloud answered).

Usage: Benchmarks/runtime/run.py [path/to/earshot]   (default .build/release/earshot; build with `swift build -c release`)
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EARSHOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build/release/earshot"))


def timed(args, **kw):
    """Runs under /usr/bin/time; returns (stdout, wall s, cpu s, max RSS kB)."""
    out = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M"] + args, capture_output=True, text=True, check=True, **kw)
    wall, user, system, rss = out.stderr.strip().splitlines()[-1].split()
    return out.stdout, float(wall), float(user) + float(system), int(rss)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def paced(path, repeats, speed):
    """Feeds `path` (repeated) as raw 16 kHz PCM on stdin at `speed` × real time, as capture would; returns decisions."""
    raw = subprocess.run(["sox", path, "-t", "raw", "-e", "signed", "-b", "16", "-r", "16000", "-c", "1", "-"],
                         capture_output=True, check=True).stdout * repeats
    process = subprocess.Popen([EARSHOT, "run", "--stdin"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    chunk = 3_200                                   # 100 ms
    started = time.perf_counter()
    for i in range(0, len(raw), chunk):
        due = started + (i / 32_000) / speed
        if due > time.perf_counter():
            time.sleep(due - time.perf_counter())
        process.stdin.write(raw[i:i + chunk])
        process.stdin.flush()
    process.stdin.close()
    out = process.stdout.read().decode()
    process.wait()
    return [json.loads(line) for line in out.splitlines()]


def main():
    work = tempfile.mkdtemp(prefix="earshot-bench-")
    long = os.path.join(work, "long.flac")
    subprocess.run(["sox"] + [os.path.join(ROOT, "Demo/audio/commands.flac")] * 20 + [long], check=True)
    seconds = float(subprocess.run(["soxi", "-D", long], capture_output=True, text=True, check=True).stdout)
    silence = os.path.join(work, "silence.wav")
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", silence, "trim", "0", "0.2"], check=True)

    rows = []
    out, wall, cpu, rss = timed(["taskset", "-c", "0", EARSHOT, "run", "--audio", long])
    decisions = [json.loads(line) for line in out.splitlines()]
    latency = [d["latency_ms"] for d in decisions]
    recognise = [d["stages"]["recognize_ms"] for d in decisions]
    rows.append(("decisions", f"{len(decisions)} from {seconds:.1f} s of audio"))
    rows.append(("RTF, one core (CPU s / audio s)", f"{cpu / seconds:.4f}  (wall {wall / seconds:.4f})"))
    rows.append(("decision latency, file read at full speed (queue wait included), median / p95",
                 f"{statistics.median(latency):.2f} / {percentile(latency, 95):.2f} ms"))
    rows.append(("  of which recognition, median / p95", f"{statistics.median(recognise):.2f} / {percentile(recognise, 95):.2f} ms"))
    rows.append(("peak RSS", f"{rss / 1024:.1f} MB"))
    rows.append(("  a process that only prints --version (Swift runtime + Foundation + libraries)",
                 f"{timed([EARSHOT, '--version'])[3] / 1024:.1f} MB"))
    live = paced(os.path.join(ROOT, "Demo/audio/commands.flac"), repeats=4, speed=5)
    live_latency = [d["latency_ms"] for d in live]
    rows.append(("decision latency after end of speech, live (stdin paced at 5× real time), median / p95",
                 f"{statistics.median(live_latency):.2f} / {percentile(live_latency, 95):.2f} ms over {len(live)} decisions"))
    _, _, _, rss_metrics = timed(["taskset", "-c", "0", EARSHOT, "run", "--audio", long, "--metrics-port", "0"])
    rows.append(("peak RSS with --metrics-port", f"{rss_metrics / 1024:.1f} MB"))

    starts = []
    for _ in range(20):
        t0 = time.perf_counter()
        subprocess.run([EARSHOT, "run", "--audio", silence], capture_output=True, check=True)
        starts.append((time.perf_counter() - t0) * 1000)
    rows.append(("start-up to exit on 0.2 s of silence, median of 20", f"{statistics.median(starts):.1f} ms"))

    serve = subprocess.Popen([EARSHOT, "serve", "--port", "0"], stderr=subprocess.PIPE, text=True)
    line = serve.stderr.readline()
    port = int(line.split("127.0.0.1:")[1].split()[0])
    try:
        out, wall, cpu, _ = timed([EARSHOT, "run", "--audio", long, "--cloud-url", f"http://127.0.0.1:{port}/v1/audio/transcriptions"])
    finally:
        serve.terminate()
        serve.wait()
    routed = [json.loads(line) for line in out.splitlines()]
    cloud = [d["latency_ms"] for d in routed if d["source"] == "cloud"]
    agree = [d["local"]["agrees"] for d in routed if d.get("local")]
    rows.append(("local-first with earshot serve as the cloud", f"{len(cloud)} of {len(routed)} answered by the cloud, {sum(agree)} agreeing with local"))
    if cloud:
        rows.append(("  cloud-answered decision latency, median / p95", f"{statistics.median(cloud):.2f} / {percentile(cloud, 95):.2f} ms"))

    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
