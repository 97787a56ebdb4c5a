#!/usr/bin/env python3
"""Adds a fleet export (`earshot-collector export --for-training`) to command-en's dataset, next to the synthesised
splits: `deployment_train` and `deployment_test`, split by device (never by clip), so the test speakers and
microphones are ones training never heard.

Each clip is the utterance a device kept (real voice, real room, real microphone). Labels follow Models/LABELLING.md:
the export's best label (technician correction > confirmation > cloud teacher > local model) goes through
`labelling.command_label`, so anything outside the vocabulary is `unknown`. The clip is cut to 1.000 s around its
loudest speech (speech centred, ≥ 50 ms margins; longer speech cropped to the centre) and keeps its real level and
background: padding is the clip's own noise floor, not digital silence. Features come from `earshot features`, as for
the synthetic splits.

Usage: python3 Models/command/recipe/deployment.py --export DIR [--out .build-command] [--earshot .build/release/earshot]
       [--test-share 0.25 | --test-devices A,B] [--min-confidence 0] [--seed 17]
Then: python3 Models/command/recipe/train.py --deployment-weight 3   (deployment clips weigh 3× a synthetic clip)
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, HERE)
import labelling as L  # noqa: E402


def decode(path):
    """A FLAC clip as float samples in [-1, 1) at 16 kHz mono (sox)."""
    raw = subprocess.run(["sox", path, "-t", "raw", "-e", "signed", "-b", "16", "-c", "1", "-r", str(L.RATE), "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768


def cut(audio, rng):
    """The 1 s clip: the span of blocks within 30 dB of the loudest 10 ms block, centred (±100 ms jitter), cropped
    to leave the margins, padded with noise at the clip's own floor. Returns (clip, cropped?)."""
    block = L.RATE // 100
    blocks = max(1, len(audio) // block)
    energy = np.array([np.mean(audio[i * block:(i + 1) * block] ** 2) + 1e-12 for i in range(blocks)])
    db = 10 * np.log10(energy)
    active = np.nonzero(db > db.max() - 30)[0]
    a, b = int(active[0]) * block, min(len(audio), (int(active[-1]) + 1) * block)
    speech = audio[a:b]
    room = L.CLIP_SAMPLES - 2 * L.MARGIN_SAMPLES
    cropped = len(speech) > room
    if cropped:
        start = (len(speech) - room) // 2
        speech = speech[start:start + room]
    floor = float(np.sqrt(np.percentile(energy, 10)))
    clip = rng.normal(0, floor, L.CLIP_SAMPLES)
    centre = L.CLIP_SAMPLES // 2 + int(rng.integers(-L.JITTER_SAMPLES, L.JITTER_SAMPLES + 1))
    start = int(np.clip(centre - len(speech) // 2, L.MARGIN_SAMPLES, L.CLIP_SAMPLES - L.MARGIN_SAMPLES - len(speech)))
    clip[start:start + len(speech)] = speech
    return np.clip(clip, -1, 32767 / 32768), cropped


def held_out(devices, share, seed):
    """The devices whose clips are test data: a fixed hash order, at least one when there are two or more."""
    order = sorted(devices, key=lambda d: hashlib.sha256(f"{seed}|{d}".encode()).hexdigest())
    count = int(round(share * len(order)))
    if len(order) >= 2:
        count = min(max(count, 1), len(order) - 1)
    return set(order[:count])


def features(clips, out, name, earshot):
    import wave
    path = os.path.join(out, f"{name}.wav")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(L.RATE)
        w.writeframes((np.concatenate(clips) * 32768).round().clip(-32768, 32767).astype("<i2").tobytes())
    raw = subprocess.run([earshot, "features", path, "--clip-samples", str(L.CLIP_SAMPLES), "--window-ms", "30", "--stride-ms", "20",
                          "--channels", "40", "--tables", "microFrontend", "--format", "raw"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<u2").reshape(len(clips), -1, 40)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--export", required=True, help="a directory written by earshot-collector export --for-training")
    parser.add_argument("--out", default=os.path.join(ROOT, ".build-command"))
    parser.add_argument("--earshot", default=os.path.join(ROOT, ".build", "release", "earshot"))
    parser.add_argument("--test-share", type=float, default=0.25, help="share of devices held out for testing")
    parser.add_argument("--test-devices", help="comma-separated devices to hold out instead of a hashed --test-share")
    parser.add_argument("--min-confidence", type=float, default=0.0, help="leave out labels less confident than this")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    items = [json.loads(line) for line in open(os.path.join(args.export, "manifest.jsonl")) if line.strip()]
    if not items:
        sys.exit(f"{args.export}/manifest.jsonl holds no clips")
    test_devices = set(args.test_devices.split(",")) if args.test_devices else held_out({i["device"] for i in items}, args.test_share, args.seed)
    rng = np.random.default_rng(args.seed)
    splits = {"deployment_train": ([], []), "deployment_test": ([], [])}
    skipped = 0
    for item in items:
        if item["confidence"] < args.min_confidence:
            skipped += 1
            continue
        label = L.command_label(item["label"])
        L.check_label(label)
        clip, cropped = cut(decode(os.path.join(args.export, item["clip"])), rng)
        split = "deployment_test" if item["device"] in test_devices else "deployment_train"
        splits[split][0].append(clip)
        splits[split][1].append({"label": label, "text": item["label"], "provenance": item["provenance"], "confidence": item["confidence"],
                                 "device": item["device"], "site": item.get("site"), "hardware": item.get("hardware"),
                                 "utterance": item["utterance"], "cropped": bool(cropped), "engine": "deployment", "snr": None})
    os.makedirs(args.out, exist_ok=True)
    for name, (clips, facts) in splits.items():
        if clips:
            np.save(os.path.join(args.out, f"{name}_features.npy"), features(clips, args.out, name, args.earshot))
        else:
            np.save(os.path.join(args.out, f"{name}_features.npy"), np.zeros((0, 49, 40), dtype="<u2"))
        json.dump(facts, open(os.path.join(args.out, f"{name}_facts.json"), "w"))
        devices = sorted({f["device"] for f in facts})
        print(f"{name}: {len(clips)} clips from {len(devices)} devices ({', '.join(devices)})", flush=True)
    if skipped:
        print(f"left out {skipped} clips below confidence {args.min_confidence}", flush=True)


if __name__ == "__main__":
    main()
