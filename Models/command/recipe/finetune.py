#!/usr/bin/env python3
"""Fine-tunes a shipped command-en bundle on deployment data: the next version from the one in the field.

The starting point is the bundle itself, not a checkpoint: the int8 weights of its model.tflite are read with LiteRT,
dequantised (per-channel scales) and loaded into the same DS-CNN with its batch normalisation folded in (what the
converter produced), so anyone holding a bundle and a fleet export can make the next version. Training data:
`deployment_train` (recipe/deployment.py: the fleet's clips with their best labels, split by device) weighing
`--deployment-weight`, and optionally a replay split of synthetic clips in the v1 recipe's style (so `unknown` and
`silence`, which deployment traffic rarely shows, are not forgotten). A seeded 20 % of the deployment clips are kept
out for early stopping and temperature calibration; `deployment_test` (the held-out devices) is never read here.
The temperature is refitted on the calibration clips, the accept threshold on held-back out-of-vocabulary replay
clips (≤ 2 % accepted, as the v1 recipe does; the base bundle's when there are fewer than 20); the manifest's drift baseline is recomputed
on the calibration clips (the population the new version is for).

Usage: python3 Models/command/recipe/finetune.py --base Models/command/command-en --data DIR --out BUNDLE
       --version 0.2.0 [--epochs 12] [--learning-rate 5e-4] [--deployment-weight 2] [--replay replay]
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
import train as T  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "Models", "common"))
from int8_tflite import as_float, convert_int8, run_int8  # noqa: E402

SEED = 5


def folded_model(tf, width):
    """command-en's DS-CNN as the converter leaves it: batch normalisation folded into biased convolutions."""
    layers = tf.keras.layers
    inputs = tf.keras.Input((T.FRAMES, T.CHANNELS, 1), name="features")
    x = layers.Conv2D(width, (10, 4), strides=(2, 2), padding="same", activation="relu")(inputs)
    for _ in range(4):
        x = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
        x = layers.Conv2D(width, 1, activation="relu")(x)
    x = layers.AveragePooling2D(pool_size=(x.shape[1], x.shape[2]))(x)
    x = layers.Reshape((width,))(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(len(L.LABELS), name="logits")(x)
    return tf.keras.Model(inputs, outputs)


def dequantised_weights(model_bytes):
    """[(kernel, bias)] per layer of the int8 model, in Keras layouts, from its operators' constant inputs."""
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_content=model_bytes)
    it.allocate_tensors()
    details = {d["index"]: d for d in it.get_tensor_details()}

    def value(index):
        d = details[index]
        q = d["quantization_parameters"]
        raw = it.get_tensor(index).astype(np.float64)
        scales, zeros, axis = q["scales"], q["zero_points"], q["quantized_dimension"]
        shape = [1] * raw.ndim
        shape[axis] = -1
        return ((raw - np.reshape(zeros, shape)) * np.reshape(scales, shape)).astype(np.float32)

    layers = []
    for op in it._get_ops_details():
        name, inputs = op["op_name"], list(op["inputs"])
        if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        w, b = value(inputs[1]), value(inputs[2])
        if name == "CONV_2D":          # OHWI → HWIO
            w = w.transpose(1, 2, 3, 0)
        elif name == "DEPTHWISE_CONV_2D":   # 1HWC → HWC1
            w = w[0][..., None]
        else:                          # (out, in) → (in, out)
            w = w.T
        layers.append((w, b))
    if len(layers) != 10:
        raise SystemExit(f"expected command-en's 10 weighted layers, found {len(layers)}: not a command-en model")
    return layers


def load_split(data, name):
    path = os.path.join(data, f"{name}_facts.json")
    if not os.path.exists(path):
        return None
    return T.load(data, name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the bundle in the field (model.tflite + manifest.json)")
    parser.add_argument("--data", required=True, help="recipe/deployment.py's output (deployment_train_*), optionally a replay split")
    parser.add_argument("--out", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--deployment-weight", type=float, default=2.0)
    parser.add_argument("--replay", default="replay", help="split name of synthetic replay clips in --data (skipped when absent)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    tf.keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    tf.config.threading.set_inter_op_parallelism_threads(1)

    base_manifest = json.load(open(os.path.join(args.base, "manifest.json")))
    base_bytes = open(os.path.join(args.base, "model.tflite"), "rb").read()
    if base_manifest.get("labels") != L.LABELS:
        raise SystemExit(f"{args.base}: its labels are not command-en's; fine-tuning keeps the label set")
    deployment = load_split(args.data, "deployment_train")
    if deployment is None or len(deployment[0]) < 20:
        raise SystemExit(f"{args.data}: fewer than 20 deployment_train clips (run recipe/deployment.py --export DIR first)")
    dx, dy, dfacts = deployment
    rng = np.random.default_rng(SEED)
    held = np.zeros(len(dx), dtype=bool)
    held[rng.choice(len(dx), max(5, len(dx) // 5), replace=False)] = True
    train_x, train_y, weight = dx[~held], dy[~held], np.full((~held).sum(), args.deployment_weight, np.float32)
    val_x, val_y = dx[held], dy[held]
    replay = load_split(args.data, args.replay)
    oov_x = np.zeros((0, *dx.shape[1:]), dtype=dx.dtype)
    if replay is not None:
        rx, ry = replay[0], replay[1]
        kept = np.zeros(len(rx), dtype=bool)
        kept[rng.choice(len(rx), len(rx) // 5, replace=False)] = True
        train_x = np.concatenate([train_x, rx[~kept]])
        train_y = np.concatenate([train_y, ry[~kept]])
        weight = np.concatenate([weight, np.ones((~kept).sum(), np.float32)])
        val_x, val_y = np.concatenate([val_x, rx[kept]]), np.concatenate([val_y, ry[kept]])
        oov_x = rx[kept & (ry == L.LABELS.index("unknown"))]
    print(f"fine-tuning {base_manifest['name']}@{base_manifest['version']} on {(~held).sum()} deployment clips "
          f"from {len({f['device'] for f in dfacts})} devices (weight {args.deployment_weight})"
          f"{f' and replay clips' if replay is not None else ''}; {len(val_x)} kept for calibration", flush=True)

    model = folded_model(tf, 64)
    weights = dequantised_weights(base_bytes)
    for layer, (w, b) in zip([l for l in model.layers if l.get_weights()], weights):
        layer.set_weights([w, b])
    base_logits, _ = run_int8(base_bytes, val_x)
    start_logits = model.predict(as_float(val_x), verbose=0, batch_size=256)
    same = float(np.mean(start_logits.argmax(1) == base_logits.argmax(1)))
    print(f"dequantised start agrees with the int8 base on {same:.1%} of the calibration clips; "
          f"base accuracy there {np.mean(base_logits.argmax(1) == val_y):.1%}", flush=True)
    if same < 0.9:
        raise SystemExit("the dequantised weights do not reproduce the base model; the bundle's layout is not command-en's")

    model.compile(optimizer=tf.keras.optimizers.Adam(args.learning_rate),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    best, best_weights = float(np.mean(start_logits.argmax(1) == val_y)), model.get_weights()
    for epoch in range(args.epochs):
        order = rng.permutation(len(train_x))
        history = model.fit(as_float(T.spec_augment(train_x[order], rng)), train_y[order], sample_weight=weight[order],
                            batch_size=32, epochs=1, verbose=0, shuffle=False)
        accuracy = float(np.mean(model.predict(as_float(val_x), verbose=0, batch_size=256).argmax(1) == val_y))
        print(f"epoch {epoch}: loss {history.history['loss'][0]:.3f} calibration-clip accuracy {accuracy:.3f}", flush=True)
        if accuracy > best:
            best, best_weights = accuracy, model.get_weights()
    model.set_weights(best_weights)

    representative = train_x[np.random.default_rng(SEED + 1).choice(len(train_x), min(300, len(train_x)), replace=False)]
    model_bytes = convert_int8(tf, model, representative, T.FRAMES, T.CHANNELS)
    logits, _ = run_int8(model_bytes, val_x)
    temperature = T.fit_temperature(logits, val_y)
    p = T.softmax(logits / temperature)
    print(f"int8 calibration-clip accuracy {np.mean(p.argmax(1) == val_y):.3f} (base {np.mean(base_logits.argmax(1) == val_y):.3f}); "
          f"temperature {temperature:.3f}", flush=True)
    # The accept threshold: the lowest with ≤ 2 % of held-back out-of-vocabulary replay clips accepted as a command
    # (the v1 recipe's rule); with too few of them to say, the base bundle's.
    threshold = base_manifest["accept_threshold"]
    if len(oov_x) >= 20:
        oov_p = T.softmax(run_int8(model_bytes, oov_x)[0] / temperature)
        for candidate in np.arange(0.30, 0.96, 0.01):
            if np.mean((oov_p.argmax(1) >= 2) & (oov_p.max(1) >= candidate)) <= T.OOV_FALSE_ACCEPT_GOAL:
                threshold = float(round(candidate, 2))
                break
        else:
            threshold = 0.95
    words = val_y >= 2
    accepted = (p.argmax(1) == val_y) & (p.max(1) >= threshold)
    print(f"accept threshold {threshold:.2f} (out-of-vocabulary clips: {len(oov_x)}); calibration words accepted and right "
          f"{np.mean(accepted[words]):.3f}", flush=True)
    os.makedirs(args.out, exist_ok=True)
    open(os.path.join(args.out, "model.tflite"), "wb").write(model_bytes)
    manifest = dict(base_manifest)
    manifest.update({"version": args.version, "temperature": round(temperature, 6), "accept_threshold": threshold,
                     "baseline": {"source": f"calibration clips of the fleet export (fine-tuned from {base_manifest['version']})",
                                  **T.baseline(val_x, p)},
                     "training": {"base": f"{base_manifest['name']}@{base_manifest['version']}",
                                  "base_sha256": base_manifest.get("model_sha256"), "recipe": "Models/command/recipe/finetune.py",
                                  "deployment_clips": int((~held).sum()), "replay_clips": 0 if replay is None else int(len(replay[0])),
                                  "epochs": args.epochs, "learning_rate": args.learning_rate,
                                  "deployment_weight": args.deployment_weight},
                     "model_sha256": hashlib.sha256(model_bytes).hexdigest()})
    manifest.pop("signature", None)
    json.dump(manifest, open(os.path.join(args.out, "manifest.json"), "w"), indent=2)
    print(json.dumps({"version": args.version, "temperature": temperature, "accept_threshold": threshold,
                      "calibration_accuracy": float(np.mean(p.argmax(1) == val_y))}))


if __name__ == "__main__":
    sys.exit(main())
