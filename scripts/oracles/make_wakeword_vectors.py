#!/usr/bin/env python3
"""Reference vectors for Earshot's interpreter on the microWakeWord models shipped in pymicro-wakeword.

For each model (okay_nabu, hey_jarvis, alexa, hey_mycroft) and each clip, the package's own pipeline runs:
its micro frontend (10 ms stride), its int8 input quantisation, and its bundled TensorFlow Lite C library,
invoked every 3 feature frames with state kept between invocations (streaming). We record every invocation's
int8 input and raw uint8 output. The models themselves are not committed: tests read them from an installed
pymicro-wakeword (scripts/oracles/install-venv.sh).

Usage: python3 scripts/oracles/make_wakeword_vectors.py
"""
import json
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.abspath(os.path.join(ROOT, "..", "shared", "fixtures"))
OUT = os.path.join(ROOT, "Tests", "EarshotInferenceTests", "Vectors")
DSP_AUDIO = os.path.join(ROOT, "Tests", "EarshotDSPTests", "Vectors", "audio")
MODELS = ["okay_nabu", "hey_jarvis", "alexa", "hey_mycroft"]


def read_wav(path):
    with wave.open(path, "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


def espeak(text, voice, speed):
    with tempfile.TemporaryDirectory() as tmp:
        wav, raw = os.path.join(tmp, "s.wav"), os.path.join(tmp, "s.raw")
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", wav, text], check=True)
        subprocess.run(["sox", wav, "-r", "16000", "-c", "1", "-b", "16", "-e", "signed", "-t", "raw", raw], check=True)
        return np.fromfile(raw, dtype="<i2")


def clips():
    result = {}
    for name in ["yes", "no", "noise", "silence"]:
        result[f"speech_commands_{name}"] = read_wav(os.path.join(FIXTURES, "tflm-micro-speech", f"{name}_1000ms.wav"))
    result["pocketsphinx_goforward"] = np.fromfile(os.path.join(FIXTURES, "pocketsphinx", "goforward.raw"), dtype="<i2")
    for name in ["espeak_okay_nabu", "espeak_hey_jarvis"]:
        result[name] = np.fromfile(os.path.join(DSP_AUDIO, f"{name}.raw"), dtype="<i2")
    os.makedirs(os.path.join(OUT, "audio"), exist_ok=True)
    for name, text, voice in [("espeak_alexa", "alexa", "en-us"), ("espeak_hey_mycroft", "hey mycroft", "en")]:
        samples = espeak(text, voice, 145)
        samples.astype("<i2").tofile(os.path.join(OUT, "audio", f"{name}.raw"))
        result[name] = samples
    # Okay Nabu said twice with a pause, to exercise the streaming state across a long input.
    pause = np.zeros(8000, dtype="<i2")
    result["espeak_okay_nabu_twice"] = np.concatenate([result["espeak_okay_nabu"], pause, result["espeak_okay_nabu"]])
    return result


def run(model_name, samples):
    from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model
    mww = MicroWakeWord.from_builtin(Model(model_name))
    features = MicroWakeWordFeatures()
    inputs, outputs = [], []
    pending = []
    for frame in features.process_streaming(samples.astype("<i2").tobytes()):
        pending.append(frame)
        if len(pending) == mww.stride:
            quantized = np.round(np.concatenate(pending, axis=1) / mww.input_scale + mww.input_zero_point)
            inputs.append(quantized.astype(int).flatten().tolist())
            pending = []
        before = len(mww._probabilities)
        mww.process_streaming_prob(frame)
        if len(mww._probabilities) != before or (before == mww.sliding_window_size and len(pending) == 0):
            probability = mww._probabilities[-1]
            outputs.append(int(round(probability / mww.output_scale + mww.output_zero_point)))
    return {"inputs": inputs, "outputs": outputs, "input_scale": mww.input_scale, "input_zero_point": mww.input_zero_point,
            "output_scale": mww.output_scale, "output_zero_point": mww.output_zero_point, "stride": mww.stride}


def litert_reference(model_name, inputs):
    """The same int8 inputs through LiteRT's reference kernels (BUILTIN_REF), streaming state kept."""
    import pymicro_wakeword
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    path = os.path.join(os.path.dirname(pymicro_wakeword.__file__), "models", f"{model_name}.tflite")
    interpreter = Interpreter(model_path=path, num_threads=1, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    detail_in, detail_out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    outputs = []
    for x in inputs:
        interpreter.set_tensor(detail_in["index"], np.array(x, dtype=np.int8).reshape(detail_in["shape"]))
        interpreter.invoke()
        outputs.append(int(interpreter.get_tensor(detail_out["index"]).flatten()[0]))
    return outputs


def main():
    from importlib.metadata import version
    data = clips()
    result = {"meta": {"generator": "scripts/oracles/make_wakeword_vectors.py", "pymicro-wakeword": version("pymicro-wakeword"),
                       "pymicro-features": version("pymicro-features"),
                       "ai-edge-litert": version("ai-edge-litert"),
                       "note": "outputs: the package's TFLite C library (LiteRT optimised kernels, single rounding); "
                               "litert_reference_outputs: LiteRT BUILTIN_REF kernels (double rounding)"}, "models": {}}
    for model in MODELS:
        result["models"][model] = {}
        for name, samples in data.items():
            r = run(model, samples)
            r["litert_reference_outputs"] = litert_reference(model, r["inputs"])
            assert len(r["inputs"]) == len(r["outputs"]), (model, name, len(r["inputs"]), len(r["outputs"]))
            result["models"][model][name] = r
            print(model, name, len(r["outputs"]), "invocations, max output", max(r["outputs"]) if r["outputs"] else None)
    with open(os.path.join(OUT, "wakeword_reference.json"), "w") as f:
        json.dump(result, f, separators=(",", ":"))


if __name__ == "__main__":
    sys.exit(main())
