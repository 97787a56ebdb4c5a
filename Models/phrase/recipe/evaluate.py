#!/usr/bin/env python3
"""Evaluates phrase-en on its held-out test set (voices never heard in training, clean and at 10 dB) and writes
evaluation.json, CARD.md's numbers and the small committed held-out set (Models/phrase/heldout/).

Word error rate three ways: free (greedy CTC, any word sequence), constrained by Models/phrase/grammars/field.gram
through Earshot's own Swift decoder (`earshot transcribe --grammar … --clip-samples 64000`), and pocketsphinx's
en-us model with the same JSGF grammar on the same audio. Grammar WER counts only in-grammar phrases, as the
grammar's contract is. Also int8 against float and the real "go forward ten meters" fixture (evaluation only).

Usage: python3 Models/phrase/recipe/evaluate.py [--data .build-phrase] [--bundle Models/phrase/phrase-en]
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "Models", "command", "recipe"))
sys.path.insert(0, os.path.join(ROOT, "Models", "common"))
from metrics import expected_calibration_error  # noqa: E402


def _phrase_train():
    """Models/phrase/recipe/train.py by path (the command recipe has a module of the same name)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("phrase_train", os.path.join(HERE, "train.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


T = _phrase_train()

GRAMMAR = os.path.join(ROOT, "Models", "phrase", "grammars", "field.gram")
UNIT = "(one|two|three|four|five|six|seven|eight|nine)"
DIGIT = f"(zero|oh|{UNIT})"
NUMBER = (f"({UNIT}|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|"
          f"(twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)( {UNIT})?|{UNIT} hundred)")
# field.gram's public rules as regular expressions (the grammar has no recursion, so this is exact).
IN_GRAMMAR = [re.compile(p) for p in [
    f"^(go|move) (forward|backward|up|down|left|right|back) {NUMBER}( meter| meters)?$",
    f"^turn (left|right) {NUMBER} degrees$",
    f"^set (up|down|status) {NUMBER}( point {DIGIT})?( percent)?$",
    f"^{DIGIT}( {DIGIT})+$",
    "^(zero|one|two|three|four|five|six|seven|eight|nine|oh|yes|no|stop|go|start|cancel|repeat|next|back|up|down|left|"
    "right|on|off|status|help|confirm|forward|backward|meters)$"]]


def in_grammar(text):
    return any(p.match(text) for p in IN_GRAMMAR)


def words_wer(hyps, refs):
    return sum(T.edit_distance(h.split(), r.split()) for h, r in zip(hyps, refs)) / max(1, sum(len(r.split()) for r in refs))


def earshot_transcribe(earshot, wav, bundle, grammar=None):
    cmd = [earshot, "transcribe", wav, "--model", bundle, "--clip-samples", "64000", "--json"] + (["--grammar", grammar] if grammar else [])
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return out["utterances"]


def pocketsphinx(audio, grammar):
    from pocketsphinx import Decoder
    decoder = Decoder(jsgf=grammar, loglevel="FATAL")
    hyps = []
    for clip in audio:
        decoder.start_utt(); decoder.process_raw(clip.astype("<i2").tobytes(), full_utt=True); decoder.end_utt()
        h = decoder.hyp()
        hyps.append(h.hypstr.strip() if h is not None else "")
    return hyps


def ece(confidence, correct, bins=10):
    return expected_calibration_error(confidence, correct, bins)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.path.join(ROOT, ".build-phrase"))
    parser.add_argument("--bundle", default=os.path.join(ROOT, "Models", "phrase", "phrase-en"))
    parser.add_argument("--earshot", default=os.path.join(ROOT, ".build", "release", "earshot"))
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    manifest = json.load(open(os.path.join(args.bundle, "manifest.json")))
    inventory = manifest["labels"][1:]
    model_bytes = open(os.path.join(args.bundle, "model.tflite"), "rb").read()
    x, _, facts = T.load(args.data, "test", inventory)
    refs = [f["text"] for f in facts]
    snr = np.array(["clean" if f["snr"] >= 60 else "10 dB" for f in facts])
    engine = np.array([f["engine"] for f in facts])
    grammatical = np.array([in_grammar(r) for r in refs])
    logits, raw = T.run_int8(model_bytes, x)
    keras_model = tf.keras.models.load_model(os.path.join(args.data, "float_model.keras"))
    float_logits = keras_model.predict(T.as_float(x), verbose=0, batch_size=50)
    def text(ids):
        return " ".join(inventory[i - 1] for i in ids)
    greedy = [text(T.greedy(l)) for l in logits]
    greedy_float = [text(T.greedy(l)) for l in float_logits]
    utterances = earshot_transcribe(args.earshot, os.path.join(args.data, "test.wav"), args.bundle, GRAMMAR)
    constrained = [u["text"] for u in utterances]
    with wave.open(os.path.join(args.data, "test.wav"), "rb") as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(len(facts), -1)
    ps = pocketsphinx(audio, GRAMMAR)

    def rate(hyps, mask):
        idx = np.nonzero(mask)[0]
        return words_wer([hyps[i] for i in idx], [refs[i] for i in idx]) if len(idx) else None
    report = {"model": f"{manifest['name']}@{manifest['version']}", "clips": len(facts),
              "in_grammar_clips": int(grammatical.sum()), "wer": {}}
    for name, hyps in [("greedy int8", greedy), ("greedy float", greedy_float), ("grammar int8 (Earshot)", constrained), ("pocketsphinx grammar", ps)]:
        mask_all = grammatical if "grammar" in name else np.ones(len(refs), bool)
        report["wer"][name] = {"all": rate(hyps, mask_all), **{s: rate(hyps, mask_all & (snr == s)) for s in ["clean", "10 dB"]},
                               **{e: rate(hyps, mask_all & (engine == e)) for e in ["flite", "espeak"]},
                               "sentence_accuracy": float(np.mean([hyps[i] == refs[i] for i in np.nonzero(mask_all)[0]]))}
    correct = [constrained[i] == refs[i] for i in np.nonzero(grammatical)[0]]
    confidence = [utterances[i]["confidence"] for i in np.nonzero(grammatical)[0]]
    report["calibration"] = {"ece_sentence_grammar": ece(confidence, correct),
                             "accepted_share": float(np.mean([utterances[i]["accepted"] for i in np.nonzero(grammatical)[0]])),
                             "accuracy_when_accepted": float(np.mean([c for c, i in zip(correct, np.nonzero(grammatical)[0]) if utterances[i]["accepted"]] or [0]))}
    # Out-of-grammar phrases: how often the grammar decoder still accepts something (it should not).
    outside = np.nonzero(~grammatical)[0]
    report["out_of_grammar_accepted"] = float(np.mean([utterances[i]["accepted"] for i in outside])) if len(outside) else None
    report["out_of_grammar_pocketsphinx_answered"] = float(np.mean([ps[i] != "" for i in outside])) if len(outside) else None
    fixture = os.path.join(ROOT, "..", "shared", "fixtures", "pocketsphinx")
    real = {}
    wav = os.path.join(args.data, "goforward.wav")
    subprocess.run(["sox", "-t", "raw", "-e", "signed", "-b", "16", "-r", "16000", "-c", "1", os.path.join(fixture, "goforward.raw"), wav], check=True)
    for label, grammar in [("goforward.gram", os.path.join(fixture, "goforward.gram")), ("field.gram", GRAMMAR), ("no grammar", None)]:
        cmd = [args.earshot, "transcribe", wav, "--model", args.bundle, "--json"] + (["--grammar", grammar] if grammar else [])
        out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        real[label] = [u["text"] for u in out["utterances"]]
    report["real_goforward"] = real
    json.dump(report, open(os.path.join(args.bundle, "evaluation.json"), "w"), indent=1)

    # Committed held-out sample: 6 in-grammar phrases clean and the same 6 at 10 dB, with the SHA-256 of LiteRT's
    # reference int8 logits and Earshot's grammar result.
    picks = [i for i in range(0, len(facts), 2) if grammatical[i]][:6]
    chosen = [i for p in picks for i in (p, p + 1)]
    _, raw_ref = T.run_int8(model_bytes, x[chosen], reference=True)
    heldout = os.path.join(ROOT, "Models", "phrase", "heldout")
    os.makedirs(heldout, exist_ok=True)
    tmp = os.path.join(args.data, "heldout.wav")
    with wave.open(tmp, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000); w.writeframes(audio[chosen].astype("<i2").tobytes())
    subprocess.run(["sox", "-V1", tmp, os.path.join(heldout, "clips.flac")], check=True)
    entries = [{"text": refs[i], "engine": facts[i]["engine"], "voice": facts[i]["voice"], "noise": facts[i]["noise"], "snr": facts[i]["snr"],
                "logits_sha256": hashlib.sha256(raw_ref[k].astype(np.int8).tobytes()).hexdigest(), "greedy": greedy[i],
                "grammar": constrained[i]} for k, i in enumerate(chosen)]
    json.dump({"model_sha256": manifest["model_sha256"], "clip_samples": 64000, "grammar": "Models/phrase/grammars/field.gram",
               "clips": entries}, open(os.path.join(heldout, "heldout.json"), "w"), indent=1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    sys.exit(main())
