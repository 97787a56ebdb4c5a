#!/usr/bin/env python3
"""The cloud teacher against Earshot's local models, side by side in one run of one `earshot serve`.

Accuracy by slice and real-time factor of PocketSphinx (grammar mode over the command vocabulary) and command-en on
the held-out command clips (Models/command/heldout: voices and noises no model here was trained on), of
PocketSphinx's goforward grammar and phrase-en on the fixture, and PocketSphinx dictation on the LibriVox readings.
RTF is the client-side time per request (loopback HTTP included) over the clip's duration.

Usage: python3 Benchmarks/teacher/run.py [path/to/release/bin]    (make bench-teacher)
"""
import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
import wave

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.environ.get("EARSHOT_FIXTURES", os.path.join(ROOT, "..", "shared", "fixtures"))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "release")


def wav(pcm: bytes) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm)
    return buffer.getvalue()


def post(base: str, audio: bytes, model: str) -> tuple[str, float]:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n{model}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n').encode() + audio + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(base + "/v1/audio/transcriptions", data=body,
                                     headers={"Content-Type": "multipart/form-data; boundary=" + boundary})
    started = time.perf_counter()
    answer = json.load(urllib.request.urlopen(request))
    return answer["text"], time.perf_counter() - started


def word_errors(reference: str, hypothesis: str) -> int:
    r, h = reference.split(), hypothesis.split()
    row = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        nxt = [i] + [0] * len(h)
        for j in range(1, len(h) + 1):
            nxt[j] = min(row[j] + 1, nxt[j - 1] + 1, row[j - 1] + (r[i - 1] != h[j - 1]))
        row = nxt
    return row[len(h)]


def main() -> None:
    server = subprocess.Popen([os.path.join(BIN, "earshot"), "serve", "--port", "0", "--model", os.path.join(ROOT, "Models/command/command-en"),
                               "--model", os.path.join(ROOT, "Models/phrase/phrase-en"), "--grammar", os.path.join(FIXTURES, "pocketsphinx/goforward.gram"),
                               "--pocketsphinx", "--pocketsphinx-commands", "--pocketsphinx-grammar", os.path.join(FIXTURES, "pocketsphinx/goforward.gram")],
                              stderr=subprocess.PIPE, text=True)
    banner = server.stderr.readline()
    port = re.search(r"127\.0\.0\.1:(\d+)", banner).group(1)
    base = f"http://127.0.0.1:{port}"
    try:
        heldout = json.load(open(os.path.join(ROOT, "Models/command/heldout/heldout.json")))
        n = heldout["clip_samples"]
        raw = subprocess.run(["sox", os.path.join(ROOT, "Models/command/heldout/clips.flac"), "-t", "raw", "-e", "signed", "-b", "16", "-c", "1",
                              "-r", "16000", "-"], capture_output=True, check=True).stdout
        rows = {}
        for model in ("command-en", "pocketsphinx:commands"):
            for i, clip in enumerate(heldout["clips"]):
                if clip["label"] in ("unknown", "silence"):
                    continue
                text, seconds = post(base, wav(raw[i * n * 2:(i + 1) * n * 2]), model)
                slice_ = f'{clip["engine"]} {"clean" if clip["snr"] == 60 else "%d dB %s" % (clip["snr"], "noise")}'
                row = rows.setdefault((model, slice_), [0, 0, 0.0])
                row[0] += text == clip["label"]
                row[1] += 1
                row[2] += seconds
        print("| model | slice | right | accuracy | RTF (request time ÷ 1 s clip) |")
        print("|---|---|---:|---:|---:|")
        for (model, slice_), (right, total, seconds) in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            print(f"| {model} | {slice_} | {right}/{total} | {100 * right / total:.0f} % | {seconds / total / (n / 16000):.4f} |")
        goforward = open(os.path.join(FIXTURES, "pocketsphinx/goforward.raw"), "rb").read()
        print()
        print("| engine | clip | answer | RTF |")
        print("|---|---|---|---:|")
        for model in ("phrase-en", "pocketsphinx:goforward"):
            text, seconds = post(base, wav(goforward), model)
            print(f"| {model} | goforward (\"go forward ten meters\") | {text} | {seconds / (len(goforward) / 32000):.4f} |")
        errors = words = 0
        total_seconds = audio_seconds = 0.0
        for clip, reference in (("0880", "he was not an ill disposed young man"), ("0930", "he might even have been made amiable himself")):
            path = os.path.join(FIXTURES, f"pocketsphinx/sense_and_sensibility_01_austen_64kb-{clip}.wav")
            with wave.open(path) as w:
                duration = w.getnframes() / w.getframerate()
            text, seconds = post(base, open(path, "rb").read(), "pocketsphinx")
            audio_seconds += duration
            total_seconds += seconds
            errors += word_errors(reference, text)
            words += len(reference.split())
            print(f"| pocketsphinx (dictation) | LibriVox {clip} | {text} | {seconds / duration:.4f} |")
        print(f"\ndictation WER on the two LibriVox readings: {errors}/{words} = {100 * errors / words:.0f} %; RTF {total_seconds / audio_seconds:.3f}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
