#!/usr/bin/env python3
"""VAD benchmark: Earshot vs WebRTC VAD (modes 0–3) vs Silero VAD on the same audio, side by side.

The set is made here, deterministically (seed 3), with voices never used in training (flite and held-out espeak
variants, Models/vad/recipe/synth.py TEST_VOICES): speech at known offsets in 8 s of noise, for every noise type
at clean/20/10/5/0 dB SNR, plus noise-only clips; labels per 10 ms block. The real LibriVox fixture recordings
are scored too, labelled from their word alignments. Silero runs its ONNX model with onnxruntime on one thread
(no torch). Usage: python3 Benchmarks/vad/run_vad_benchmark.py [--earshot .build/release/earshot]
"""
import argparse
import json
import os
import subprocess
import sys
import time
import wave

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "Models", "vad", "recipe"))
import synth  # noqa: E402

SNRS = [60.0, 20.0, 10.0, 5.0, 0.0]


def write_wav(path, samples):
    with wave.open(path, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000); w.writeframes(samples.astype("<i2").tobytes())


def read_wav(path):
    with wave.open(path, "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


def make_set(out):
    rng = np.random.default_rng(3)
    clips = []
    for kind in synth.NOISES:
        for snr in SNRS:
            for k in range(2):
                samples, labels, facts = synth.scene(rng, synth.TEST_VOICES, snr=snr, noise_kind=kind, speech_probability=1.0,
                                                     channel_kind="none", level_db=float(rng.uniform(-35, -18)), babble_voices=synth.TEST_VOICES)
                clips.append((f"{kind}_{int(snr)}_{k}", samples, labels, {"slice": f"{'clean' if snr >= 60 else f'{int(snr)} dB'}", **facts}))
        for k in range(2):
            samples, labels, facts = synth.scene(rng, synth.TEST_VOICES, noise_kind=kind, speech_probability=0.0, channel_kind="none",
                                                 level_db=float(rng.uniform(-40, -15)), babble_voices=synth.TEST_VOICES)
            clips.append((f"{kind}_noiseonly_{k}", samples, labels, {"slice": "noise only", **facts}))
    fixtures = os.path.join(ROOT, "..", "shared", "fixtures", "pocketsphinx")
    for name in ["0880", "0930"]:
        base = os.path.join(fixtures, f"sense_and_sensibility_01_austen_64kb-{name}")
        samples = read_wav(base + ".wav")
        words = json.load(open(base + ".json"))
        labels = np.zeros(len(samples) // 160, dtype=np.uint8)
        for w in words.get("w", words if isinstance(words, list) else []):
            if w.get("t") in ("<sil>", "<s>", "</s>"):
                continue
            labels[int(w["b"] * 100):int((w["b"] + w["d"]) * 100) + 1] = 1
        clips.append((f"librivox_{name}", samples, labels, {"slice": "LibriVox (real)", "noise": "none", "snr": None}))
    for name, samples, _, _ in clips:
        write_wav(os.path.join(out, name + ".wav"), samples)
    return clips


def earshot_scores(binary, path):
    out = subprocess.run([binary, "vad", path, "--format", "frames"], check=True, capture_output=True, text=True).stdout
    return np.array([float(v) for v in out.split()])


def webrtc_decisions(samples, mode):
    import webrtcvad
    vad = webrtcvad.Vad(mode)
    blocks = len(samples) // 160
    return np.array([1.0 if vad.is_speech(samples[i * 160:(i + 1) * 160].tobytes(), 16000) else 0.0 for i in range(blocks)])


class Silero:
    def __init__(self):
        import importlib.util
        import onnxruntime
        # Locate the package's ONNX file without importing it (its __init__ imports torch, which we do not install).
        package = os.path.dirname(importlib.util.find_spec("silero_vad").origin)
        path = os.path.join(package, "data", "silero_vad.onnx")
        options = onnxruntime.SessionOptions(); options.intra_op_num_threads = 1; options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])

    def scores(self, samples):
        state = np.zeros((2, 1, 128), dtype=np.float32)
        context = np.zeros((1, 64), dtype=np.float32)
        x = samples.astype(np.float32) / 32768
        chunks = len(x) // 512
        probs = []
        for j in range(chunks):
            chunk = np.concatenate([context, x[None, j * 512:(j + 1) * 512]], axis=1)
            out, state = self.session.run(None, {"input": chunk, "state": state, "sr": np.array(16000, dtype=np.int64)})
            context = chunk[:, -64:]
            probs.append(float(out[0, 0]))
        blocks = len(samples) // 160
        # Block i gets the probability of the chunk that contains its last sample (available ≤ 31 ms after the block).
        return np.array([probs[min(len(probs) - 1, (i * 160 + 159) // 512)] if probs else 0.0 for i in range(blocks)])


def auc(p, y):
    positives, negatives = int(np.sum(y == 1)), int(np.sum(y == 0))
    if not positives or not negatives or len(np.unique(p)) < 2:
        return float("nan")
    order = np.argsort(p, kind="stable")
    ranks = np.empty(len(p)); ranks[order] = np.arange(1, len(p) + 1)
    _, inverse, counts = np.unique(p, return_inverse=True, return_counts=True)
    ranks = (np.bincount(inverse, weights=ranks) / counts)[inverse]
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


# Speech over babble (other voices) is ambiguous by design — is the background talker "speech"? — so the synthetic
# speech clips are also scored split by background: every noise but babble, and babble alone.
BACKGROUNDS = {
    "speech over non-babble": lambda c: c[3]["slice"] not in ("noise only", "LibriVox (real)") and not c[0].startswith("librivox")
                                        and c[3].get("noise") != "babble",
    "speech over babble": lambda c: c[3]["slice"] not in ("noise only", "LibriVox (real)") and not c[0].startswith("librivox")
                                    and c[3].get("noise") == "babble",
}


def scores_table(results, clips, detectors):
    rows = {}
    def order(s):  # clean, then SNR from high to low, then the real recordings and noise-only clips
        return (0, 0) if s == "clean" else (1, -int(s.split()[0])) if s.endswith(" dB") else (2, s)
    slices = sorted({c[3]["slice"] for c in clips}, key=order)
    for det in detectors:
        for sl in slices + ["overall (synthetic)"] + list(BACKGROUNDS):
            chosen = [i for i, c in enumerate(clips) if BACKGROUNDS[sl](c)] if sl in BACKGROUNDS else \
                     [i for i, c in enumerate(clips) if (c[3]["slice"] == sl if sl != "overall (synthetic)" else not c[0].startswith("librivox"))]
            p = np.concatenate([results[det][i] for i in chosen]); y = np.concatenate([clips[i][2][:len(results[det][i])] for i in chosen])
            d = p >= 0.5
            tp, fp, fn = np.sum(d & (y == 1)), np.sum(d & (y == 0)), np.sum(~d & (y == 1))
            precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
            f1 = 2 * precision * recall / max(1e-9, precision + recall)
            rows[(det, sl)] = {"f1": f1, "precision": precision, "recall": recall, "false_alarm": fp / max(1, np.sum(y == 0)), "auc": auc(p, y)}
    return rows, slices


def delays(results, clips, det):
    onsets, offsets = [], []
    for i, c in enumerate(clips):
        if c[3]["slice"] in ("noise only",):
            continue
        y = c[2]; d = results[det][i][:len(y)] >= 0.5
        edges = np.diff(np.concatenate([[0], y.astype(int), [0]]))
        for start, end in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
            hit = np.nonzero(d[start:min(len(d), start + 50)])[0]
            if len(hit): onsets.append(hit[0] * 10)
            after = np.nonzero(~d[end:min(len(d), end + 100)])[0]
            if len(after): offsets.append(after[0] * 10)
    return (float(np.median(onsets)) if onsets else float("nan"), float(np.median(offsets)) if offsets else float("nan"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--earshot", default=os.path.join(ROOT, ".build", "release", "earshot"))
    parser.add_argument("--out", default=os.path.join(ROOT, ".build-vad", "bench"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    clips = make_set(args.out)
    silero = Silero()
    results = {"Earshot": [], "Silero": [], **{f"WebRTC mode {m}": [] for m in range(4)}}
    for name, samples, labels, _ in clips:
        results["Earshot"].append(earshot_scores(args.earshot, os.path.join(args.out, name + ".wav")))
        results["Silero"].append(silero.scores(samples))
        for m in range(4):
            results[f"WebRTC mode {m}"].append(webrtc_decisions(samples, m))
    detectors = list(results)
    rows, slices = scores_table(results, clips, detectors)
    # Cost per 10 ms on this core: Silero and WebRTC timed here from Python; Earshot from its Swift benchmark.
    audio = clips[0][1]
    t = time.perf_counter(); silero.scores(audio[:16000 * 4]); silero_us = (time.perf_counter() - t) / 400 * 1e6
    t = time.perf_counter(); webrtc_decisions(audio[:16000 * 4], 3); webrtc_us = (time.perf_counter() - t) / 400 * 1e6
    lines = ["| detector | " + " | ".join(slices + ["overall (synthetic)"]) + " | AUC overall | onset / offset (median ms) |",
             "|---|" + "---:|" * (len(slices) + 3)]
    for det in detectors:
        cells = []
        for sl in slices + ["overall (synthetic)"]:
            r = rows[(det, sl)]
            cells.append(f"FA {r['false_alarm']:.1%}" if sl == "noise only" else f"F1 {r['f1']:.3f}")
        on, off = delays(results, clips, det)
        a = rows[(det, "overall (synthetic)")]["auc"]
        lines.append(f"| {det} | " + " | ".join(cells) + f" | {'' if np.isnan(a) else f'{a:.3f}'} | {on:.0f} / {off:.0f} |")
    scored = [sl for sl in slices if sl != "noise only"] + ["overall (synthetic)"] + list(BACKGROUNDS)
    pr_rows = ["| detector | " + " | ".join(scored) + " |", "|---|" + "---:|" * len(scored)]
    for det in detectors:
        pr_rows.append(f"| {det} | " + " | ".join(f"{rows[(det, sl)]['precision']:.3f} / {rows[(det, sl)]['recall']:.3f}"
                                                    + (f" (F1 {rows[(det, sl)]['f1']:.3f})" if sl in BACKGROUNDS else "")
                                                    for sl in scored) + " |")
    noise_rows = ["| detector | " + " | ".join(synth.NOISES) + " |", "|---|" + "---:|" * len(synth.NOISES)]
    for det in detectors:
        cells = []
        for kind in synth.NOISES:
            chosen = [i for i, c in enumerate(clips) if c[3]["slice"] == "noise only" and c[3]["noise"] == kind]
            p = np.concatenate([results[det][i] for i in chosen])
            cells.append(f"{np.mean(p >= 0.5):.1%}")
        noise_rows.append(f"| {det} | " + " | ".join(cells) + " |")
    report = "\n".join(lines) + "\n\nPrecision / recall at threshold 0.5, by slice:\n\n" + "\n".join(pr_rows) + \
             "\n\nFalse alarms on noise-only clips, by noise type:\n\n" + "\n".join(noise_rows) + \
             f"\n\nPython-side cost per 10 ms of audio on this core: Silero (onnxruntime, 1 thread) {silero_us:.1f} µs, " \
             f"WebRTC (C via Python, one call per 10 ms) {webrtc_us:.1f} µs.\n"
    print(report)
    open(os.path.join(os.path.dirname(__file__), "results.md"), "w").write(report)


if __name__ == "__main__":
    sys.exit(main())
