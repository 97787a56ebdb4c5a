#!/usr/bin/env python3
"""Trains command-en: a DS-CNN over Earshot's frontend features, int8 post-training quantisation, temperature
calibration and the acceptance threshold, then writes the bundle (model.tflite, manifest.json, evaluation.json).

Input: the int8 features exactly as the runtime feeds them (micro_speech scaling of `earshot features`), 49 frames ×
40 channels. Keras sees them as (q + 128) / 256; the int8 model's input has scale 1/256 and zero point −128, so the
runtime copies its int8 features in unchanged.
Output: int8 logits; the runtime applies softmax(logits / T) with the manifest's temperature T.

Usage: python3 Models/command/recipe/train.py [--data .build-command] [--out Models/command/command-en]
Deterministic: seed 5, TensorFlow op determinism on, one thread.
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, HERE)
import labelling as L  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "Models", "common"))
from int8_tflite import as_float, run_int8, to_int8  # noqa: E402
import int8_tflite  # noqa: E402

FRAMES, CHANNELS = 49, 40
SEED = 5
OOV_FALSE_ACCEPT_GOAL = 0.02




def load(data, split):
    x = to_int8(np.load(os.path.join(data, f"{split}_features.npy")))
    facts = json.load(open(os.path.join(data, f"{split}_facts.json")))
    y = np.array([L.LABELS.index(f["label"]) for f in facts])
    return x, y, facts


def build_model(tf, width):
    layers = tf.keras.layers
    inputs = tf.keras.Input((FRAMES, CHANNELS, 1), name="features")
    x = layers.Conv2D(width, (10, 4), strides=(2, 2), padding="same", use_bias=False)(inputs)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for _ in range(4):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        x = layers.Conv2D(width, 1, use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.AveragePooling2D(pool_size=(x.shape[1], x.shape[2]))(x)
    x = layers.Reshape((width,))(x)      # a static reshape (Flatten becomes SHAPE/STRIDED_SLICE/PACK in TFLite)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(len(L.LABELS), name="logits")(x)
    return tf.keras.Model(inputs, outputs)




def spec_augment(x, rng):
    """One time mask (≤ 6 frames) and one frequency mask (≤ 5 channels) per clip, filled with the feature floor."""
    x = x.copy()
    n = len(x)
    t0 = rng.integers(0, FRAMES, n); tw = rng.integers(0, 7, n)
    f0 = rng.integers(0, CHANNELS, n); fw = rng.integers(0, 6, n)
    for i in range(n):
        x[i, t0[i]:t0[i] + tw[i], :] = -128
        x[i, :, f0[i]:f0[i] + fw[i]] = -128
    return x


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def baseline(x, p):
    """The manifest's training baseline (what Swift's RecognitionBaseline computes, by the same definitions): mean int8
    input per channel, top-confidence counts in ten bins [k/10, (k+1)/10) (1.0 in the last), top-label shares."""
    def round6(v):
        return float(np.round(v * 1_000_000) / 1_000_000)
    conf = p.max(1)
    bins = np.minimum((conf * 10).astype(int), 9)
    return {"clips": int(len(x)), "feature_channel_mean": [round6(v) for v in x.astype(np.int64).sum(axis=(0, 1)) / (len(x) * x.shape[1])],
            "confidence_histogram": np.bincount(bins, minlength=10).tolist(),
            "top_label_share": [round6(v) for v in np.bincount(p.argmax(1), minlength=p.shape[1]) / len(x)]}


def fit_temperature(logits, y):
    """The T in [0.3, 10] minimising the negative log-likelihood of softmax(logits / T) (golden-section on log T)."""
    def nll(log_t):
        p = softmax(logits / np.exp(log_t))
        return -np.mean(np.log(p[np.arange(len(y)), y] + 1e-12))
    a, b = np.log(0.3), np.log(10.0)
    g = (np.sqrt(5) - 1) / 2
    for _ in range(60):
        c, d = b - g * (b - a), a + g * (b - a)
        if nll(c) < nll(d):
            b = d
        else:
            a = c
    return float(np.exp((a + b) / 2))






def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.path.join(ROOT, ".build-command"))
    parser.add_argument("--out", default=os.path.join(ROOT, "Models", "command", "command-en"))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--unknown-weight", type=float, default=0.25,
                        help="loss weight of unknown clips: below 1 so that unfamiliar voices saying a command are not "
                             "pushed into the catch-all class (the error analysis of 0.1.0-rc: 49 %% of flite's clean "
                             "commands went to unknown); the threshold then keeps out-of-vocabulary speech out")
    parser.add_argument("--deployment-weight", type=float, default=0.0,
                        help="also train on deployment_train (recipe/deployment.py: clips the fleet exported, split by "
                             "device), each clip weighing this much against a synthetic one; 0 leaves them out")
    parser.add_argument("--convert-only", action="store_true",
                        help="skip training: reload the float weights saved by the last run, then quantise and calibrate")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    tf.keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    tf.config.threading.set_inter_op_parallelism_threads(1)

    train_x, train_y, _ = load(args.data, "train")
    deployed = np.zeros(len(train_x), dtype=bool)
    if args.deployment_weight > 0:
        if not os.path.exists(os.path.join(args.data, "deployment_train_facts.json")):
            sys.exit(f"--deployment-weight needs {args.data}/deployment_train_* (run recipe/deployment.py --export DIR first)")
        deploy_x, deploy_y, deploy_facts = load(args.data, "deployment_train")
        print(f"deployment data: {len(deploy_x)} clips from {len({f['device'] for f in deploy_facts})} devices, weight {args.deployment_weight}",
              flush=True)
        train_x, train_y = np.concatenate([train_x, deploy_x]), np.concatenate([train_y, deploy_y])
        deployed = np.concatenate([deployed, np.ones(len(deploy_x), dtype=bool)])
    val_x, val_y, val_facts = load(args.data, "validation")
    rng = np.random.default_rng(SEED)
    model = build_model(tf, args.width)
    steps = args.epochs * int(np.ceil(len(train_x) / 100))
    schedule = tf.keras.optimizers.schedules.CosineDecay(3e-3, steps)
    model.compile(optimizer=tf.keras.optimizers.Adam(schedule),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    print(f"parameters: {model.count_params()}", flush=True)
    best, best_weights = -1.0, None
    if args.convert_only:
        best_weights = list(np.load(os.path.join(args.data, "float_model_weights.npy"), allow_pickle=True))
    for epoch in range(0 if args.convert_only else args.epochs):
        order = rng.permutation(len(train_x))
        x = as_float(spec_augment(train_x[order], rng))
        weights = np.where(train_y[order] == L.LABELS.index("unknown"), args.unknown_weight, 1.0).astype(np.float32)
        weights *= np.where(deployed[order], args.deployment_weight, 1.0).astype(np.float32)
        history = model.fit(x, train_y[order], sample_weight=weights, batch_size=100, epochs=1, verbose=0, shuffle=False)
        val_logits = model.predict(as_float(val_x), verbose=0, batch_size=500)
        accuracy = float(np.mean(val_logits.argmax(1) == val_y))
        print(f"epoch {epoch}: loss {history.history['loss'][0]:.3f} train acc {history.history['accuracy'][0]:.3f} "
              f"validation acc {accuracy:.3f}", flush=True)
        if accuracy >= best:
            best, best_weights = accuracy, model.get_weights()
    model.set_weights(best_weights)

    # Its own generator, so --convert-only picks the same calibration clips as a full run.
    representative = train_x[np.random.default_rng(SEED + 1).choice(len(train_x), 500, replace=False)]
    model_bytes = int8_tflite.convert_int8(tf, model, representative, FRAMES, CHANNELS)
    os.makedirs(args.out, exist_ok=True)
    open(os.path.join(args.out, "model.tflite"), "wb").write(model_bytes)

    # Calibration and the acceptance threshold, on validation data, from the int8 model that ships.
    val_logits, _ = run_int8(model_bytes, val_x)
    temperature = fit_temperature(val_logits, val_y)
    val_p = softmax(val_logits / temperature)
    unknown, silence = L.LABELS.index("unknown"), L.LABELS.index("silence")
    oov = val_y == unknown
    words = val_y >= 2

    def accepted_word(p, threshold):
        top = p.argmax(1)
        return (top >= 2) & (p.max(1) >= threshold)
    threshold = 0.5
    for candidate in np.arange(0.30, 0.96, 0.01):
        if np.mean(accepted_word(val_p[oov], candidate)) <= OOV_FALSE_ACCEPT_GOAL:
            threshold = float(round(candidate, 2))
            break
    else:
        threshold = 0.95
    print(f"temperature {temperature:.3f}; accept threshold {threshold:.2f}; validation word accuracy (accepted and right) "
          f"{np.mean(accepted_word(val_p[words], threshold) & (val_p[words].argmax(1) == val_y[words])):.3f}", flush=True)

    manifest = {"name": "command-en", "version": "0.1.0", "kind": "command", "labels": L.LABELS,
                "frontend": {"window_ms": 30, "stride_ms": 20, "channels": 40, "tables": "microFrontend"},
                "feature_scaling": "micro_speech", "window_frames": FRAMES, "hop_frames": FRAMES,
                "accept_threshold": threshold, "temperature": round(temperature, 6),
                "clip": {"samples": L.CLIP_SAMPLES, "placement": "centre",
                         "rule": "1.000 s centred on the endpointed speech, taken from the surrounding audio; "
                                 "longer speech keeps its central 0.9 s"},
                "unknown_label": "unknown", "silence_label": "silence",
                "baseline": {"source": "validation set: held-out espeak-ng variants, random noise, SNR and level",
                             **baseline(val_x, val_p)},
                "model_sha256": hashlib.sha256(model_bytes).hexdigest()}
    json.dump(manifest, open(os.path.join(args.out, "manifest.json"), "w"), indent=2)
    np.save(os.path.join(args.data, "float_model_weights.npy"), np.array(model.get_weights(), dtype=object), allow_pickle=True)
    model.save(os.path.join(args.data, "float_model.keras"))
    print(json.dumps({"parameters": model.count_params(), "temperature": temperature, "threshold": threshold}))


if __name__ == "__main__":
    sys.exit(main())
