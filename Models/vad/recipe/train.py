#!/usr/bin/env python3
"""Trains Earshot's VAD: a small MLP over 10 stacked frontend frames, quantised to int8 and written as a TFLite model.

Reads the features and labels from make_dataset.py, trains in float with NumPy (seeded), quantises post-training
(per-tensor int8 weights, int32 biases, activation ranges from training data), writes `model.tflite` and
`manifest.json`, and evaluates the int8 model with LiteRT's reference kernels (which Earshot equals bit for bit).

Usage: python3 Models/vad/recipe/train.py [--data .build-vad] [--out Models/vad/earshot-vad]
"""
import argparse
import hashlib
import json
import os
import sys

import flatbuffers
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CONTEXT = 10          # frames of 30 ms every 10 ms: 120 ms of audio
CHANNELS = 40
HIDDEN = (32, 16)
LOOKBACK = 2          # the newest frame ends 2 blocks after its start: score block i from frames ending at block i


def to_int8(features):
    """TFLM micro_speech scaling, exactly as Earshot's FeatureScaling.microSpeech does it."""
    return np.clip((features.astype(np.int64) * 256 + 333) // 666 - 128, -128, 127).astype(np.int8)


def windows(q, labels):
    """Input windows (int8, CONTEXT × CHANNELS) and the label of the block each one scores."""
    n = min(len(q), len(labels) - LOOKBACK)
    idx = np.arange(CONTEXT - 1, n)
    x = np.stack([q[i - CONTEXT + 1:i + 1].reshape(-1) for i in idx])
    return x, labels[idx + LOOKBACK], idx + LOOKBACK


class MLP:
    def __init__(self, rng, sizes):
        self.w = [rng.normal(0, np.sqrt(2 / a), (a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
        self.b = [np.zeros(b) for b in sizes[1:]]
        self.m = [np.zeros_like(p) for p in self.w + self.b]
        self.v = [np.zeros_like(p) for p in self.w + self.b]
        self.t = 0

    def forward(self, x):
        acts = [x]
        for i, (w, b) in enumerate(zip(self.w, self.b)):
            z = acts[-1] @ w + b
            acts.append(np.maximum(z, 0) if i < len(self.w) - 1 else z)
        return acts

    def step(self, x, y, lr, pos_weight):
        acts = self.forward(x)
        logit = acts[-1][:, 0]
        p = 1 / (1 + np.exp(-logit))
        weight = np.where(y == 1, pos_weight, 1.0)
        grad = ((p - y) * weight / len(y))[:, None]
        grads_w, grads_b = [], []
        for i in reversed(range(len(self.w))):
            grads_w.insert(0, acts[i].T @ grad)
            grads_b.insert(0, grad.sum(0))
            if i > 0:
                grad = (grad @ self.w[i].T) * (acts[i] > 0)
        self.t += 1
        for j, (param, g) in enumerate(zip(self.w + self.b, grads_w + grads_b)):
            self.m[j] = 0.9 * self.m[j] + 0.1 * g
            self.v[j] = 0.999 * self.v[j] + 0.001 * g * g
            update = lr * (self.m[j] / (1 - 0.9 ** self.t)) / (np.sqrt(self.v[j] / (1 - 0.999 ** self.t)) + 1e-8)
            param -= update

    def predict(self, x):
        return 1 / (1 + np.exp(-self.forward(x)[-1][:, 0]))


def write_tflite(mlp, calibration):
    """Int8 TFLite: FULLY_CONNECTED(+RELU) ×2, FULLY_CONNECTED, LOGISTIC. Returns the flatbuffer bytes."""
    from ai_edge_litert import schema_py_generated as S
    acts = mlp.forward(calibration)
    scales, zeros = [1 / 256], [-128]                       # input: (q + 128) / 256
    for i, a in enumerate(acts[1:]):
        if i < len(mlp.w) - 1:
            top = np.percentile(a, 99.99)
            scales.append(max(top, 1e-6) / 255); zeros.append(-128)
        else:
            low, high = min(np.percentile(a, 0.01), 0), max(np.percentile(a, 99.99), 0)
            s = (high - low) / 255
            scales.append(s); zeros.append(int(np.clip(round(-128 - low / s), -128, 127)))
    tensors, buffers = [], [S.BufferT()]

    def tensor(shape, type_, scale=None, zp=None, data=None, name=""):
        t = S.TensorT(); t.shape = list(shape); t.type = type_; t.name = name.encode(); t.buffer = 0
        if data is not None:
            b = S.BufferT(); b.data = list(np.asarray(data).tobytes()); buffers.append(b); t.buffer = len(buffers) - 1
        if scale is not None:
            q = S.QuantizationParametersT(); q.scale = [float(scale)]; q.zeroPoint = [int(zp)]; t.quantization = q
        tensors.append(t)
        return len(tensors) - 1

    operators = []
    x = tensor([1, CONTEXT * CHANNELS], S.TensorType.INT8, scales[0], zeros[0], name="features")
    graph_input = x
    for i, (w, b) in enumerate(zip(mlp.w, mlp.b)):
        ws = np.max(np.abs(w)) / 127
        wq = np.clip(np.round(w.T / ws), -127, 127).astype(np.int8)            # [out, in]
        bq = np.round(b / (scales[i] * ws)).astype("<i4")
        wt = tensor(list(wq.shape), S.TensorType.INT8, ws, 0, wq, f"w{i}")
        bt = tensor([len(b)], S.TensorType.INT32, scales[i] * ws, 0, bq, f"b{i}")
        y = tensor([1, w.shape[1]], S.TensorType.INT8, scales[i + 1], zeros[i + 1], name=f"h{i}")
        op = S.OperatorT(); op.opcodeIndex = 0; op.inputs = [x, wt, bt]; op.outputs = [y]
        options = S.FullyConnectedOptionsT()
        options.fusedActivationFunction = S.ActivationFunctionType.RELU if i < len(mlp.w) - 1 else S.ActivationFunctionType.NONE
        op.builtinOptionsType = S.BuiltinOptions.FullyConnectedOptions; op.builtinOptions = options
        operators.append(op)
        x = y
    out = tensor([1, 1], S.TensorType.INT8, 1 / 256, -128, name="speech_probability")
    op = S.OperatorT(); op.opcodeIndex = 1; op.inputs = [x]; op.outputs = [out]; operators.append(op)
    codes = []
    for code in (S.BuiltinOperator.FULLY_CONNECTED, S.BuiltinOperator.LOGISTIC):
        c = S.OperatorCodeT(); c.builtinCode = code; c.deprecatedBuiltinCode = code; c.version = 1; codes.append(c)
    graph = S.SubGraphT(); graph.tensors = tensors; graph.inputs = [graph_input]; graph.outputs = [out]; graph.operators = operators
    model = S.ModelT(); model.version = 3; model.operatorCodes = codes; model.subgraphs = [graph]; model.buffers = buffers
    model.description = b"Earshot VAD: MLP over 10 frontend frames, int8"
    builder = flatbuffers.Builder(4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def run_int8(model_bytes, x):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_content=model_bytes, num_threads=1, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    out = np.empty(len(x), dtype=np.int16)
    for k in range(len(x)):
        it.set_tensor(i, x[k:k + 1]); it.invoke(); out[k] = it.get_tensor(o)[0, 0]
    return (out.astype(np.float64) + 128) / 256


def metrics(p, y, threshold):
    pred = p >= threshold
    tp = np.sum(pred & (y == 1)); fp = np.sum(pred & (y == 0)); fn = np.sum(~pred & (y == 1))
    precision = tp / max(1, tp + fp); recall = tp / max(1, tp + fn)
    f1 = 2 * precision * recall / max(1e-9, precision + recall)
    # ROC-AUC from ranks (Mann–Whitney U), ties averaged.
    positives, negatives = int(np.sum(y == 1)), int(np.sum(y == 0))
    if positives and negatives:
        order = np.argsort(p, kind="stable")
        ranks = np.empty(len(p)); ranks[order] = np.arange(1, len(p) + 1)
        _, inverse, counts = np.unique(p, return_inverse=True, return_counts=True)
        sums = np.bincount(inverse, weights=ranks); ranks = (sums / counts)[inverse]
        auc = float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))
    else:
        auc = float("nan")
    return {"f1": float(f1), "precision": float(precision), "recall": float(recall), "auc": auc,
            "false_alarm": float(fp / max(1, np.sum(y == 0)))}


def main():
    global CONTEXT, HIDDEN
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.path.join(ROOT, ".build-vad"))
    parser.add_argument("--out", default=os.path.join(ROOT, "Models", "vad", "earshot-vad-en"))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--context", type=int, default=10)
    parser.add_argument("--hidden", default=",".join(map(str, HIDDEN)))
    args = parser.parse_args()
    CONTEXT = args.context
    HIDDEN = tuple(int(h) for h in args.hidden.split(","))
    rng = np.random.default_rng(7)
    train_q = to_int8(np.load(os.path.join(args.data, "train_features.npy")))
    train_x8, train_y, _ = windows(train_q, np.load(os.path.join(args.data, "train_labels.npy")))
    train_x = (train_x8.astype(np.float64) + 128) / 256
    split = int(len(train_x) * 0.95)
    mlp = MLP(rng, [CONTEXT * CHANNELS, *HIDDEN, 1])
    pos_weight = (1 - train_y[:split].mean()) / max(1e-6, train_y[:split].mean())
    for epoch in range(args.epochs):
        order = rng.permutation(split)
        lr = 2e-3 * (0.6 ** epoch)
        for start in range(0, split, 1024):
            batch = order[start:start + 1024]
            mlp.step(train_x[batch], train_y[batch].astype(np.float64), lr, pos_weight)
        val = metrics(mlp.predict(train_x[split:]), train_y[split:], 0.5)
        print(f"epoch {epoch}: validation F1 {val['f1']:.3f} AUC {val['auc']:.3f}")
    model_bytes = write_tflite(mlp, train_x[rng.choice(split, 20000, replace=False)])
    os.makedirs(args.out, exist_ok=True)
    open(os.path.join(args.out, "model.tflite"), "wb").write(model_bytes)

    test_q = to_int8(np.load(os.path.join(args.data, "test_features.npy")))
    test_x8, test_y, blocks = windows(test_q, np.load(os.path.join(args.data, "test_labels.npy")))
    p_float = mlp.predict((test_x8.astype(np.float64) + 128) / 256)
    p_int8 = run_int8(model_bytes, test_x8)
    report = {"float": metrics(p_float, test_y, 0.5), "int8": metrics(p_int8, test_y, 0.5)}
    facts = json.load(open(os.path.join(args.data, "test_facts.json")))
    owner = np.concatenate([[i] * f["blocks"] for i, f in enumerate(facts)])[blocks]
    slices = {}
    for i, f in enumerate(facts):
        key = f"{f['noise']} noise only" if f["snr"] is None or (i >= len(facts) - 14) else f"{f['noise']} @ {'clean' if f['snr'] >= 60 else int(f['snr'])} dB"
        slices.setdefault(key, []).append(i)
    report["slices"] = {k: metrics(p_int8[np.isin(owner, v)], test_y[np.isin(owner, v)], 0.5) for k, v in sorted(slices.items())}
    manifest = {"name": "earshot-vad-en", "version": "0.1.0", "kind": "vad", "labels": ["speech"],
                "frontend": {"window_ms": 30, "stride_ms": 10, "channels": 40, "tables": "microFrontend"},
                "feature_scaling": "micro_speech", "window_frames": CONTEXT, "hop_frames": 1, "lookback_blocks": LOOKBACK,
                "accept_threshold": 0.5, "model_sha256": hashlib.sha256(model_bytes).hexdigest()}
    json.dump(manifest, open(os.path.join(args.out, "manifest.json"), "w"), indent=2)
    json.dump(report, open(os.path.join(args.out, "evaluation.json"), "w"), indent=2)
    print(json.dumps({"float": report["float"], "int8": report["int8"]}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
