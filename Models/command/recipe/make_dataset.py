#!/usr/bin/env python3
"""Synthesises command-en's training, validation and test sets and computes their features with Earshot's frontend.

Voices (whole engines and voices held out, so the test measures speakers never heard):
- train: espeak-ng, 7 accents × 8 variants, random speed and pitch; festival's three English voices (kal and ked
  diphones, slt HTS) at ten speeds each. Every training rendering is also warped by sox `speed` (0.9–1.1: pitch,
  formants and tempo together, a vocal-tract-length perturbation) so speakers between the voices are covered.
- validation (early stopping, temperature): espeak-ng variants f1, m2, m4 of three trained accents.
- test: every flite voice (kal, awb, rms, slt; an engine never trained on) at three speeds, and espeak-ng's
  Lancaster accent (never trained on). Festival's kal and slt are left out of training: they are flite's speakers.
Out-of-vocabulary words are split too: the test's unknown words are never heard in training.

Every clip follows Models/LABELLING.md (labelling.py): 1.000 s, speech centred ±100 ms with ≥ 50 ms margins, clean
speech at −20 dBFS before mixing, then noise (white, pink, brown, hum, fan, music, babble) at an SNR, a channel effect
and a level. Features come from `earshot features --clip-samples 16000` (30 ms window, 20 ms stride, 40 channels,
micro frontend tables, the frontend reset per clip as the runtime does per utterance): 49 × 40 per clip.

Usage: python3 Models/command/recipe/make_dataset.py [--out .build-command] [--earshot .build/release/earshot]
Seeds: train 11, validation 12, test 13. Never uses ../shared/fixtures.
"""
import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "Models", "vad", "recipe"))
import labelling as L  # noqa: E402
import synth  # noqa: E402  (noise generators and channel effects shared with the VAD recipe)

ESPEAK_TRAIN = [("espeak", f"{a}+{v}") for a in ["en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-us-nyc",
                                                   "en-gb-x-gbcwmd"]
                for v in ["m1", "m3", "m5", "m7", "f2", "f4", "f5", "croak"]]
FESTIVAL_TRAIN = [("festival", "ked_diphone"), ("festival", "kal_diphone"), ("festival", "cmu_us_slt_arctic_hts")]
VALIDATION = [("espeak", f"{a}+{v}") for a in ["en-us", "en-gb-scotland", "en-029"] for v in ["f1", "m2", "m4"]]
TEST_FLITE = [("flite", v) for v in ["kal", "awb", "rms", "slt"]]
TEST_ESPEAK = [("espeak", f"en-gb-x-gbclan+{v}") for v in ["f1", "m2", "m4"]]

# Homophones of vocabulary words are not "unknown": audio cannot tell "know" from "no" (LABELLING.md).
HOMOPHONES = {"know", "to", "too", "for", "won", "write", "ate", "owe", "four", "two", "one", "right", "no", "meter"}
NEAR_MISSES = ["goal", "tree", "free", "sex", "heaven", "nine", "fine", "nice", "yet", "yeah", "yellow", "stock", "stomp",
               "gone", "star", "stark", "council", "cancer", "repair", "neck", "text", "bat", "pack", "cup", "town",
               "lift", "light", "own", "stats", "health", "concern", "confine", "backyard", "sever", "hero", "wait",
               "boat", "soak", "onward", "award", "upward", "meet", "matter", "ok", "hello", "sorry", "pause"]
PHRASES = ["go home", "stop it", "turn left now", "next time", "come back here", "look up", "right away", "not yet",
           "yes please", "no thanks", "one more", "start over", "all done", "help me out", "press on"]


def oov_words():
    """Out-of-vocabulary words, split so the test's are never heard in training (every fifth word is test-only)."""
    vocab = set(L.VOCABULARY) | HOMOPHONES
    words = sorted({w for w in synth.WORDS + NEAR_MISSES if w not in vocab and L.normalise_transcript(w) not in vocab})
    test = words[::5]
    return [w for w in words if w not in test] + PHRASES[:10], test + PHRASES[10:]


def render(job):
    """One synthesised utterance: 16 kHz mono float in [-1, 1). An optional sixth field warps it with sox `speed`."""
    engine, voice, text, speed, pitch = job[:5]
    warp = job[5] if len(job) > 5 else 1.0
    with tempfile.TemporaryDirectory() as tmp:
        wav, raw = os.path.join(tmp, "s.wav"), os.path.join(tmp, "s.raw")
        if engine == "espeak":
            cmd = ["espeak-ng", "-v", voice, "-s", str(int(speed)), "-p", str(int(pitch)), "-w", wav, text]
        elif engine == "flite":
            cmd = ["flite", "-voice", voice, "--setf", f"duration_stretch={speed:.3f}", "-t", text, "-o", wav]
        else:
            script = os.path.join(tmp, "t.txt")
            open(script, "w").write(text)
            cmd = ["text2wave", "-eval", f"(voice_{voice})", "-eval", f"(Parameter.set 'Duration_Stretch {speed:.3f})",
                   script, "-o", wav]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["sox", "-V1", "-D", wav, "-r", str(L.RATE), "-c", "1", "-b", "16", "-e", "signed", "-t", "raw", raw]
                       + (["speed", f"{warp:.4f}"] if warp != 1.0 else []), check=True)
        return np.fromfile(raw, dtype="<i2").astype(np.float64) / 32768


def speech_span(x):
    """First and last sample of the speech by the labels' energy rule (10 ms blocks within 40 dB of the loudest)."""
    active = np.nonzero(synth.speech_labels(x, fill_gaps_ms=1000))[0]
    if len(active) == 0:
        return 0, len(x)
    return int(active[0] * synth.BLOCK), int(min(len(x), (active[-1] + 1) * synth.BLOCK))


def place(speech, rng):
    """The clean 1 s clip: speech trimmed, normalised to −20 dBFS active RMS and centred ±100 ms. Longer speech is
    cropped to the central part that leaves the margins. Returns (clip, cropped?)."""
    a, b = speech_span(speech)
    s = speech[a:b]
    s = s / (np.sqrt(np.mean(s ** 2)) + 1e-12) * 10 ** (L.SPEECH_LEVEL_DBFS / 20)
    room = L.CLIP_SAMPLES - 2 * L.MARGIN_SAMPLES
    cropped = len(s) > room
    if cropped:
        cut = (len(s) - room) // 2
        s = s[cut:cut + room]
    centre = L.CLIP_SAMPLES // 2 + int(rng.integers(-L.JITTER_SAMPLES, L.JITTER_SAMPLES + 1))
    start = int(np.clip(centre - len(s) // 2, L.MARGIN_SAMPLES, L.CLIP_SAMPLES - L.MARGIN_SAMPLES - len(s)))
    clip = np.zeros(L.CLIP_SAMPLES)
    clip[start:start + len(s)] = s
    return clip, cropped


def mix(clean, rng, kind, snr, level, channel_kind, babble_pool):
    """Noise at `snr` dB below the speech (or alone), a channel effect, then the speech's level set to `level` dBFS
    (noise-only clips: the noise's level). Works for any clip length."""
    n = len(clean)
    babble = None
    if kind == "babble":
        babble = sum(np.roll(np.resize(babble_pool[int(rng.integers(len(babble_pool)))], n), int(rng.integers(n)))
                     for _ in range(3))
    background = synth.noise(kind, n, rng, babble) * 10 ** (L.SPEECH_LEVEL_DBFS / 20)
    has_speech = np.any(clean)
    x = clean + background * 10 ** (-snr / 20) if has_speech else background
    x = synth.channel(x, rng, channel_kind)
    if has_speech:
        active = clean != 0
        reference = np.sqrt(np.mean(clean[active] ** 2))
    else:
        reference = np.sqrt(np.mean(x ** 2)) + 1e-12
    x = x / reference * 10 ** (level / 20)
    return np.clip(np.round(x * 32768), -32768, 32767).astype("<i2")


def babble_pool(rng, voices, count, pool):
    jobs = [(*voices[int(rng.integers(len(voices)))], synth.sentence(rng, (8, 16)), 175, 50) for _ in range(count)]
    return [s / (np.sqrt(np.mean(s ** 2)) + 1e-12) for s in pool.map(render, jobs)]


def espeak_job(rng, voice, text):
    return (*voice, text, int(rng.integers(140, 201)), int(rng.integers(30, 71)))


def warped(rng, job):
    return (*job, float(rng.uniform(0.9, 1.1)))


def build_train(rng, pool, train_oov, renders_per_voice, mixes):
    """Every word by every espeak voice (`renders_per_voice` each) and by each festival voice at ten speeds; unknown
    speech by random training voices; every rendering warped."""
    jobs, labels = [], []
    for word in L.VOCABULARY:
        for voice in ESPEAK_TRAIN:
            for _ in range(renders_per_voice):
                jobs.append(warped(rng, espeak_job(rng, voice, word))); labels.append(word)
        for voice in FESTIVAL_TRAIN:
            for stretch in np.linspace(0.8, 1.3, 10):
                jobs.append(warped(rng, (*voice, word, float(stretch), 0))); labels.append(word)
    voices = ESPEAK_TRAIN + FESTIVAL_TRAIN * 8
    for k in range(len(L.VOCABULARY) * 50):
        text = train_oov[k % len(train_oov)]
        voice = voices[int(rng.integers(len(voices)))]
        job = espeak_job(rng, voice, text) if voice[0] == "espeak" else (*voice, text, float(rng.uniform(0.8, 1.3)), 0)
        jobs.append(warped(rng, job)); labels.append(L.command_label(text))
    return jobs, labels, [mixes if lab != "unknown" else max(1, mixes - 1) for lab in labels]


def conditions_random(rng):
    kind = synth.NOISES[int(rng.integers(len(synth.NOISES)))]
    snr = float(rng.uniform(-5, 30)) if rng.random() < 0.85 else 60.0
    channel_kind = str(rng.choice(["none", "none", "none", "bandlimit", "resonance", "clip", "reverb"]))
    return kind, snr, float(rng.uniform(*L.LEVEL_RANGE_DBFS)), channel_kind


def assemble(rng, rendered, labels, texts, voices, mixes, pool_audio, fixed=None):
    """Clips and facts from rendered speech: each rendering mixed `mixes[i]` times (random conditions, or the fixed
    SNR grid for the test set)."""
    clips, facts = [], []
    for i, (speech, label) in enumerate(zip(rendered, labels)):
        clean, cropped = place(speech, rng)
        grid = fixed(i) if fixed else [conditions_random(rng) for _ in range(mixes[i])]
        for kind, snr, level, channel_kind in grid:
            clips.append(mix(clean, rng, kind, snr, level, channel_kind, pool_audio))
            facts.append({"label": label, "text": texts[i], "engine": voices[i][0], "voice": voices[i][1], "noise": kind,
                          "snr": snr, "level_db": round(level, 2), "channel": channel_kind, "cropped": bool(cropped)})
    return clips, facts


def silence_clips(rng, count, pool_audio, test=False):
    clips, facts = [], []
    empty = np.zeros(L.CLIP_SAMPLES)
    for i in range(count):
        kind = synth.NOISES[i % len(synth.NOISES)] if test else synth.NOISES[int(rng.integers(len(synth.NOISES)))]
        level = float(rng.uniform(-70, -15))
        channel_kind = "none" if test else str(rng.choice(["none", "none", "bandlimit", "resonance", "reverb"]))
        clips.append(mix(empty, rng, kind, 0.0, level, channel_kind, pool_audio))
        facts.append({"label": "silence", "text": "", "engine": "", "voice": "", "noise": kind, "snr": None,
                      "level_db": round(level, 2), "channel": channel_kind, "cropped": False})
    return clips, facts


def features(clips, out, name, earshot):
    path = os.path.join(out, f"{name}.wav")
    with wave.open(path, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(L.RATE)
        w.writeframes(np.concatenate(clips).astype("<i2").tobytes())
    raw = subprocess.run([earshot, "features", path, "--clip-samples", str(L.CLIP_SAMPLES), "--window-ms", "30",
                          "--stride-ms", "20", "--channels", "40", "--tables", "microFrontend", "--format", "raw"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<u2").reshape(len(clips), -1, 40)


def save(out, name, clips, facts, earshot):
    for f in facts:
        L.check_label(f["label"])
    np.save(os.path.join(out, f"{name}_features.npy"), features(clips, out, name, earshot))
    json.dump(facts, open(os.path.join(out, f"{name}_facts.json"), "w"))
    counts = {}
    for f in facts:
        counts[f["label"]] = counts.get(f["label"], 0) + 1
    print(f"{name}: {len(clips)} clips ({len(clips) / 3600:.2f} h); cropped {np.mean([f['cropped'] for f in facts]):.1%}; "
          f"per label min {min(counts.values())} max {max(counts.values())}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(ROOT, ".build-command"))
    parser.add_argument("--earshot", default=os.path.join(ROOT, ".build", "release", "earshot"))
    parser.add_argument("--renders-per-voice", type=int, default=1)
    parser.add_argument("--mixes", type=int, default=4)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    train_oov, test_oov = oov_words()
    with multiprocessing.Pool(2) as pool:
        # Training.
        rng = np.random.default_rng(11)
        jobs, labels, mixes = build_train(rng, pool, train_oov, args.renders_per_voice, args.mixes)
        rendered = pool.map(render, jobs, chunksize=16)
        babble = babble_pool(rng, ESPEAK_TRAIN + FESTIVAL_TRAIN * 8, 40, pool)
        clips, facts = assemble(rng, rendered, labels, [j[2] for j in jobs], jobs, mixes, babble)
        c, f = silence_clips(rng, 1500, babble)
        save(args.out, "train", clips + c, facts + f, args.earshot)

        # Validation: unseen espeak variants of trained accents, random conditions.
        rng = np.random.default_rng(12)
        jobs, labels = [], []
        for word in L.VOCABULARY:
            for voice in VALIDATION:
                jobs.append(espeak_job(rng, voice, word)); labels.append(word)
        for k in range(300):
            text = train_oov[int(rng.integers(len(train_oov)))]
            jobs.append(espeak_job(rng, VALIDATION[int(rng.integers(len(VALIDATION)))], text)); labels.append(L.command_label(text))
        rendered = pool.map(render, jobs, chunksize=16)
        babble = babble_pool(rng, VALIDATION, 20, pool)
        clips, facts = assemble(rng, rendered, labels, [j[2] for j in jobs], jobs, [2] * len(jobs), babble)
        c, f = silence_clips(rng, 200, babble)
        save(args.out, "validation", clips + c, facts + f, args.earshot)

        # Test: held-out engines and voices; every rendering clean and at 20, 10, 5, 0 dB (noise type rotating).
        rng = np.random.default_rng(13)
        jobs, labels = [], []
        for word in L.VOCABULARY:
            for voice in TEST_FLITE:
                for stretch in (0.9, 1.0, 1.15):
                    jobs.append((*voice, word, stretch, 0)); labels.append(word)
            for voice in TEST_ESPEAK:
                for _ in range(2):
                    jobs.append(espeak_job(rng, voice, word)); labels.append(word)
        for k, text in enumerate(test_oov * 4):
            voice = (TEST_FLITE + TEST_ESPEAK)[k % 7]
            jobs.append((*voice, text, 1.0, 0) if voice[0] == "flite" else espeak_job(rng, voice, text))
            labels.append(L.command_label(text))
        rendered = pool.map(render, jobs, chunksize=16)
        babble = babble_pool(rng, TEST_FLITE + TEST_ESPEAK, 20, pool)
        def grid(i):
            level = float(rng.uniform(-35, -15))
            return [("white", 60.0, level, "none")] + [(synth.NOISES[(i + j) % len(synth.NOISES)], snr, level, "none")
                                                        for j, snr in enumerate((20.0, 10.0, 5.0, 0.0))]
        clips, facts = assemble(rng, rendered, labels, [j[2] for j in jobs], jobs, None, babble, fixed=grid)
        c, f = silence_clips(rng, 280, babble, test=True)
        save(args.out, "test", clips + c, facts + f, args.earshot)


if __name__ == "__main__":
    sys.exit(main())
