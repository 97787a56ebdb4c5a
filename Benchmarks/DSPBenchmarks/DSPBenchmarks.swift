import Benchmark
import EarshotDSP
import Foundation

/// One second of speech-like audio: a gliding voiced tone with noise.
func speechLike(_ count: Int) -> [Int16] {
    var state: UInt32 = 12_345
    return (0..<count).map { i in
        state = state &* 1_664_525 &+ 1_013_904_223
        let t = Double(i) / 16_000
        let voiced = 6_000 * sin(2 * Double.pi * (140 + 40 * sin(2 * Double.pi * 2 * t)) * t)
        return Int16(voiced + Double(Int32(bitPattern: state) >> 20))
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal], warmupIterations: 5,
                                           maxDuration: .seconds(3))
    // One iteration = one second of audio = 49 frames (20 ms stride) or 98 frames (10 ms stride).
    for (name, configuration, frames) in [("micro_speech 30 ms / 20 ms", FrontendConfiguration.microSpeech, 49),
                                          ("microWakeWord 30 ms / 10 ms", FrontendConfiguration.microWakeWord, 98)] {
        Benchmark("Frontend \(name), 1 s of audio (\(frames) frames)") { benchmark in
            let frontend = try Frontend(configuration)
            let audio = speechLike(16_000)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                frontend.reset()
                var produced = 0
                audio.withUnsafeBufferPointer { buffer in
                    var offset = 0
                    while offset < buffer.count {
                        var consumed = 0
                        if frontend.process(UnsafeBufferPointer(rebasing: buffer[offset...]), consumed: &consumed) { produced += 1 }
                        offset += consumed
                    }
                }
                blackHole(produced)
            }
        }
    }
    Benchmark("FixedPointFFT 512-point real") { benchmark in
        let fft = FixedPointFFT(size: 512)
        let input = speechLike(512)
        var output = [ComplexInt16](repeating: ComplexInt16(real: 0, imag: 0), count: 257)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            input.withUnsafeBufferPointer { fft.transform($0.baseAddress!, into: &output) }
            blackHole(output)
        }
    }
}
