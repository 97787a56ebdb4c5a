import Benchmark
import EarshotAudio
import Foundation

/// One second of a speech-like test signal (two tones and a sweep) at `rate`, interleaved `channels`.
func testSignal(rate: Int, channels: Int = 1) -> [Float] {
    (0..<rate).flatMap { i -> [Float] in
        let t = Float(i) / Float(rate)
        let x = 0.3 * sin(2 * .pi * 220 * t) + 0.2 * sin(2 * .pi * 1_700 * t) + 0.1 * sin(2 * .pi * (300 + 3_000 * t) * t)
        return [Float](repeating: x, count: channels)
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal], warmupIterations: 3,
                                           maxDuration: .seconds(3))

    // The harness's own floor: what an empty measured loop reports, to subtract from the rows below.
    Benchmark("Baseline (empty loop)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(benchmark) }
    }

    // Cost of turning one second of device audio into one second of 16 kHz mono Int16.
    for (rate, channels) in [(48_000, 1), (48_000, 2), (44_100, 1), (16_000, 1), (8_000, 1)] {
        for quality in ResamplerQuality.allCases where rate != 16_000 || quality == .medium {
            let name = rate == 16_000 ? "StreamConverter 16000 Hz → 16 kHz (pass-through), 1 s"
                                      : "StreamConverter \(rate) Hz \(channels) ch → 16 kHz, \(quality), 1 s"
            Benchmark(name) { benchmark in
                let input = testSignal(rate: rate, channels: channels)
                let converter = try StreamConverter(inputRate: rate, channels: channels, quality: quality)
                var output: [Int16] = []
                output.reserveCapacity(20_000)
                let period = rate / 50
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    output.removeAll(keepingCapacity: true)
                    try input.withUnsafeBufferPointer { pointer in
                        var frame = 0
                        while frame < rate {   // 20 ms periods, as capture delivers them
                            try converter.convert(pointer.baseAddress! + frame * channels, frames: period, appendingTo: &output)
                            frame += period
                        }
                    }
                    blackHole(output)
                }
            }
        }
    }

    Benchmark("SampleRing write+read, 1 s of 16 kHz in 20 ms blocks") { benchmark in
        let ring = SampleRing(capacity: 32_000)
        let block = [Int16](repeating: 7, count: 320)
        var out = [Int16](repeating: 0, count: 320)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            for _ in 0..<50 {
                block.withUnsafeBufferPointer { ring.write($0) }
                _ = try out.withUnsafeMutableBufferPointer { try ring.read(into: $0, timeout: 0) }
            }
            blackHole(out)
        }
    }
}
