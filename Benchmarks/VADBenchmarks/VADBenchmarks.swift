import Benchmark
import EarshotVAD
import Foundation

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal], warmupIterations: 3,
                                           maxDuration: .seconds(4))
    // One iteration: one second of speech-like audio → 100 probabilities (frontend + int8 model per 10 ms block).
    Benchmark("VoiceActivityDetector, 1 s of audio (100 blocks of 10 ms)") { benchmark in
        let detector = try VoiceActivityDetector(bundle: root + "/Models/vad/earshot-vad-en")
        var state: UInt32 = 1
        let audio: [Int16] = (0..<16_000).map { i in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Int16(5_000 * sin(2 * Double.pi * 180 * Double(i) / 16_000) + Double(Int32(bitPattern: state) >> 20))
        }
        var sum: Int32 = 0
        try audio.withUnsafeBufferPointer { buffer in try detector.process(buffer) { _, p in sum &+= p } }   // fill the context
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try audio.withUnsafeBufferPointer { buffer in try detector.process(buffer) { _, p in sum &+= p } }
        }
        blackHole(sum)
    }
}
