#!/usr/bin/env python3
"""Reference vectors for Earshot's fixed-point frontend, from two independent implementations.

1. The tflite-micro package runs TFLM's own audio preprocessor model (signal-library ops:
   window, FFT auto-scale, RFFT, energy, filterbank, sqrt, spectral subtraction, PCAN, log),
   30 ms window / 20 ms stride, int8 features, and then the micro_speech model on 49 frames.
2. pymicro-features runs the classic TFLM micro frontend C library (30 ms / 10 ms, uint16 features
   reported as floats of 1/25.6).

The audio: the fixture clips in ../shared/fixtures, plus clips this script makes deterministically
(espeak-ng speech and seeded stress signals) that are committed next to the vectors, so the Swift
tests read exactly the samples the oracles saw.

Usage: python3 scripts/oracles/make_frontend_vectors.py   (needs the packages in requirements.txt,
espeak-ng and sox). Writes Tests/EarshotDSPTests/Vectors/.
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
OUT = os.path.join(ROOT, "Tests", "EarshotDSPTests", "Vectors")
SEED = 20261127


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1 and w.getframerate() == 16000, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


def read_raw(path):
    return np.fromfile(path, dtype="<i2")


def espeak(text, voice, speed):
    """16 kHz mono int16 speech from espeak-ng, resampled by sox."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "s.wav")
        raw = os.path.join(tmp, "s.raw")
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", wav, text], check=True)
        subprocess.run(["sox", wav, "-r", "16000", "-c", "1", "-b", "16", "-e", "signed", "-t", "raw", raw], check=True)
        return read_raw(raw)


def generated_clips():
    rng = np.random.default_rng(SEED)
    clips = {}
    clips["espeak_okay_nabu"] = espeak("okay nabu", "en-us", 150)
    clips["espeak_hey_jarvis"] = espeak("hey jarvis", "en", 140)
    clips["espeak_yes_no_stop"] = espeak("yes. no. stop.", "en-gb", 160)
    t = np.arange(16000) / 16000.0
    # Full-scale white noise and a clipped square: the 16-bit arithmetic's overflow edges.
    clips["stress_white_fullscale"] = rng.integers(-32768, 32768, 16000, dtype=np.int64).astype("<i2")
    clips["stress_square_clipped"] = np.where(np.sin(2 * np.pi * 440 * t) >= 0, 32767, -32768).astype("<i2")
    # A chirp 50 Hz → 7.9 kHz at −12 dBFS, and near-silence (±1 LSB dither).
    chirp = 0.25 * np.sin(2 * np.pi * (50 * t + (7850 / 2) * t * t))
    clips["stress_chirp"] = np.round(chirp * 32767).astype("<i2")
    clips["stress_lsb_dither"] = rng.integers(-1, 2, 16000, dtype=np.int64).astype("<i2")
    return clips


def fixture_clips():
    clips = {}
    for name in ["yes", "no", "noise", "silence"]:
        clips[f"speech_commands_{name}"] = read_wav(os.path.join(FIXTURES, "tflm-micro-speech", f"{name}_1000ms.wav"))
    clips["pocketsphinx_goforward"] = read_raw(os.path.join(FIXTURES, "pocketsphinx", "goforward.raw"))
    clips["librivox_0880"] = read_wav(os.path.join(FIXTURES, "pocketsphinx", "sense_and_sensibility_01_austen_64kb-0880.wav"))
    return clips


def signal_preprocessor(samples):
    """TFLM audio_preprocessor_int8.tflite, one invoke per 30 ms window every 20 ms, state kept across frames."""
    from tflite_micro.python.tflite_micro import runtime
    model = os.path.join(FIXTURES, "tflm-micro-speech", "audio_preprocessor_int8.tflite")
    interpreter = runtime.Interpreter.from_file(model)
    frames = []
    for start in range(0, len(samples) - 480 + 1, 320):
        interpreter.set_input(samples[start:start + 480].reshape(1, 480), 0)
        interpreter.invoke()
        frames.append(interpreter.get_output(0).flatten().astype(int).tolist())
    return frames


def micro_speech_scores(frames):
    from tflite_micro.python.tflite_micro import runtime
    model = os.path.join(FIXTURES, "tflm-micro-speech", "micro_speech_quantized.tflite")
    interpreter = runtime.Interpreter.from_file(model)
    interpreter.set_input(np.array(frames[:49], dtype=np.int8).reshape(1, 1960), 0)
    interpreter.invoke()
    return interpreter.get_output(0).flatten().astype(int).tolist()


def classic_frontend(samples):
    """pymicro-features (the TFLM micro frontend C library), fed in 10 ms chunks as microWakeWord does."""
    from pymicro_features import MicroFrontend
    frontend = MicroFrontend()
    audio = samples.astype("<i2").tobytes()
    frames = []
    index = 0
    while index + 320 <= len(audio):
        result = frontend.process_samples(audio[index:index + 320])
        index += result.samples_read * 2
        if result.features:
            values = [v / 0.0390625 for v in result.features]
            rounded = [int(round(v)) for v in values]
            assert all(abs(v - r) < 1e-3 for v, r in zip(values, rounded)), "features are not multiples of 1/25.6"
            frames.append(rounded)
    return frames


def model_tables():
    """The constants inside the preprocessor model, to check Earshot builds the same tables."""
    from ai_edge_litert import schema_py_generated as schema
    from flatbuffers import flexbuffers
    path = os.path.join(FIXTURES, "tflm-micro-speech", "audio_preprocessor_int8.tflite")
    data = open(path, "rb").read()
    model = schema.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)
    types = {2: np.int32, 7: np.int16, 9: np.int8, 15: np.uint32}
    tensors = {}
    for i in range(graph.TensorsLength()):
        t = graph.Tensors(i)
        buffer = model.Buffers(t.Buffer()).DataAsNumpy()
        if not isinstance(buffer, int) and t.Type() in types:
            tensors[t.Name().decode()] = np.frombuffer(buffer.tobytes(), dtype=types[t.Type()]).astype(int).tolist()
    options = {}
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex()).CustomCode()
        if code and op.CustomOptionsLength():
            options[code.decode()] = flexbuffers.Loads(bytes(op.CustomOptionsAsNumpy()))
    return {
        "window": tensors["Const"],
        "filterbank_weights": tensors["signal_filter_bank/Const"],
        "filterbank_unweights": tensors["signal_filter_bank/Const_1"],
        "filterbank_frequency_starts": tensors["signal_filter_bank/Const_2"],
        "filterbank_weight_starts": tensors["signal_filter_bank/Const_3"],
        "filterbank_widths": tensors["signal_filter_bank/Const_4"],
        "pcan_gain_lut": tensors["signal_pcan/Const"],
        "energy": options["SignalEnergy"],
        "spectral_subtraction": options["SignalFilterBankSpectralSubtraction"],
        "pcan": options["SignalPCAN"],
        "log": options["SignalFilterBankLog"],
    }


def main():
    os.makedirs(os.path.join(OUT, "audio"), exist_ok=True)
    clips = {**fixture_clips(), **generated_clips()}
    for name, samples in clips.items():
        if not name.startswith(("speech_commands_", "pocketsphinx_", "librivox_")):
            samples.astype("<i2").tofile(os.path.join(OUT, "audio", f"{name}.raw"))
    preprocessor, classic, scores = {}, {}, {}
    for name, samples in clips.items():
        preprocessor[name] = signal_preprocessor(samples)
        classic[name] = classic_frontend(samples)
        if name.startswith("speech_commands_"):
            scores[name] = micro_speech_scores(preprocessor[name])
        print(f"{name}: {len(samples)} samples, {len(preprocessor[name])} preprocessor frames, {len(classic[name])} classic frames")
    meta = {"generator": "scripts/oracles/make_frontend_vectors.py", "seed": SEED,
            "versions": {m: __import__("importlib.metadata").metadata.version(m) for m in ["tflite-micro", "pymicro-features", "ai-edge-litert", "numpy"]}}
    with open(os.path.join(OUT, "frontend_signal_preprocessor_int8.json"), "w") as f:
        json.dump({"meta": meta, "window_ms": 30, "stride_ms": 20, "frames": preprocessor, "micro_speech_scores": scores}, f, separators=(",", ":"))
    with open(os.path.join(OUT, "frontend_classic_uint16.json"), "w") as f:
        json.dump({"meta": meta, "window_ms": 30, "stride_ms": 10, "frames": classic}, f, separators=(",", ":"))
    with open(os.path.join(OUT, "frontend_model_tables.json"), "w") as f:
        json.dump({"meta": meta, **model_tables()}, f, separators=(",", ":"))
    print("scores:", scores)


if __name__ == "__main__":
    sys.exit(main())
