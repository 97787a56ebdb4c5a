#!/usr/bin/env python3
"""Synthesises the VAD's training and evaluation sets and computes their features with Earshot's own frontend.

Training: espeak-ng voices (TRAIN_VOICES), seed 1. Evaluation: flite voices and other espeak variants (TEST_VOICES),
seed 2, at fixed SNRs per noise type. Never uses ../shared/fixtures. Features come from `earshot features`
(30 ms window, 10 ms stride, 40 channels, C micro frontend tables), so training sees exactly what Earshot computes.

Usage: python3 Models/vad/recipe/make_dataset.py [--train-scenes 600] [--out .build-vad]
"""
import argparse
import json
import os
import subprocess
import sys
import wave

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import synth  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def features(samples, out_dir, name, earshot):
    """Earshot's frontend over one long stream: frames × 40 uint16, frame k covering samples [160k, 160k + 480)."""
    path = os.path.join(out_dir, f"{name}.wav")
    with wave.open(path, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(synth.RATE)
        w.writeframes(samples.astype("<i2").tobytes())
    raw = subprocess.run([earshot, "features", path, "--stride-ms", "10", "--tables", "microFrontend", "--format", "raw"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<u2").reshape(-1, 40)


def build(rng, voices, scenes, babble_voices, fixed=None):
    streams, labels, facts = [], [], []
    for i in range(scenes):
        kwargs = fixed(i) if fixed else {}
        samples, lab, fact = synth.scene(rng, voices, babble_voices=babble_voices, **kwargs)
        streams.append(samples); labels.append(lab); facts.append({**fact, "blocks": len(lab)})
    return np.concatenate(streams), np.concatenate(labels), facts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-scenes", type=int, default=600)
    parser.add_argument("--out", default=os.path.join(ROOT, ".build-vad"))
    parser.add_argument("--earshot", default=os.path.join(ROOT, ".build", "release", "earshot"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    train_rng = np.random.default_rng(1)
    samples, labels, facts = build(train_rng, synth.TRAIN_VOICES, args.train_scenes, synth.TRAIN_VOICES)
    np.save(os.path.join(args.out, "train_features.npy"), features(samples, args.out, "train", args.earshot))
    np.save(os.path.join(args.out, "train_labels.npy"), labels)
    json.dump(facts, open(os.path.join(args.out, "train_facts.json"), "w"))
    print(f"train: {len(labels)} blocks, speech {labels.mean():.2%}")

    # Evaluation: every noise type × SNR {clean, 20, 10, 5, 0} with held-out voices, plus noise-only scenes.
    test_rng = np.random.default_rng(2)
    grid = [(kind, snr) for kind in synth.NOISES for snr in (60.0, 20.0, 10.0, 5.0, 0.0)]
    def fixed(i):
        kind, snr = grid[i % len(grid)]
        return {"noise_kind": kind, "snr": snr, "speech_probability": 1.0, "channel_kind": "none", "level_db": -26.0}
    samples, labels, facts = build(test_rng, synth.TEST_VOICES, len(grid) * 2, synth.TEST_VOICES, fixed)
    def noise_only(i):
        return {"noise_kind": synth.NOISES[i % len(synth.NOISES)], "speech_probability": 0.0, "channel_kind": "none",
                "level_db": float(test_rng.uniform(-40, -15))}
    n_samples, n_labels, n_facts = build(test_rng, synth.TEST_VOICES, len(synth.NOISES) * 2, synth.TEST_VOICES, noise_only)
    samples = np.concatenate([samples, n_samples]); labels = np.concatenate([labels, n_labels]); facts += n_facts
    np.save(os.path.join(args.out, "test_features.npy"), features(samples, args.out, "test", args.earshot))
    np.save(os.path.join(args.out, "test_labels.npy"), labels)
    json.dump(facts, open(os.path.join(args.out, "test_facts.json"), "w"))
    print(f"test: {len(labels)} blocks, speech {labels.mean():.2%}")


if __name__ == "__main__":
    sys.exit(main())
