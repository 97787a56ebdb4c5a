"""Speech synthesis, noise generation and mixing for the VAD recipe and benchmark (seeded, deterministic)."""
import os
import subprocess
import tempfile

import numpy as np

RATE = 16000
BLOCK = 160  # 10 ms

WORDS = ("the a of to and in is it you that he was for on are with as his they be at one have this from or had by "
         "word but what some we can out other were all there when up use your how said an each she which do their "
         "time if will way about many then them write would like so these her long make thing see him two has look "
         "more day could go come did number sound no most people my over know water than call first who may down side "
         "been now find any new work part take get place made live where after back little only round man year came "
         "show every good me give our under name very through just form sentence great think say help low line differ "
         "turn cause much mean before move right boy old too same tell does set three want air well also play small end "
         "put home read hand port large spell add even land here must big high such follow act why ask men change went "
         "light kind off need house picture try us again animal point mother world near build self earth father").split()

# Training voices: espeak-ng accents and variants. Held out for evaluation: every flite voice and other espeak variants.
TRAIN_VOICES = [("espeak", f"{accent}+{variant}") for accent in ["en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp"]
                for variant in ["m1", "m3", "f2", "f4", "m7"]]
TEST_VOICES = [("flite", v) for v in ["kal", "awb", "rms", "slt"]] + \
              [("espeak", f"{a}+{v}") for a in ["en-gb-x-gbclan", "en-us"] for v in ["f1", "m2"]]


def sentence(rng, words=(3, 12)):
    return " ".join(rng.choice(WORDS, int(rng.integers(*words))))


def synthesize(engine, voice, text, rng):
    """16 kHz mono float speech in [-1, 1) from espeak-ng or flite, resampled by sox."""
    with tempfile.TemporaryDirectory() as tmp:
        wav, raw = os.path.join(tmp, "s.wav"), os.path.join(tmp, "s.raw")
        if engine == "espeak":
            speed = int(rng.integers(130, 190))
            pitch = int(rng.integers(30, 70))
            subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", wav, text], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            subprocess.run(["flite", "-voice", voice, "-t", text, "-o", wav], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["sox", "-V1", "-D", wav, "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed", "-t", "raw", raw], check=True)
        return np.fromfile(raw, dtype="<i2").astype(np.float64) / 32768


def speech_labels(clean, fill_gaps_ms=150):
    """Per 10 ms block: 1 where the clean speech is active (energy within 40 dB of its loudest block, above −60 dBFS),
    with pauses shorter than `fill_gaps_ms` filled (the pauses between words are part of speech)."""
    blocks = len(clean) // BLOCK
    energy = np.array([np.mean(clean[i * BLOCK:(i + 1) * BLOCK] ** 2) + 1e-12 for i in range(blocks)])
    db = 10 * np.log10(energy)
    active = (db > db.max() - 40) & (db > -60)
    gap = fill_gaps_ms // 10
    idx = np.nonzero(active)[0]
    for a, b in zip(idx[:-1], idx[1:]):
        if 1 < b - a <= gap:
            active[a:b] = True
    return active.astype(np.uint8)


def noise(kind, n, rng, babble_source=None):
    t = np.arange(n) / RATE
    if kind == "white":
        x = rng.normal(size=n)
    elif kind == "pink" or kind == "brown":
        spectrum = np.fft.rfft(rng.normal(size=n))
        f = np.maximum(np.fft.rfftfreq(n, 1 / RATE), 20)
        spectrum /= np.sqrt(f) if kind == "pink" else f
        x = np.fft.irfft(spectrum, n)
    elif kind == "hum":
        base = rng.choice([50, 60])
        x = sum(rng.uniform(0.2, 1) / h * np.sin(2 * np.pi * base * h * t + rng.uniform(0, 6.3)) for h in range(1, 8))
        x = x + 0.05 * rng.normal(size=n)
    elif kind == "fan":
        spectrum = np.fft.rfft(rng.normal(size=n))
        f = np.maximum(np.fft.rfftfreq(n, 1 / RATE), 20)
        spectrum /= f ** 0.8
        x = np.fft.irfft(spectrum, n)
        blade = rng.uniform(80, 300)
        x = x / (np.std(x) + 1e-9) + 0.6 * np.sin(2 * np.pi * blade * t) * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(2, 8) * t))
    elif kind == "music":
        x = np.zeros(n)
        pos = 0
        while pos < n:
            length = int(rng.uniform(0.2, 0.8) * RATE)
            seg = np.arange(min(length, n - pos)) / RATE
            chord = rng.choice([1, 1.25, 1.5, 2, 1.335, 1.68], int(rng.integers(2, 5))) * rng.uniform(110, 440)
            envelope = np.exp(-seg * rng.uniform(1, 6))
            x[pos:pos + len(seg)] = sum(np.sin(2 * np.pi * f * h * seg) / h for f in chord for h in (1, 2, 3)) * envelope
            pos += length
    elif kind == "babble":
        x = babble_source[:n] if babble_source is not None and len(babble_source) >= n else rng.normal(size=n)
    else:
        raise ValueError(kind)
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


NOISES = ["white", "pink", "brown", "hum", "fan", "music", "babble"]


def channel(x, rng, kind):
    """Microphone and room: band-limiting, a cheap-mic resonance, clipping, or reverberation."""
    if kind == "bandlimit":
        spectrum = np.fft.rfft(x)
        f = np.fft.rfftfreq(len(x), 1 / RATE)
        spectrum[(f < rng.uniform(150, 400)) | (f > rng.uniform(3000, 4000))] = 0
        return np.fft.irfft(spectrum, len(x))
    if kind == "resonance":
        spectrum = np.fft.rfft(x)
        f = np.fft.rfftfreq(len(x), 1 / RATE)
        centre = rng.uniform(1500, 4000)
        spectrum *= 1 + 3 * np.exp(-((f - centre) / 400) ** 2)
        return np.fft.irfft(spectrum, len(x))
    if kind == "clip":
        limit = np.max(np.abs(x)) * rng.uniform(0.2, 0.5)
        return np.clip(x, -limit, limit)
    if kind == "reverb":
        length = int(rng.uniform(0.1, 0.5) * RATE)
        ir = rng.normal(size=length) * np.exp(-np.arange(length) / (length / 6))
        ir[0] = 1
        wet = np.convolve(x, ir)[:len(x)]
        return wet / (np.max(np.abs(wet)) + 1e-12) * np.max(np.abs(x))
    return x


def scene(rng, voices, seconds=8.0, speech_probability=0.8, snr=None, noise_kind=None, level_db=None, channel_kind=None,
          babble_voices=None):
    """A labelled clip: noise for `seconds`, with 0–2 utterances at random offsets. Returns (int16 samples, labels, facts)."""
    n = int(seconds * RATE)
    clean = np.zeros(n)
    if rng.random() < speech_probability:
        for _ in range(int(rng.integers(1, 3))):
            engine, voice = voices[int(rng.integers(len(voices)))]
            s = synthesize(engine, voice, sentence(rng), rng)
            s = s / (np.sqrt(np.mean(s ** 2)) + 1e-12)
            if len(s) >= n - 1600:
                s = s[:n - 1600]
            start = int(rng.integers(800, n - len(s) - 800 + 1))
            clean[start:start + len(s)] += s
    labels = speech_labels(clean) if np.any(clean) else np.zeros(n // BLOCK, dtype=np.uint8)
    noise_kind = noise_kind or NOISES[int(rng.integers(len(NOISES)))]
    babble = None
    if noise_kind == "babble":
        parts = [synthesize(*babble_voices[int(rng.integers(len(babble_voices)))], sentence(rng, (8, 20)), rng) for _ in range(4)]
        babble = np.zeros(n)
        for p in parts:
            p = np.resize(p / (np.sqrt(np.mean(p ** 2)) + 1e-12), n)
            babble += np.roll(p, int(rng.integers(n)))
    background = noise(noise_kind, n, rng, babble)
    snr = float(rng.uniform(-5, 30)) if snr is None else snr
    mix = clean + background * 10 ** (-snr / 20) if np.any(clean) else background
    channel_kind = channel_kind if channel_kind is not None else rng.choice(["none", "none", "bandlimit", "resonance", "clip", "reverb"])
    mix = channel(mix, rng, channel_kind)
    level_db = float(rng.uniform(-45, -10)) if level_db is None else level_db
    mix = mix / (np.sqrt(np.mean(mix ** 2)) + 1e-12) * 10 ** (level_db / 20)
    samples = np.clip(np.round(mix * 32768), -32768, 32767).astype("<i2")
    return samples, labels[: n // BLOCK], {"noise": noise_kind, "snr": snr, "level_db": level_db, "channel": str(channel_kind)}
