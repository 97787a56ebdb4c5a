#!/usr/bin/env python3
"""Peer timings for Benchmarks/README.md: LiteRT (ai-edge-litert) single-threaded on the same models, with its
default XNNPACK delegate, with optimised builtin kernels only, and with reference kernels; and pymicro-features
(the TFLM C micro frontend) per 10 ms chunk. Times are per call from Python; a no-op call's cost is reported so it
can be subtracted. Usage: python3 Benchmarks/peers/litert_peers.py (needs scripts/oracles/requirements.txt).
"""
import os
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def models():
    import pymicro_wakeword
    mww = os.path.join(os.path.dirname(pymicro_wakeword.__file__), "models")
    return [("micro_speech", os.path.join(ROOT, "..", "shared", "fixtures", "tflm-micro-speech", "micro_speech_quantized.tflite")),
            ("okay_nabu", os.path.join(mww, "okay_nabu.tflite")), ("hey_jarvis", os.path.join(mww, "hey_jarvis.tflite")),
            ("command-en", os.path.join(ROOT, "Models", "command", "command-en", "model.tflite")),
            ("phrase-en", os.path.join(ROOT, "Models", "phrase", "phrase-en", "model.tflite"))]


def per_call(fn, seconds=2.0):
    for _ in range(50):
        fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            fn()
        n += 100
    return (time.perf_counter() - start) / n * 1e6


def main():
    print("python no-op call: %.2f µs" % per_call(lambda: None))
    for name, path in models():
        for label, resolver in [("XNNPACK (default)", OpResolverType.AUTO), ("builtin, no delegate", OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES),
                                ("reference kernels", OpResolverType.BUILTIN_REF)]:
            interpreter = Interpreter(model_path=path, num_threads=1, experimental_op_resolver_type=resolver)
            interpreter.allocate_tensors()
            detail = interpreter.get_input_details()[0]
            interpreter.set_tensor(detail["index"], np.random.default_rng(7).integers(-128, 128, detail["shape"]).astype(detail["dtype"]))
            print("%-13s LiteRT %-22s %8.1f µs per invoke" % (name, label, per_call(interpreter.invoke)))
    from pymicro_features import MicroFrontend
    frontend = MicroFrontend()
    chunk = (np.random.default_rng(3).integers(-3000, 3000, 160)).astype("<i2").tobytes()
    print("pymicro-features (C micro frontend) per 10 ms chunk via Python: %.2f µs" % per_call(lambda: frontend.process_samples(chunk)))


if __name__ == "__main__":
    main()
