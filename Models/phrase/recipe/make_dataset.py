#!/usr/bin/env python3
"""Synthesises phrase-en's training, validation and test sets: spoken phrases over a fixed word inventory, with their
word sequences, and computes their features with Earshot's frontend.

The phrases come from templates that field technicians use ("go forward ten meters", "turn left thirty degrees",
digit strings such as "two nine three four zero") and from random word sequences over the whole inventory, so the
model learns words, not templates, and any grammar over its words can be decoded without retraining.

Voices: train on the command recipe's espeak-ng voices and festival's ked_diphone (weighted ×6); validate on
held-out espeak variants; test on every flite voice and espeak-ng's Lancaster accent (as command-en). phrase-en
0.1.0 was trained before command-en's recipe added festival's kal and slt and the sox `speed` warp; its own voice
list is pinned here so this recipe reproduces it. Clips are 4.000 s: the
phrase's speech starts 0.1–0.4 s in, the rest is the recording's own background. Labels follow Models/LABELLING.md.

Usage: python3 Models/phrase/recipe/make_dataset.py [--out .build-phrase] [--earshot .build/release/earshot]
Seeds: train 21, validation 22, test 23. Never uses ../shared/fixtures.
"""
import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "Models", "command", "recipe"))
sys.path.insert(0, os.path.join(ROOT, "Models", "vad", "recipe"))
import labelling as L  # noqa: E402
import synth  # noqa: E402


def _command_recipe():
    """Models/command/recipe/make_dataset.py by path (the VAD recipe has a module of the same name)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("command_make_dataset", os.path.join(ROOT, "Models", "command", "recipe", "make_dataset.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # so worker processes can unpickle its functions
    spec.loader.exec_module(module)
    return module


C = _command_recipe()  # rendering, voices, mixing

CLIP_SAMPLES = 64000
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
EXTRA = ["hundred", "meter", "turn", "move", "degrees", "point", "percent", "set"]
INVENTORY = L.VOCABULARY + TEENS + TENS + EXTRA          # 58 words; CTC output 0 is the blank
DIGITS = L.VOCABULARY[:10]


def number(rng):
    n = int(rng.integers(1, 100)) if rng.random() < 0.85 else int(rng.integers(1, 10)) * 100
    return L.number_words(n)


def phrase(rng):
    """One phrase's text (already in the labelling convention)."""
    r = rng.random()
    if r < 0.25:
        verb = rng.choice(["go", "move"])
        unit = rng.choice(["meters", "meters", "meter", ""])
        return " ".join(w for w in [verb, rng.choice(["forward", "backward", "up", "down", "left", "right", "back"]), number(rng), unit] if w)
    if r < 0.40:
        return f"turn {rng.choice(['left', 'right'])} {number(rng)} degrees"
    if r < 0.60:
        return " ".join(rng.choice(DIGITS + ["oh"], int(rng.integers(2, 7))))
    if r < 0.70:
        return f"set {rng.choice(['up', 'down', 'status'])} {number(rng)} {rng.choice(['percent', 'point five', ''])}".strip()
    if r < 0.78:
        return str(rng.choice(L.VOCABULARY))
    return " ".join(rng.choice(INVENTORY, int(rng.integers(1, 6))))


FESTIVAL_TRAIN = [("festival", "ked_diphone")]


def jobs_for(rng, voices, count, flite_stretch=False, warp=False):
    jobs = []
    for k in range(count):
        text = L.normalise_transcript(phrase(rng))
        voice = voices[int(rng.integers(len(voices)))] if not flite_stretch else voices[k % len(voices)]
        if voice[0] == "espeak":
            job = C.espeak_job(rng, voice, text)
        else:
            job = (*voice, text, float(rng.choice([0.9, 1.0, 1.15])) if voice[0] == "flite" else float(rng.uniform(0.85, 1.25)), 0)
        jobs.append(C.warped(rng, job) if warp else job)
    return jobs


def place(speech, rng):
    """4 s clean clip: speech trimmed, −20 dBFS active RMS, starting 0.1–0.4 s in; longer speech is cut (and flagged)."""
    a, b = C.speech_span(speech)
    s = speech[a:b]
    s = s / (np.sqrt(np.mean(s ** 2)) + 1e-12) * 10 ** (L.SPEECH_LEVEL_DBFS / 20)
    start = int(rng.integers(1600, 6401))
    cut = len(s) > CLIP_SAMPLES - start - 800
    s = s[:CLIP_SAMPLES - start - 800]
    clip = np.zeros(CLIP_SAMPLES)
    clip[start:start + len(s)] = s
    return clip, cut


def build(rng, jobs, rendered, pool_audio, conditions):
    clips, facts = [], []
    for job, speech in zip(jobs, rendered):
        clean, cut = place(speech, rng)
        for kind, snr, level, channel_kind in conditions(rng):
            clips.append(C.mix(clean, rng, kind, snr, level, channel_kind, pool_audio))
            facts.append({"text": job[2], "engine": job[0], "voice": job[1], "noise": kind, "snr": snr,
                          "level_db": round(level, 2), "channel": channel_kind, "cut": bool(cut)})
    return clips, facts


def features(clips, out, name, earshot):
    path = os.path.join(out, f"{name}.wav")
    with wave.open(path, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(L.RATE)
        for c in clips:
            w.writeframes(c.astype("<i2").tobytes())
    raw = subprocess.run([earshot, "features", path, "--clip-samples", str(CLIP_SAMPLES), "--window-ms", "30",
                          "--stride-ms", "20", "--channels", "40", "--tables", "microFrontend", "--format", "raw"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<u2").reshape(len(clips), -1, 40)


def save(out, name, clips, facts, earshot):
    for f in facts:
        assert f["text"] == L.normalise_transcript(f["text"]) and all(w in INVENTORY for w in f["text"].split()), f["text"]
    np.save(os.path.join(out, f"{name}_features.npy"), features(clips, out, name, earshot))
    json.dump(facts, open(os.path.join(out, f"{name}_facts.json"), "w"))
    print(f"{name}: {len(clips)} clips ({len(clips) * 4 / 3600:.2f} h); cut {np.mean([f['cut'] for f in facts]):.1%}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(ROOT, ".build-phrase"))
    parser.add_argument("--earshot", default=os.path.join(ROOT, ".build", "release", "earshot"))
    parser.add_argument("--train", type=int, default=7000)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with multiprocessing.Pool(2) as pool:
        rng = np.random.default_rng(21)
        jobs = jobs_for(rng, C.ESPEAK_TRAIN + FESTIVAL_TRAIN * 6, args.train)
        rendered = pool.map(C.render, jobs, chunksize=16)
        babble = C.babble_pool(rng, C.ESPEAK_TRAIN + FESTIVAL_TRAIN, 40, pool)
        clips, facts = build(rng, jobs, rendered, babble, lambda r: [C.conditions_random(r)])
        save(args.out, "train", clips, facts, args.earshot)

        rng = np.random.default_rng(22)
        jobs = jobs_for(rng, C.VALIDATION, 500)
        rendered = pool.map(C.render, jobs, chunksize=16)
        babble = C.babble_pool(rng, C.VALIDATION, 20, pool)
        clips, facts = build(rng, jobs, rendered, babble, lambda r: [C.conditions_random(r)])
        save(args.out, "validation", clips, facts, args.earshot)

        rng = np.random.default_rng(23)
        jobs = jobs_for(rng, C.TEST_FLITE + C.TEST_ESPEAK, 420, flite_stretch=True)
        rendered = pool.map(C.render, jobs, chunksize=16)
        babble = C.babble_pool(rng, C.TEST_FLITE + C.TEST_ESPEAK, 20, pool)
        counter = iter(range(10 ** 9))
        def grid(r):
            i, level = next(counter), float(r.uniform(-35, -15))
            return [("white", 60.0, level, "none"), (synth.NOISES[i % len(synth.NOISES)], 10.0, level, "none")]
        clips, facts = build(rng, jobs, rendered, babble, grid)
        save(args.out, "test", clips, facts, args.earshot)


if __name__ == "__main__":
    sys.exit(main())
