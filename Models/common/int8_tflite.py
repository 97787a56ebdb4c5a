"""What the command and phrase recipes share: Earshot's int8 feature scaling, Keras → int8 TFLite conversion with the
input quantisation the runtime needs, and running the int8 model with LiteRT."""
import tempfile

import numpy as np


def to_int8(features):
    """TFLM micro_speech scaling of frontend features, exactly as Earshot's Frontend.microSpeechInt8 does it."""
    return np.clip((features.astype(np.int64) * 256 + 333) // 666 - 128, -128, 127).astype(np.int8)


def as_float(q):
    """The float value an int8 feature q stands for, (q + 128) / 256 in [0, 1), with a channel axis for Keras."""
    return ((q.astype(np.float32) + 128) / 256)[..., None]


def convert_int8(tf, model, representative, frames, channels):
    """Keras → int8 TFLite (int8 input and output) through a SavedModel export with batch 1, fixed: a static graph
    (a dynamic batch turns reshapes into SHAPE/STRIDED_SLICE/PACK operators)."""
    with tempfile.TemporaryDirectory() as tmp:
        model.export(tmp, verbose=False, input_signature=[tf.TensorSpec([1, frames, channels, 1], tf.float32)])
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]

        def samples():
            # The corners first, so the input's range is exactly [0, 255/256] (scale 1/256, zero point −128).
            yield [as_float(np.full((1, frames, channels), -128, np.int8))]
            yield [as_float(np.full((1, frames, channels), 127, np.int8))]
            for x in representative:
                yield [as_float(x[None])]
        converter.representative_dataset = samples
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        return converter.convert()


def run_int8(model_bytes, x, reference=False):
    """Dequantised outputs and the raw int8 outputs (one row per input, batch axis dropped) from LiteRT; with
    `reference`, its reference kernels, which Earshot equals bit for bit."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    kwargs = {"experimental_op_resolver_type": OpResolverType.BUILTIN_REF} if reference else {}
    it = Interpreter(model_content=model_bytes, num_threads=1, **kwargs)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    if tuple(inp["quantization"]) != (1 / 256, -128):
        raise SystemExit(f"input quantisation is {inp['quantization']}; the runtime needs scale 1/256, zero point -128")
    scale, zero = out["quantization"]
    raw = np.empty((len(x), *out["shape"][1:]), dtype=np.int8)
    for k in range(len(x)):
        it.set_tensor(inp["index"], x[k].reshape(inp["shape"]))
        it.invoke()
        raw[k] = it.get_tensor(out["index"])[0]
    return (raw.astype(np.float64) - zero) * scale, raw
