#!/usr/bin/env python3
"""Reference per-block VAD probabilities for the fixture clips, computed independently of Earshot's Swift VAD:
features from `earshot features` (the frontend, itself checked against TFLM), int8 scaling in NumPy, the 24-frame
windows and 2-block look-back of the manifest, and LiteRT's reference kernels running model.tflite. These are the
model's scores: the runtime's level gate (VoiceActivityDetector.levelFloorDBFS) is not applied, and the test turns it off.

Usage: python3 Models/vad/recipe/reference_scores.py   (writes Tests/EarshotVADTests/Vectors/reference_scores.json)
"""
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BUNDLE = os.path.join(ROOT, "Models", "vad", "earshot-vad-en")
FIXTURES = os.path.join(ROOT, "..", "shared", "fixtures")
CLIPS = {"yes": "tflm-micro-speech/yes_1000ms.wav", "no": "tflm-micro-speech/no_1000ms.wav",
         "silence": "tflm-micro-speech/silence_1000ms.wav", "noise": "tflm-micro-speech/noise_1000ms.wav",
         "librivox_0880": "pocketsphinx/sense_and_sensibility_01_austen_64kb-0880.wav"}


def main():
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    manifest = json.load(open(os.path.join(BUNDLE, "manifest.json")))
    context, lookback = manifest["window_frames"], manifest["lookback_blocks"]
    earshot = os.path.join(ROOT, ".build", "release", "earshot")
    interpreter = Interpreter(model_path=os.path.join(BUNDLE, "model.tflite"), num_threads=1,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    i, o = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    result = {"meta": {"generator": "Models/vad/recipe/reference_scores.py", "resolver": "BUILTIN_REF", "model_sha256": manifest["model_sha256"]}, "clips": {}}
    for name, relative in CLIPS.items():
        path = os.path.join(FIXTURES, relative)
        raw = subprocess.run([earshot, "features", path, "--stride-ms", "10", "--tables", "microFrontend", "--format", "raw"],
                             check=True, capture_output=True).stdout
        frames = np.frombuffer(raw, dtype="<u2").reshape(-1, 40).astype(np.int64)
        q = np.clip((frames * 256 + 333) // 666 - 128, -128, 127).astype(np.int8)
        samples = int(subprocess.run(["soxi", "-s", path], check=True, capture_output=True, text=True).stdout)
        blocks = samples // 160
        scores = [0] * blocks
        for k in range(context - 1, len(q)):
            interpreter.set_tensor(i, q[k - context + 1:k + 1].reshape(1, -1))
            interpreter.invoke()
            if k + lookback < blocks:
                scores[k + lookback] = int(interpreter.get_tensor(o)[0, 0]) + 128   # probability × 256
        result["clips"][name] = {"file": relative, "scores_x256": scores}
    json.dump(result, open(os.path.join(ROOT, "Tests", "EarshotVADTests", "Vectors", "reference_scores.json"), "w"), separators=(",", ":"))
    print({k: sum(v["scores_x256"]) for k, v in result["clips"].items()})


if __name__ == "__main__":
    sys.exit(main())
