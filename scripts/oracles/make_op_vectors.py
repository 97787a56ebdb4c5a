#!/usr/bin/env python3
"""Single-operator int8 models with random shapes and quantisation, and LiteRT's outputs for them.

Each model is written with the TFLite flatbuffer schema (no TensorFlow needed), run by ai-edge-litert with its
reference kernels (BUILTIN_REF) and with its default optimised kernels, and committed with random inputs and both
outputs. Earshot's interpreter must equal the reference outputs exactly.

Usage: python3 scripts/oracles/make_op_vectors.py   (writes Tests/EarshotInferenceTests/Vectors/ops/)
"""
import json
import os
import sys

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as S
from ai_edge_litert.interpreter import Interpreter, OpResolverType

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "EarshotInferenceTests", "Vectors", "ops")
SEED = 20261127
CASES = 8
T = S.TensorType
B = S.BuiltinOperator
O = S.BuiltinOptions


class Graph:
    def __init__(self, rng):
        self.rng = rng
        self.tensors, self.buffers = [], [S.BufferT()]

    def tensor(self, shape, type_, scale=None, zero_point=None, data=None, name=None, dimension=0):
        t = S.TensorT()
        t.shape = list(shape)
        t.type = type_
        t.name = (name or f"t{len(self.tensors)}").encode()
        if data is not None:
            buffer = S.BufferT()
            buffer.data = list(np.asarray(data).tobytes())
            self.buffers.append(buffer)
            t.buffer = len(self.buffers) - 1
        else:
            t.buffer = 0
        if scale is not None:
            q = S.QuantizationParametersT()
            q.scale = [float(s) for s in np.atleast_1d(scale)]
            q.zeroPoint = [int(z) for z in np.atleast_1d(zero_point)]
            q.quantizedDimension = dimension
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def int8(self, shape, name=None):
        return self.tensor(shape, T.INT8, scale=self.rng.uniform(0.005, 0.2), zero_point=int(self.rng.integers(-128, 128)), name=name)

    def model(self, code, inputs, outputs, graph_inputs, options_type=0, options=None):
        op = S.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = 0, inputs, outputs
        if options is not None:
            op.builtinOptionsType, op.builtinOptions = options_type, options
        graph = S.SubGraphT()
        graph.tensors, graph.inputs, graph.outputs, graph.operators = self.tensors, graph_inputs, outputs, [op]
        code_t = S.OperatorCodeT()
        code_t.builtinCode, code_t.deprecatedBuiltinCode, code_t.version = code, min(code, 127), 1
        model = S.ModelT()
        model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code_t], [graph], self.buffers
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def activation(rng):
    return int(rng.choice([S.ActivationFunctionType.NONE, S.ActivationFunctionType.RELU, S.ActivationFunctionType.RELU6]))


def bias_for(g, rng, input_index, filter_scales, count):
    scales = g.tensors[input_index].quantization.scale[0] * np.asarray(filter_scales)
    return g.tensor([count], T.INT32, scale=scales if len(scales) > 1 else scales[0], zero_point=[0] * len(scales),
                    data=rng.integers(-2000, 2000, count).astype("<i4"))


def _requantize(acc, multiplier, shift, single):
    """Both TFLite requantisations, in Python integers (for choosing distinguishing cases)."""
    if single:
        total = 31 - shift
        return (acc * multiplier + (1 << (total - 1))) >> total
    product = acc * (1 << max(shift, 0)) * multiplier
    nudge = (1 << 30) if product >= 0 else 1 - (1 << 30)
    high = -((-(product + nudge)) >> 31) if product + nudge < 0 else (product + nudge) >> 31
    exponent = max(-shift, 0)
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    return (high >> exponent) + (1 if (high & mask) > threshold else 0)


def fully_connected_wide(rng):
    """Deep dot products with unclamped outputs, kept only when one-step and two-step requantisation disagree on some
    output: these cases tell the two apart (LiteRT's reference FULLY_CONNECTED rounds once, TFLM twice)."""
    import math
    while True:
        g = Graph(rng)
        depth, outputs = int(rng.integers(64, 400)), int(rng.integers(8, 48))
        x = g.int8([1, depth])
        w_scale = rng.uniform(0.001, 0.05)
        weights = rng.integers(-127, 128, (outputs, depth)).astype(np.int8)
        w = g.tensor([outputs, depth], T.INT8, scale=w_scale, zero_point=0, data=weights)
        b = bias_for(g, rng, x, [w_scale], outputs)
        y = g.tensor([1, outputs], T.INT8, scale=g.tensors[x].quantization.scale[0] * w_scale * np.sqrt(depth) * 0.6,
                     zero_point=int(rng.integers(-20, 20)))
        o = S.FullyConnectedOptionsT(); o.fusedActivationFunction = S.ActivationFunctionType.NONE
        model = g.model(B.FULLY_CONNECTED, [x, w, b], [y], [x], O.FullyConnectedOptions, o)
        values = rng.integers(-128, 128, depth)
        qi, qo = g.tensors[x].quantization, g.tensors[y].quantization
        real = float(np.float32(qi.scale[0])) * float(np.float32(w_scale)) / float(np.float32(qo.scale[0]))
        fraction, shift = math.frexp(real)
        multiplier = int(round(fraction * 2 ** 31))
        bias = np.frombuffer(bytes(g.buffers[g.tensors[b].buffer].data), dtype="<i4")
        for k in range(outputs):
            acc = int(np.sum(weights[k].astype(np.int64) * (values - qi.zeroPoint[0]))) + int(bias[k])
            one, two = (min(max(_requantize(acc, multiplier, shift, s) + qo.zeroPoint[0], -128), 127) for s in (True, False))
            if one != two:
                return model, [values.tolist()]


def fully_connected(rng):
    g = Graph(rng)
    batches, depth, outputs = int(rng.integers(1, 4)), int(rng.integers(1, 40)), int(rng.integers(1, 20))
    x = g.int8([batches, depth])
    w_scale = rng.uniform(0.001, 0.05)
    w = g.tensor([outputs, depth], T.INT8, scale=w_scale, zero_point=0, data=rng.integers(-127, 128, (outputs, depth)).astype(np.int8))
    b = bias_for(g, rng, x, [w_scale], outputs)
    y = g.int8([batches, outputs])
    o = S.FullyConnectedOptionsT(); o.fusedActivationFunction = activation(rng)
    return g.model(B.FULLY_CONNECTED, [x, w, b], [y], [x], O.FullyConnectedOptions, o)


def conv_geometry(size, kernel, stride, dilation, same):
    effective = (kernel - 1) * dilation + 1
    return (size + stride - 1) // stride if same else (size + stride - effective) // stride


def conv2d(rng):
    g = Graph(rng)
    h, w_, c = int(rng.integers(3, 10)), int(rng.integers(3, 10)), int(rng.integers(1, 6))
    oc, kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    sh, sw, dh, dw = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 2))
    same = bool(rng.integers(0, 2))
    oh, ow = conv_geometry(h, kh, sh, dh, same), conv_geometry(w_, kw, sw, dw, same)
    if oh < 1 or ow < 1:
        return conv2d(rng)
    x = g.int8([1, h, w_, c])
    scales = rng.uniform(0.001, 0.05, oc)
    f = g.tensor([oc, kh, kw, c], T.INT8, scale=scales, zero_point=[0] * oc, dimension=0,
                 data=rng.integers(-127, 128, (oc, kh, kw, c)).astype(np.int8))
    b = bias_for(g, rng, x, scales, oc)
    y = g.int8([1, oh, ow, oc])
    o = S.Conv2DOptionsT()
    o.padding = S.Padding.SAME if same else S.Padding.VALID
    o.strideH, o.strideW, o.dilationHFactor, o.dilationWFactor = sh, sw, dh, dw
    o.fusedActivationFunction = activation(rng)
    return g.model(B.CONV_2D, [x, f, b], [y], [x], O.Conv2DOptions, o)


def depthwise_model(g, rng, h, w_, c, m, kh, kw, sh, sw, dh, dw, same):
    """A DEPTHWISE_CONV_2D model for the given geometry (random per-channel weights, bias and activation)."""
    oh, ow = conv_geometry(h, kh, sh, dh, same), conv_geometry(w_, kw, sw, dw, same)
    x = g.int8([1, h, w_, c])
    scales = rng.uniform(0.001, 0.05, c * m)
    f = g.tensor([1, kh, kw, c * m], T.INT8, scale=scales, zero_point=[0] * (c * m), dimension=3,
                 data=rng.integers(-127, 128, (1, kh, kw, c * m)).astype(np.int8))
    b = bias_for(g, rng, x, scales, c * m)
    y = g.int8([1, oh, ow, c * m])
    o = S.DepthwiseConv2DOptionsT()
    o.padding = S.Padding.SAME if same else S.Padding.VALID
    o.strideH, o.strideW, o.depthMultiplier, o.dilationHFactor, o.dilationWFactor = sh, sw, m, dh, dw
    o.fusedActivationFunction = activation(rng)
    return g.model(B.DEPTHWISE_CONV_2D, [x, f, b], [y], [x], O.DepthwiseConv2DOptions, o)


def depthwise(rng):
    g = Graph(rng)
    h, w_, c, m = int(rng.integers(3, 10)), int(rng.integers(1, 8)), int(rng.integers(1, 6)), int(rng.integers(1, 3))
    kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, min(3, w_) + 1))
    sh, sw, dh = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
    same = bool(rng.integers(0, 2))
    if conv_geometry(h, kh, sh, dh, same) < 1 or conv_geometry(w_, kw, sw, 1, same) < 1:
        return depthwise(rng)
    return depthwise_model(g, rng, h, w_, c, m, kh, kw, sh, sw, dh, 1, same)


def vectorised_channels(rng):
    """Channel counts that take Earshot's 8-channel SIMD depthwise paths: many channels with multiplier 1, or a
    multiplier that is a multiple of 8 over few channels (micro_speech's first layer is 1 channel × 8)."""
    if rng.random() < 0.5:
        return int(rng.choice([8, 16, 24])), 1
    return int(rng.integers(1, 3)), int(rng.choice([8, 16]))


def depthwise_vectorised(rng):
    """Depthwise shapes that take Earshot's 8-channel SIMD paths."""
    g = Graph(rng)
    c, m = vectorised_channels(rng)
    h, w_ = int(rng.integers(3, 12)), int(rng.integers(2, 10))
    kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, min(4, w_) + 1))
    sh, sw, dh = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
    same = bool(rng.integers(0, 2))
    if conv_geometry(h, kh, sh, dh, same) < 1 or conv_geometry(w_, kw, sw, 1, same) < 1:
        return depthwise_vectorised(rng)
    return depthwise_model(g, rng, h, w_, c, m, kh, kw, sh, sw, dh, 1, same)


def depthwise_dilated(rng):
    """The SIMD depthwise shapes with dilation along the width too (the C kernel's tap stride), and one-tap-wide
    filters (its column mode)."""
    g = Graph(rng)
    c, m = vectorised_channels(rng)
    h, w_ = int(rng.integers(4, 14)), int(rng.integers(3, 12))
    kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 4))
    sh, sw, dh, dw = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    same = bool(rng.integers(0, 2))
    if conv_geometry(h, kh, sh, dh, same) < 1 or conv_geometry(w_, kw, sw, dw, same) < 1:
        return depthwise_dilated(rng)
    return depthwise_model(g, rng, h, w_, c, m, kh, kw, sh, sw, dh, dw, same)


def pool(code):
    def make(rng):
        g = Graph(rng)
        h, w_, c = int(rng.integers(2, 9)), int(rng.integers(2, 9)), int(rng.integers(1, 5))
        fh, fw, sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
        same = bool(rng.integers(0, 2))
        oh, ow = conv_geometry(h, fh, sh, 1, same), conv_geometry(w_, fw, sw, 1, same)
        if oh < 1 or ow < 1:
            return make(rng)
        x = g.int8([1, h, w_, c])
        q = g.tensors[x].quantization
        y = g.tensor([1, oh, ow, c], T.INT8, scale=q.scale[0], zero_point=q.zeroPoint[0])
        o = S.Pool2DOptionsT()
        o.padding = S.Padding.SAME if same else S.Padding.VALID
        o.strideH, o.strideW, o.filterHeight, o.filterWidth = sh, sw, fh, fw
        o.fusedActivationFunction = activation(rng)
        return g.model(code, [x], [y], [x], O.Pool2DOptions, o)
    return make


def softmax(rng):
    g = Graph(rng)
    rows, depth = int(rng.integers(1, 4)), int(rng.integers(2, 30))
    x = g.int8([rows, depth])
    y = g.tensor([rows, depth], T.INT8, scale=1 / 256, zero_point=-128)
    o = S.SoftmaxOptionsT(); o.beta = float(rng.choice([1.0, 0.5, 2.0]))
    return g.model(B.SOFTMAX, [x], [y], [x], O.SoftmaxOptions, o)


def logistic(rng):
    g = Graph(rng)
    n = int(rng.integers(1, 64))
    x = g.int8([1, n])
    y = g.tensor([1, n], T.INT8, scale=1 / 256, zero_point=-128)
    return g.model(B.LOGISTIC, [x], [y], [x])


def elementwise(code, options_type, options_class):
    def make(rng):
        g = Graph(rng)
        shape = [int(v) for v in rng.integers(1, 5, int(rng.integers(1, 5)))]
        other = [d if rng.random() < 0.6 else 1 for d in shape][int(rng.integers(0, len(shape))):]
        a, b = g.int8(shape), g.int8(other)
        y = g.int8(shape)
        o = options_class(); o.fusedActivationFunction = activation(rng)
        return g.model(code, [a, b], [y], [a, b], options_type, o)
    return make


def mean(rng):
    g = Graph(rng)
    shape = [1, int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 5))]
    axes = sorted(set(int(a) for a in rng.choice([1, 2, 3], int(rng.integers(1, 3)), replace=False)))
    keep = bool(rng.integers(0, 2))
    x = g.int8(shape)
    axis = g.tensor([len(axes)], T.INT32, data=np.array(axes, dtype="<i4"))
    out_shape = [1 if i in axes else d for i, d in enumerate(shape)] if keep else [d for i, d in enumerate(shape) if i not in axes]
    y = g.int8(out_shape)
    o = S.ReducerOptionsT(); o.keepDims = keep
    return g.model(B.MEAN, [x, axis], [y], [x], O.ReducerOptions, o)


def concatenation(rng):
    g = Graph(rng)
    shape = [int(v) for v in rng.integers(1, 5, 3)]
    axis = int(rng.integers(0, 3))
    q = (rng.uniform(0.01, 0.1), int(rng.integers(-128, 128)))
    inputs = []
    for _ in range(int(rng.integers(2, 4))):
        s = list(shape); s[axis] = int(rng.integers(1, 4))
        inputs.append(g.tensor(s, T.INT8, scale=q[0], zero_point=q[1]))
    out = list(shape); out[axis] = sum(g.tensors[i].shape[axis] for i in inputs)
    y = g.tensor(out, T.INT8, scale=q[0], zero_point=q[1])
    o = S.ConcatenationOptionsT(); o.axis = axis - 3 if rng.random() < 0.5 else axis
    return g.model(B.CONCATENATION, inputs, [y], inputs, O.ConcatenationOptions, o)


def split_v(rng):
    g = Graph(rng)
    shape = [int(v) for v in rng.integers(1, 6, 3)]
    axis = int(rng.integers(0, 3)); shape[axis] = int(rng.integers(3, 9))
    q = (rng.uniform(0.01, 0.1), int(rng.integers(-128, 128)))
    x = g.tensor(shape, T.INT8, scale=q[0], zero_point=q[1])
    cut = int(rng.integers(1, shape[axis]))
    sizes = [cut, -1]
    s = g.tensor([2], T.INT32, data=np.array(sizes, dtype="<i4"))
    a = g.tensor([], T.INT32, data=np.array([axis], dtype="<i4"))
    outs = []
    for size in [cut, shape[axis] - cut]:
        o_shape = list(shape); o_shape[axis] = size
        outs.append(g.tensor(o_shape, T.INT8, scale=q[0], zero_point=q[1]))
    o = S.SplitVOptionsT(); o.numSplits = 2
    return g.model(B.SPLIT_V, [x, s, a], outs, [x], O.SplitVOptions, o)


def strided_slice(rng):
    g = Graph(rng)
    shape = [int(v) for v in rng.integers(2, 7, 3)]
    q = (rng.uniform(0.01, 0.1), int(rng.integers(-128, 128)))
    x = g.tensor(shape, T.INT8, scale=q[0], zero_point=q[1])
    begin = [int(rng.integers(-d, d)) for d in shape]
    end = [int(rng.integers(-d, d + 1)) for d in shape]
    strides = [int(rng.choice([1, 2, -1])) for _ in shape]
    bm, em, sm = int(rng.integers(0, 8)), int(rng.integers(0, 8)), int(rng.choice([0, 1, 4]))
    # A shrunk axis with a negative stride leaves LiteRT's output unwritten (an empty loop); TensorFlow never emits it.
    strides = [1 if sm & (1 << d) else s for d, s in enumerate(strides)]
    arr = np.arange(int(np.prod(shape))).reshape(shape)
    slices = []
    for d in range(3):
        if sm & (1 << d):
            b = begin[d] + shape[d] if begin[d] < 0 else begin[d]
            slices.append(b)
        else:
            slices.append(slice(None if bm & (1 << d) else begin[d], None if em & (1 << d) else end[d], strides[d]))
    out_shape = list(arr[tuple(slices)].shape)
    if 0 in out_shape:
        return strided_slice(rng)
    bt = g.tensor([3], T.INT32, data=np.array(begin, dtype="<i4"))
    et = g.tensor([3], T.INT32, data=np.array(end, dtype="<i4"))
    st = g.tensor([3], T.INT32, data=np.array(strides, dtype="<i4"))
    y = g.tensor(out_shape, T.INT8, scale=q[0], zero_point=q[1])
    o = S.StridedSliceOptionsT(); o.beginMask, o.endMask, o.shrinkAxisMask = bm, em, sm
    return g.model(B.STRIDED_SLICE, [x, bt, et, st], [y], [x], O.StridedSliceOptions, o)


def pad(rng):
    g = Graph(rng)
    shape = [int(v) for v in rng.integers(1, 5, 3)]
    q = (rng.uniform(0.01, 0.1), int(rng.integers(-128, 128)))
    x = g.tensor(shape, T.INT8, scale=q[0], zero_point=q[1])
    paddings = rng.integers(0, 3, (3, 2))
    p = g.tensor([3, 2], T.INT32, data=paddings.astype("<i4"))
    y = g.tensor([d + int(paddings[i].sum()) for i, d in enumerate(shape)], T.INT8, scale=q[0], zero_point=q[1])
    return g.model(B.PAD, [x, p], [y], [x], O.PadOptions, S.PadOptionsT())


def reshape(rng):
    g = Graph(rng)
    shape = [int(v) for v in rng.integers(1, 5, 3)]
    q = (rng.uniform(0.01, 0.1), int(rng.integers(-128, 128)))
    x = g.tensor(shape, T.INT8, scale=q[0], zero_point=q[1])
    new = [int(np.prod(shape))]
    s = g.tensor([1], T.INT32, data=np.array(new, dtype="<i4"))
    y = g.tensor(new, T.INT8, scale=q[0], zero_point=q[1])
    o = S.ReshapeOptionsT(); o.newShape = new
    return g.model(B.RESHAPE, [x, s], [y], [x], O.ReshapeOptions, o)


def quantize(rng):
    g = Graph(rng)
    n = int(rng.integers(1, 40))
    kind = int(rng.integers(0, 3))
    if kind == 0:
        x = g.tensor([n], T.FLOAT32)
        y = g.int8([n])
    elif kind == 1:
        x, y = g.int8([n]), g.int8([n])
    else:
        x = g.int8([n])
        y = g.tensor([n], T.UINT8, scale=rng.uniform(0.005, 0.2), zero_point=int(rng.integers(0, 256)))
    return g.model(B.QUANTIZE, [x], [y], [x], O.QuantizeOptions, S.QuantizeOptionsT())


def dequantize(rng):
    g = Graph(rng)
    n = int(rng.integers(1, 40))
    x = g.int8([n])
    y = g.tensor([n], T.FLOAT32)
    return g.model(B.DEQUANTIZE, [x], [y], [x], O.DequantizeOptions, S.DequantizeOptionsT())


OPS = {
    "fully_connected": fully_connected, "conv_2d": conv2d, "depthwise_conv_2d": depthwise,
    "average_pool_2d": pool(B.AVERAGE_POOL_2D), "max_pool_2d": pool(B.MAX_POOL_2D), "softmax": softmax,
    "logistic": logistic, "add": elementwise(B.ADD, O.AddOptions, S.AddOptionsT),
    "mul": elementwise(B.MUL, O.MulOptions, S.MulOptionsT), "mean": mean, "concatenation": concatenation,
    "split_v": split_v, "strided_slice": strided_slice, "pad": pad, "reshape": reshape, "quantize": quantize,
    "dequantize": dequantize, "fully_connected_wide": fully_connected_wide,
    "depthwise_vectorised": depthwise_vectorised, "depthwise_dilated": depthwise_dilated,
}


def run(model_bytes, inputs, resolver):
    interpreter = Interpreter(model_content=model_bytes, num_threads=1, experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    for detail, values in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], np.array(values, dtype=detail["dtype"]).reshape(detail["shape"]))
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]).flatten().tolist() for d in interpreter.get_output_details()]


def main():
    from importlib.metadata import version
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(SEED)
    cases = []
    differing = 0
    for op, make in OPS.items():
        # Convolutions and fully connected layers have fast variants in Earshot: give them more shapes.
        for n in range(CASES * 3 if op in ("conv_2d", "depthwise_conv_2d", "fully_connected", "fully_connected_wide", "depthwise_vectorised", "depthwise_dilated") else CASES):
            made = make(rng)
            model_bytes, chosen_inputs = made if isinstance(made, tuple) else (made, None)
            name = f"{op}_{n}"
            with open(os.path.join(OUT, f"{name}.tflite"), "wb") as f:
                f.write(model_bytes)
            probe = Interpreter(model_content=model_bytes)
            inputs = list(chosen_inputs or [])
            for d in probe.get_input_details()[len(inputs):]:
                if d["dtype"] == np.float32:
                    inputs.append(rng.uniform(-20, 20, d["shape"]).astype(np.float32).flatten().tolist())
                else:
                    inputs.append(rng.integers(-128, 128, d["shape"]).flatten().tolist())
            reference = run(model_bytes, inputs, OpResolverType.BUILTIN_REF)
            optimized = run(model_bytes, inputs, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            differing += reference != optimized
            cases.append({"name": name, "inputs": inputs, "reference": reference, "optimized": optimized})
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"meta": {"generator": "scripts/oracles/make_op_vectors.py", "seed": SEED, "ai-edge-litert": version("ai-edge-litert")},
                   "cases": cases}, f, separators=(",", ":"))
    print(f"{len(cases)} cases; reference and optimised kernels differ on {differing}")


if __name__ == "__main__":
    sys.exit(main())
