"""What a simulated fleet hears, before and after its population changes (seeded, deterministic).

- **before** (the population command-en 0.1.0 was trained for): espeak-ng voices of its training set, a quiet room
  (pink noise at 25–30 dB SNR), speech at −26 dBFS, the usual microphone.
- **after** (the new operators): flite voices (an engine v1 never heard) with each device's own pitch shift and
  tempo, a cheap headset microphone (bass cut below 250 Hz, a 2.5 kHz presence peak, nothing above 5.5 kHz: a
  response v1 never trained on),
  machinery noise (fan, brown, hum) at 12–20 dB SNR, speech at −32 dBFS. Held-out devices also hear the real recorded
  "yes" and "no" of ../shared/fixtures/tflm-micro-speech (evaluation only: held-out devices are never trained on).

Each device and phase is one recording: background noise throughout, utterances 1.2–1.8 s apart, and a truth file
with every utterance's label and its speech span in seconds. A replay set of 1 s clips in the style of the v1 recipe
(training voices, out-of-vocabulary words, noise-only) keeps the classes deployment traffic never shows.
"""
import os
import subprocess
import sys
import wave

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "Models", "vad", "recipe"))
sys.path.insert(0, os.path.join(ROOT, "Models", "command", "recipe"))     # first: the VAD recipe has a make_dataset too
import labelling as L  # noqa: E402
import make_dataset as D  # noqa: E402
import synth  # noqa: E402

FIXTURES = os.environ.get("EARSHOT_FIXTURES", os.path.join(ROOT, "..", "shared", "fixtures"))
BEFORE_VOICES = [v for v in D.ESPEAK_TRAIN if v[1].split("+")[0] in ("en-us", "en-gb", "en-029")]
AFTER_VOICES = ["kal", "awb", "rms", "slt"]
HEADSET = ["highpass", "250", "equalizer", "2500", "1q", "6", "lowpass", "5500"]


def device_profile(index, seed):
    """The speaker and room of device `index` after the shift: a flite voice, a pitch shift, a tempo, a noise."""
    rng = np.random.default_rng([seed, index, 1])
    return {"voice": AFTER_VOICES[index % len(AFTER_VOICES)], "cents": int(rng.integers(-250, 251)),
            "stretch": float(rng.uniform(0.9, 1.2)), "noise": ["fan", "brown", "hum"][index % 3]}


def sox_effects(x, effects):
    raw = (np.clip(x, -1, 32767 / 32768) * 32768).round().astype("<i2").tobytes()
    fmt = ["-t", "raw", "-r", str(L.RATE), "-e", "signed", "-b", "16", "-c", "1"]
    out = subprocess.run(["sox", "-V1", "-D", *fmt, "-", *fmt, "-", *effects], input=raw, capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<i2").astype(np.float64) / 32768


def trimmed(speech):
    a, b = D.speech_span(speech)
    s = speech[a:b]
    return s / (np.sqrt(np.mean(s ** 2)) + 1e-12) * 10 ** (L.SPEECH_LEVEL_DBFS / 20)


def fixture_word(name):
    with wave.open(os.path.join(FIXTURES, "tflm-micro-speech", name)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768
    return trimmed(x)


def utterances(phase, index, words, seed, pool, held_out):
    """(label, clean speech at −20 dBFS) for one device and phase ("before", or any name for the new population:
    "after", "rollout-1", "eval"…, each its own seed); rendering runs on `pool`."""
    rng = np.random.default_rng([seed, index, sum(map(ord, phase))])
    labels = [L.VOCABULARY[(index * 7 + k * 5) % len(L.VOCABULARY)] for k in range(words)]
    rng.shuffle(labels)
    p = device_profile(index, seed)
    if phase == "before":
        jobs = [D.espeak_job(rng, BEFORE_VOICES[int(rng.integers(len(BEFORE_VOICES)))], w) for w in labels]
    else:
        jobs = [("flite", p["voice"], w, p["stretch"] * float(rng.uniform(0.95, 1.05)), 0) for w in labels]
    speech = [trimmed(s) for s in pool.map(D.render, jobs)]
    if phase != "before":
        speech = [trimmed(sox_effects(s, ["pitch", str(p["cents"])])) for s in speech]
        if held_out:
            for name, label in (("yes_1000ms.wav", "yes"), ("no_1000ms.wav", "no")):
                labels.append(label)
                speech.append(fixture_word(name))
    return list(zip(labels, speech))


def recording(phase, index, items, seed, path):
    """Writes the device's recording (16 kHz WAV) and returns its truth: [{label, start, end}] in seconds."""
    rng = np.random.default_rng([seed, index, 5, sum(map(ord, phase))])
    before = phase == "before"
    gaps = [int(rng.uniform(1.2, 1.8) * L.RATE) for _ in items]
    n = int(0.8 * L.RATE) + sum(len(s) for _, s in items) + sum(gaps)
    clean = np.zeros(n)
    truth, at = [], int(0.8 * L.RATE)
    for (label, s), gap in zip(items, gaps):
        clean[at:at + len(s)] = s
        truth.append({"label": label, "start": round(at / L.RATE, 3), "end": round((at + len(s)) / L.RATE, 3)})
        at += len(s) + gap
    profile = device_profile(index, seed)
    kind = "pink" if before else profile["noise"]
    snr = float(rng.uniform(25, 30)) if before else float(rng.uniform(12, 20))
    background = synth.noise(kind, n, rng) * 10 ** ((L.SPEECH_LEVEL_DBFS - snr) / 20)
    x = clean + background
    if not before:
        x = sox_effects(x, HEADSET)[:n]
    level = -26.0 if before else -32.0
    x = x * 10 ** ((level - L.SPEECH_LEVEL_DBFS) / 20)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(L.RATE)
        w.writeframes(np.clip(np.round(x * 32768), -32768, 32767).astype("<i2").tobytes())
    return {"phase": phase, "snr_db": round(snr, 1), "noise": kind, "level_dbfs": level, "profile": None if before else profile,
            "utterances": truth}


def replay_clips(count, seed, pool):
    """1 s clips as the v1 recipe makes them (training voices, its out-of-vocabulary words, noise-only), with labels:
    what fine-tuning rehearses so `unknown` and `silence` are not forgotten."""
    rng = np.random.default_rng([seed, 9])
    train_oov, _ = D.oov_words()
    voices = D.ESPEAK_TRAIN
    jobs, labels = [], []
    for k in range(count):
        if k % 4 == 0:
            text = train_oov[int(rng.integers(len(train_oov)))]
        else:
            text = L.VOCABULARY[k % len(L.VOCABULARY)]
        jobs.append(D.espeak_job(rng, voices[int(rng.integers(len(voices)))], text))
        labels.append(L.command_label(text))
    babble = D.babble_pool(rng, voices, 6, pool)
    clips, facts = D.assemble(rng, pool.map(D.render, jobs), labels, [j[2] for j in jobs], [j[:2] for j in jobs],
                              [1] * len(jobs), babble)
    silence, silence_facts = D.silence_clips(rng, max(1, count // 8), babble)
    return clips + silence, facts + silence_facts
