#!/usr/bin/env python3
"""Evaluates the command-en bundle on the held-out test set and writes evaluation.json, CARD.md and the small
committed held-out set the Swift tests read (Models/command/heldout/).

Reports: accuracy by engine and voice, SNR, noise type and word; the confusion matrix; false accepts on
out-of-vocabulary speech and on noise; ECE and a reliability table; int8 against float; the real fixture clips
(evaluation only, never training); and pocketsphinx (PyPI, its bundled en-us model) in grammar mode on the same clips.

Usage: python3 Models/command/recipe/evaluate.py [--data .build-command] [--bundle Models/command/command-en]
"""
import argparse
import json
import os
import subprocess
import sys
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, HERE)
import labelling as L  # noqa: E402
import train  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "Models", "common"))
from metrics import expected_calibration_error  # noqa: E402

WORD0 = 2  # LABELS[0:2] are silence and unknown


def decisions(p, threshold):
    """The runtime's rule: an accepted word, else silence when that is the top label, else unknown."""
    top = p.argmax(1)
    accepted = (top >= WORD0) & (p.max(1) >= threshold)
    return np.where(accepted, top, np.where(top == 0, 0, 1)), accepted


def ece(p, y, bins=15):
    """ECE of the top label's confidence (Models/common/metrics.py)."""
    return expected_calibration_error(p.max(1), p.argmax(1) == y, bins)


def reliability(p, y, bins=10):
    conf, correct = p.max(1), p.argmax(1) == y
    rows = []
    for a, b in zip(np.linspace(0, 1, bins + 1)[:-1], np.linspace(0, 1, bins + 1)[1:]):
        m = (conf > a) & (conf <= b)
        if m.any():
            rows.append({"bin": f"{a:.1f}–{b:.1f}", "clips": int(m.sum()), "confidence": float(conf[m].mean()),
                         "accuracy": float(correct[m].mean())})
    return rows


def read_clips(path, count):
    with wave.open(path, "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return data.reshape(count, L.CLIP_SAMPLES)


def pocketsphinx_decode(audio, out_dir):
    """pocketsphinx's en-us model in JSGF grammar mode over the 32 words: a hypothesis per clip, or None."""
    from pocketsphinx import Decoder
    grammar = os.path.join(out_dir, "command-en.gram")
    open(grammar, "w").write("#JSGF V1.0;\ngrammar commands;\npublic <command> = " + " | ".join(L.VOCABULARY) + " ;\n")
    decoder = Decoder(jsgf=grammar, loglevel="FATAL")
    out = []
    for clip in audio:
        decoder.start_utt(); decoder.process_raw(clip.astype("<i2").tobytes(), full_utt=True); decoder.end_utt()
        h = decoder.hyp()
        out.append(h.hypstr.strip() if h is not None and h.hypstr.strip() else None)
    return out


def slice_key(f):
    return "clean" if f["snr"] is not None and f["snr"] >= 60 else f"{int(f['snr'])} dB"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.path.join(ROOT, ".build-command"))
    parser.add_argument("--bundle", default=os.path.join(ROOT, "Models", "command", "command-en"))
    parser.add_argument("--earshot", default=os.path.join(ROOT, ".build", "release", "earshot"))
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    manifest = json.load(open(os.path.join(args.bundle, "manifest.json")))
    model_bytes = open(os.path.join(args.bundle, "model.tflite"), "rb").read()
    T, threshold = manifest["temperature"], manifest["accept_threshold"]
    x, y, facts = train.load(args.data, "test")
    logits, raw = train.run_int8(model_bytes, x)
    p = train.softmax(logits / T)
    keras_model = tf.keras.models.load_model(os.path.join(args.data, "float_model.keras"))
    p_float = train.softmax(keras_model.predict(train.as_float(x), verbose=0, batch_size=500) / T)
    d, accepted = decisions(p, threshold)
    d_float, _ = decisions(p_float, threshold)
    words, oov, silence = y >= WORD0, y == 1, y == 0
    report = {"model": f"{manifest['name']}@{manifest['version']}", "clips": int(len(y)), "temperature": T,
              "accept_threshold": threshold}

    def summary(mask):
        m = mask & words
        return {"clips": int(m.sum()), "accuracy": float(np.mean(d[m] == y[m])) if m.any() else None,
                "top1": float(np.mean(p[m].argmax(1) == y[m])) if m.any() else None}
    report["words"] = {"int8": {"accuracy": float(np.mean(d[words] == y[words])), "top1": float(np.mean(p[words].argmax(1) == y[words]))},
                       "float": {"accuracy": float(np.mean(d_float[words] == y[words])), "top1": float(np.mean(p_float[words].argmax(1) == y[words]))},
                       "int8_float_agreement": float(np.mean(p.argmax(1) == p_float.argmax(1)))}
    snr_of = np.array([slice_key(f) if f["snr"] is not None else "noise only" for f in facts])
    engine_of = np.array([f["engine"] for f in facts]); voice_of = np.array([f"{f['engine']} {f['voice']}" for f in facts])
    noise_of = np.array([f["noise"] for f in facts])
    report["by_snr"] = {s: summary(snr_of == s) for s in ["clean", "20 dB", "10 dB", "5 dB", "0 dB"]}
    report["by_engine"] = {e: summary(engine_of == e) for e in ["flite", "espeak"]}
    report["by_voice"] = {v: summary(voice_of == v) for v in sorted(set(voice_of[words]))}
    report["by_noise"] = {n: summary((noise_of == n) & (snr_of != "clean")) for n in ["white", "pink", "brown", "hum", "fan", "music", "babble"]}
    report["by_word"] = {w: summary(y == L.LABELS.index(w)) for w in L.VOCABULARY}
    report["oov_false_accept"] = {"all": float(np.mean(accepted[oov])),
                                  **{s: float(np.mean(accepted[oov & (snr_of == s)])) for s in ["clean", "20 dB", "10 dB", "5 dB", "0 dB"]}}
    report["noise_false_accept"] = {"all": float(np.mean(accepted[silence])),
                                    **{n: float(np.mean(accepted[silence & (noise_of == n)])) for n in ["white", "pink", "brown", "hum", "fan", "music", "babble"]}}
    confusion = np.zeros((len(L.LABELS), len(L.LABELS)), dtype=int)
    for t, q in zip(y, d):
        confusion[t, q] += 1
    # What other acceptance thresholds would give (for --accept-at and the automation policy's bands).
    report["thresholds"] = [{"threshold": t, "word_accuracy": float(np.mean(decisions(p[words], t)[0] == y[words])),
                             "word_accuracy_clean": float(np.mean(decisions(p[words & (snr_of == "clean")], t)[0] == y[words & (snr_of == "clean")])),
                             "oov_false_accept": float(np.mean(decisions(p[oov], t)[1])),
                             "noise_false_accept": float(np.mean(decisions(p[silence], t)[1]))}
                            for t in (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98)]
    report["confusion"] = {"labels": L.LABELS, "rows_true_columns_decided": confusion.tolist()}
    report["calibration"] = {"ece": ece(p, y), "ece_float": ece(p_float, y), "ece_uncalibrated": ece(train.softmax(logits), y),
                             "reliability": reliability(p, y)}

    # Real recordings from the fixtures (evaluation only): Speech Commands yes/no, silence and noise.
    fixtures = os.path.join(ROOT, "..", "shared", "fixtures", "tflm-micro-speech")
    real = []
    for name, label in [("yes_1000ms", "yes"), ("no_1000ms", "no"), ("silence_1000ms", "silence"), ("noise_1000ms", "silence")]:
        out = subprocess.run([args.earshot, "transcribe", os.path.join(fixtures, name + ".wav"), "--json"], check=True,
                             capture_output=True, text=True).stdout
        utterances = json.loads(out)["utterances"]
        text = utterances[0]["text"] if utterances else "silence"
        real.append({"clip": name, "label": label, "decided": text,
                     "confidence": utterances[0]["confidence"] if utterances else None})
    report["real_fixtures"] = real

    # Peer: pocketsphinx in grammar mode on the same audio.
    audio = read_clips(os.path.join(args.data, "test.wav"), len(y))
    hyps = pocketsphinx_decode(audio, args.data)
    ps = np.array([L.LABELS.index(h) if h in L.LABELS else (-1 if h is None else -2) for h in hyps])
    report["pocketsphinx"] = {
        "accuracy": float(np.mean(ps[words] == y[words])),
        "by_snr": {s: float(np.mean(ps[words & (snr_of == s)] == y[words & (snr_of == s)])) for s in ["clean", "20 dB", "10 dB", "5 dB", "0 dB"]},
        "by_engine": {e: float(np.mean(ps[words & (engine_of == e)] == y[words & (engine_of == e)])) for e in ["flite", "espeak"]},
        "oov_false_accept": float(np.mean(ps[oov] != -1)), "noise_false_accept": float(np.mean(ps[silence] != -1))}
    # Deployment data held out by device (recipe/deployment.py): real voices, rooms and microphones never trained on.
    if os.path.exists(os.path.join(args.data, "deployment_test_facts.json")):
        dx, dy, dfacts = train.load(args.data, "deployment_test")
        if len(dy):
            dp = train.softmax(train.run_int8(model_bytes, dx)[0] / T)
            dd, daccepted = decisions(dp, threshold)
            dwords = dy >= WORD0
            device_of = np.array([f["device"] for f in dfacts]); source_of = np.array([f["provenance"] for f in dfacts])

            def dsummary(mask):
                m = mask & dwords
                return {"clips": int(m.sum()), "accuracy": float(np.mean(dd[m] == dy[m])) if m.any() else None}
            report["deployment_test"] = {
                "clips": int(len(dy)), "words": dsummary(np.ones(len(dy), dtype=bool)),
                "by_device": {d: dsummary(device_of == d) for d in sorted(set(device_of))},
                "by_provenance": {s: dsummary(source_of == s) for s in sorted(set(source_of))},
                "oov_false_accept": float(np.mean(daccepted[dy == 1])) if (dy == 1).any() else None}
    json.dump(report, open(os.path.join(args.bundle, "evaluation.json"), "w"), indent=1)

    # The committed held-out set: per word flite awb clean, flite slt at 10 dB, espeak Lancaster clean; unknown and
    # silence examples; expected int8 logits from LiteRT's reference kernels.
    chosen = []
    for w in L.VOCABULARY:
        for want in [("flite", "awb", "clean"), ("flite", "slt", "10 dB"), ("espeak", None, "clean")]:
            for i, f in enumerate(facts):
                if f["label"] == w and f["engine"] == want[0] and (want[1] is None or f["voice"] == want[1]) and slice_key(f) == want[2]:
                    chosen.append(i); break
    oov_idx = [i for i in np.nonzero(oov)[0] if snr_of[i] in ("clean", "10 dB")][:12:2]
    sil_idx = [int(np.nonzero(silence & (noise_of == n))[0][0]) for n in ["white", "pink", "brown", "hum", "fan", "music", "babble"]]
    chosen += [int(i) for i in oov_idx] + sil_idx
    ref_logits, raw_ref = train.run_int8(model_bytes, x[chosen], reference=True)
    ref_p = train.softmax(ref_logits / T)
    ref_d, _ = decisions(ref_p, threshold)
    heldout = os.path.join(ROOT, "Models", "command", "heldout")
    os.makedirs(heldout, exist_ok=True)
    wav = os.path.join(args.data, "heldout.wav")
    with wave.open(wav, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(L.RATE); w.writeframes(audio[chosen].astype("<i2").tobytes())
    subprocess.run(["sox", "-V1", wav, os.path.join(heldout, "clips.flac")], check=True)
    entries = [{**{k: facts[i][k] for k in ("label", "text", "engine", "voice", "noise", "snr")},
                "expected_logits": raw_ref[k].astype(int).tolist(), "expected_text": L.LABELS[ref_d[k]]}
               for k, i in enumerate(chosen)]
    json.dump({"model_sha256": manifest["model_sha256"], "clip_samples": L.CLIP_SAMPLES,
               "baseline": train.baseline(x[chosen], ref_p), "clips": entries},
              open(os.path.join(heldout, "heldout.json"), "w"), indent=0)
    accuracy_heldout = np.mean([e["expected_text"] == e["label"] for e in entries if e["label"] in L.VOCABULARY])
    print(json.dumps({k: report[k] for k in ("words", "by_snr", "by_engine", "oov_false_accept", "noise_false_accept", "pocketsphinx", "real_fixtures",
                                             "deployment_test") if k in report}, indent=1))
    print(f"ECE {report['calibration']['ece']:.3f}; committed held-out: {len(entries)} clips, word accuracy {accuracy_heldout:.3f}")


if __name__ == "__main__":
    sys.exit(main())
