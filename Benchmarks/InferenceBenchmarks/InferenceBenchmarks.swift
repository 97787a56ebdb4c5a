import Benchmark
import EarshotInference
import Foundation

/// The package root (Benchmarks/..), to find fixtures and the oracle venv.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// Path of a microWakeWord model inside the oracle venv (scripts/oracles/install-venv.sh), if installed.
func wakeWordModel(_ name: String) -> String? {
    let lib = root + "/.venv-oracles/lib"
    guard let python = try? FileManager.default.contentsOfDirectory(atPath: lib).first(where: { $0.hasPrefix("python") }) else { return nil }
    let path = "\(lib)/\(python)/site-packages/pymicro_wakeword/models/\(name).tflite"
    return FileManager.default.fileExists(atPath: path) ? path : nil
}

/// Deterministic pseudo-random bytes in input 0.
func fillInput(_ interpreter: Interpreter) throws {
    let input = try interpreter.input(0)
    var state: UInt32 = 7
    for i in 0..<input.info.byteCount {
        state = state &* 1_664_525 &+ 1_013_904_223
        input.data.storeBytes(of: UInt8(truncatingIfNeeded: state >> 24), toByteOffset: i, as: UInt8.self)
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal], warmupIterations: 20,
                                           maxDuration: .seconds(3))
    var models = [("micro_speech", root + "/../shared/fixtures/tflm-micro-speech/micro_speech_quantized.tflite")]
    for name in ["okay_nabu", "hey_jarvis"] { if let path = wakeWordModel(name) { models.append((name, path)) } }
    // Earshot's shipped recognisers: one invoke is one utterance (1 s for command-en, 4 s for phrase-en).
    models += [("command-en", root + "/Models/command/command-en/model.tflite"), ("phrase-en", root + "/Models/phrase/phrase-en/model.tflite")]
    for (name, path) in models {
        Benchmark("Interpreter.invoke \(name)") { benchmark in
            let interpreter = try Interpreter(model: try Model(contentsOf: path))
            try fillInput(interpreter)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                try interpreter.invoke()
                blackHole(interpreter)
            }
        }
        Benchmark("Interpreter.invoke \(name) (reference kernels)") { benchmark in
            let interpreter = try Interpreter(model: try Model(contentsOf: path), kernels: .reference)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { try interpreter.invoke() }
        }
        // Ten invocations per iteration: mallocs above the harness floor here are allocations inside invoke().
        Benchmark("Interpreter.invoke \(name) ×10 (allocation check)") { benchmark in
            let interpreter = try Interpreter(model: try Model(contentsOf: path))
            try fillInput(interpreter)
            try interpreter.invoke()
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                for _ in 0..<10 { try interpreter.invoke() }
            }
        }
    }
}
