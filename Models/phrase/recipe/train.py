#!/usr/bin/env python3
"""Trains phrase-en: a CTC model over Earshot's frontend features that emits, every 40 ms, posteriors over a blank
and 58 words; int8 post-training quantisation; writes the bundle (model.tflite, manifest.json).

The network is convolutional and non-causal over one endpointed utterance (4 s, 199 frames × 40 channels): a 5×4
convolution with stride 2 in time and frequency, five depthwise-separable blocks whose depthwise kernels are 5 taps
in time with dilations 1, 2, 4, 8, 1 (2.6 s of context), average pooling over frequency and a 1×1 convolution to 59
logits per output frame. Decoding (greedy, or constrained by a JSGF grammar) is done by Earshot in Swift.

Usage: python3 Models/phrase/recipe/train.py [--data .build-phrase] [--out Models/phrase/phrase-en]
Deterministic: seed 9, TensorFlow op determinism on.
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
sys.path.insert(0, os.path.join(ROOT, "Models", "command", "recipe"))
import labelling as L  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "Models", "common"))
from int8_tflite import as_float, run_int8, to_int8  # noqa: E402
import int8_tflite  # noqa: E402

FRAMES, CHANNELS = 199, 40
SEED = 9
INVENTORY = None   # filled from make_dataset at run time






def load(data, split, inventory):
    x = to_int8(np.load(os.path.join(data, f"{split}_features.npy")))
    facts = json.load(open(os.path.join(data, f"{split}_facts.json")))
    labels = [[inventory.index(w) + 1 for w in f["text"].split()] for f in facts]
    return x, labels, facts


def build_model(tf, width, classes, folded=False):
    """The training network, or (`folded`) the same function with every batch normalisation folded into the
    convolution before it, for conversion: a dilated depthwise convolution followed by a bias (not a batch norm) is
    what the TFLite converter turns back into one DEPTHWISE_CONV_2D with dilation instead of SPACE_TO_BATCH_ND,
    DEPTHWISE_CONV_2D, BATCH_TO_SPACE_ND, MUL and ADD."""
    layers = tf.keras.layers
    norm = (lambda: (lambda x: x)) if folded else layers.BatchNormalization
    inputs = tf.keras.Input((FRAMES, CHANNELS, 1), name="features")
    x = layers.Conv2D(width, (5, 4), strides=(2, 2), padding="same", use_bias=folded)(inputs)
    x = layers.ReLU()(norm()(x))
    for i, dilation in enumerate([1, 2, 4, 8, 1]):
        if i == 0:
            x = layers.DepthwiseConv2D((5, 3), strides=(1, 2), padding="same", use_bias=folded)(x)
        else:
            x = layers.DepthwiseConv2D((5, 3), dilation_rate=(dilation, 1), padding="same", use_bias=folded)(x)
        x = layers.ReLU()(norm()(x))
        x = layers.Conv2D(width, 1, use_bias=folded)(x)
        x = layers.ReLU()(norm()(x))
    x = layers.AveragePooling2D(pool_size=(1, x.shape[2]))(x)
    x = layers.Conv2D(classes, 1, name="logits")(x)
    outputs = layers.Reshape((x.shape[1], classes))(x)
    return tf.keras.Model(inputs, outputs)


def fold_batchnorm(tf, model, width, classes):
    """An equivalent inference network without batch normalisation: each BN's scale multiplies the output channels
    of the convolution before it, and its shift becomes that convolution's bias."""
    folded = build_model(tf, width, classes, folded=True)
    convs = [l for l in model.layers if isinstance(l, (tf.keras.layers.Conv2D, tf.keras.layers.DepthwiseConv2D))]
    norms = [l for l in model.layers if isinstance(l, tf.keras.layers.BatchNormalization)]
    targets = [l for l in folded.layers if isinstance(l, (tf.keras.layers.Conv2D, tf.keras.layers.DepthwiseConv2D))]
    for k, (conv, target) in enumerate(zip(convs, targets)):
        weights = conv.get_weights()
        if k < len(norms):
            gamma, beta, mean, variance = norms[k].get_weights()
            scale = gamma / np.sqrt(variance + norms[k].epsilon)
            kernel = weights[0] * (scale[None, None, :, None] if isinstance(conv, tf.keras.layers.DepthwiseConv2D) else scale)
            target.set_weights([kernel, beta - mean * scale])
        else:
            target.set_weights(weights)     # the final 1×1 convolution: kernel and bias as trained
    return folded


def greedy(logits):
    """Best-path CTC decoding: argmax per frame, repeats merged, blanks (0) dropped."""
    best = logits.argmax(-1)
    out, previous = [], 0
    for b in best:
        if b != previous and b != 0:
            out.append(int(b))
        previous = b
    return out


def edit_distance(a, b):
    d = np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(b) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] != b[j - 1]))
            prev, d[j] = d[j], cur
    return int(d[len(b)])


def wer(hyps, refs):
    return sum(edit_distance(h, r) for h, r in zip(hyps, refs)) / max(1, sum(len(r) for r in refs))






def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.path.join(ROOT, ".build-phrase"))
    parser.add_argument("--out", default=os.path.join(ROOT, "Models", "phrase", "phrase-en"))
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--convert-only", action="store_true",
                        help="skip training: reload the float model saved by the last run, then quantise")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import importlib.util
    spec = importlib.util.spec_from_file_location("phrase_make_dataset", os.path.join(HERE, "make_dataset.py"))
    P = importlib.util.module_from_spec(spec); spec.loader.exec_module(P)
    inventory = P.INVENTORY
    import tensorflow as tf
    tf.keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()

    train_x, train_labels, _ = load(args.data, "train", inventory)
    val_x, val_labels, _ = load(args.data, "validation", inventory)
    classes = len(inventory) + 1
    model = build_model(tf, args.width, classes)
    print(f"parameters: {model.count_params()}; output frames {model.output_shape[1]}", flush=True)
    batch = 32
    steps = args.epochs * int(np.ceil(len(train_x) / batch))
    optimizer = tf.keras.optimizers.Adam(tf.keras.optimizers.schedules.CosineDecay(2e-3, steps, warmup_target=None))
    longest = max(len(l) for l in train_labels)

    @tf.function(reduce_retracing=True)
    def step(x, labels, label_length):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            frames = tf.fill([tf.shape(x)[0]], tf.shape(logits)[1])
            loss = tf.reduce_mean(tf.nn.ctc_loss(labels, logits, label_length, frames, logits_time_major=False, blank_index=0))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    rng = np.random.default_rng(SEED)
    padded = np.zeros((len(train_labels), longest), dtype=np.int32)
    lengths = np.array([len(l) for l in train_labels], dtype=np.int32)
    for i, l in enumerate(train_labels):
        padded[i, :len(l)] = l
    best, best_weights = 9.0, None
    if args.convert_only:
        best_weights = tf.keras.models.load_model(os.path.join(args.data, "float_model.keras")).get_weights()
    for epoch in range(0 if args.convert_only else args.epochs):
        order = rng.permutation(len(train_x))
        losses = []
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            x = train_x[idx].copy()
            # SpecAugment: a frequency mask and two short time masks per clip.
            for i in range(len(x)):
                f0, fw = rng.integers(0, CHANNELS), rng.integers(0, 6)
                x[i, :, f0:f0 + fw] = -128
                for _ in range(2):
                    t0, tw = rng.integers(0, FRAMES), rng.integers(0, 5)
                    x[i, t0:t0 + tw, :] = -128
            losses.append(float(step(as_float(x), padded[idx], lengths[idx])))
        val_logits = model.predict(as_float(val_x), verbose=0, batch_size=100)
        score = wer([greedy(v) for v in val_logits], val_labels)
        print(f"epoch {epoch}: ctc loss {np.mean(losses):.3f} validation WER (greedy) {score:.3f}", flush=True)
        if score <= best:
            best, best_weights = score, model.get_weights()
    model.set_weights(best_weights)
    model.save(os.path.join(args.data, "float_model.keras"))
    val_float = model.predict(as_float(val_x), verbose=0, batch_size=100)
    best = wer([greedy(v) for v in val_float], val_labels)
    folded = fold_batchnorm(tf, model, args.width, classes)
    drift = float(np.max(np.abs(folded.predict(as_float(val_x[:20]), verbose=0) - val_float[:20])))
    print(f"batch-norm folding changes logits by at most {drift:.2e}", flush=True)
    # Its own generator, so --convert-only picks the same calibration clips as a full run.
    model_bytes = int8_tflite.convert_int8(tf, folded, train_x[np.random.default_rng(SEED + 1).choice(len(train_x), 300, replace=False)], FRAMES, CHANNELS)
    os.makedirs(args.out, exist_ok=True)
    open(os.path.join(args.out, "model.tflite"), "wb").write(model_bytes)
    val_int8, _ = run_int8(model_bytes, val_x)
    print(f"validation WER greedy: float {best:.3f}, int8 {wer([greedy(v) for v in val_int8], val_labels):.3f}", flush=True)
    manifest = {"name": "phrase-en", "version": "0.1.0", "kind": "phrase", "labels": ["<blank>"] + inventory,
                "frontend": {"window_ms": 30, "stride_ms": 20, "channels": 40, "tables": "microFrontend"},
                "feature_scaling": "micro_speech", "window_frames": FRAMES, "hop_frames": FRAMES,
                "accept_threshold": 0.5, "temperature": 1.0,
                "clip": {"samples": P.CLIP_SAMPLES, "placement": "start",
                         "rule": "4.000 s starting 0.25 s before the endpointed speech; longer speech is cut"},
                "output_frame_ms": 40, "blank_label": "<blank>",
                "model_sha256": hashlib.sha256(model_bytes).hexdigest()}
    json.dump(manifest, open(os.path.join(args.out, "manifest.json"), "w"), indent=2)


if __name__ == "__main__":
    sys.exit(main())
