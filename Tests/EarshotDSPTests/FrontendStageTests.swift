import EarshotDSP
import Foundation
import Testing

@Suite("Fixed-point FFT")
struct FixedPointFFTTests {
    /// The DFT of `x` divided by N (the fixed-point FFT scales by 1/N), in Double.
    static func referenceDFT(_ x: [Int16]) -> [(Double, Double)] {
        let n = x.count
        return (0...(n / 2)).map { k in
            var re = 0.0, im = 0.0
            for (i, v) in x.enumerated() {
                let angle = -2 * Double.pi * Double(k * i) / Double(n)
                re += Double(v) * cos(angle)
                im += Double(v) * sin(angle)
            }
            return (re / Double(n), im / Double(n))
        }
    }

    @Test(arguments: [16, 64, 512, 480, 240, 250, 98])
    func matchesAFloatDFTWithinTheFixedPointBound(size: Int) {
        var generator = SystemRandomNumberGenerator()
        let input = (0..<size).map { _ in Int16.random(in: -16_000...16_000, using: &generator) }
        let fft = FixedPointFFT(size: size)
        var output = [ComplexInt16](repeating: ComplexInt16(real: 0, imag: 0), count: size / 2 + 1)
        input.withUnsafeBufferPointer { fft.transform($0.baseAddress!, into: &output) }
        let reference = Self.referenceDFT(input)
        // Each of log_radix(N) stages rounds once per part; a few LSB in all is the kissfft int16 error budget.
        let worst = zip(output, reference).map { max(abs(Double($0.real) - $1.0), abs(Double($0.imag) - $1.1)) }.max() ?? 0
        #expect(worst <= 4, "size \(size): worst error \(worst) LSB")
    }

    @Test(arguments: [(512, [4, 128, 4, 32, 4, 8, 4, 2, 2, 1]), (240, [4, 60, 4, 15, 3, 5, 5, 1]), (98, [2, 49, 7, 7, 7, 1])])
    func factorsLikeKissFFT(size: Int, expected: [Int]) {
        #expect(FixedPointFFT.factor(size) == expected)
    }
}

@Suite("Bits")
struct BitsTests {
    @Test func squareRootRoundsToNearestForEvery16BitSquareNeighbourhood() {
        for root in stride(from: UInt32(0), through: 65_535, by: 97) {
            for delta in [-1, 0, 1] as [Int64] {
                let value = Int64(root) * Int64(root) + delta
                guard value >= 0, value <= Int64(UInt32.max) else { continue }
                let exact = Double(value).squareRoot()
                let result = Bits.squareRoot(UInt32(value))
                #expect(abs(Double(result) - exact) <= 0.5 + 1e-9 || result == 0xFFFF, "√\(value) = \(result)")
            }
        }
    }

    @Test func sixtyFourBitSquareRootIsWithinOne() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let value = UInt64.random(in: (1 << 32)...(1 << 62), using: &generator)
            let exact = Double(value).squareRoot()
            #expect(abs(Double(Bits.squareRoot(value)) - exact) <= 1)
        }
    }

    @Test func mostSignificantBitCountsBits() {
        #expect(Bits.mostSignificantBit(UInt32(0)) == 0)
        #expect(Bits.mostSignificantBit(UInt32(1)) == 1)
        #expect(Bits.mostSignificantBit(UInt32(0x8000_0000)) == 32)
        #expect(Bits.mostSignificantBit(UInt64(1) << 40) == 41)
    }
}

@Suite("Frontend streaming")
struct FrontendStreamingTests {
    static func speechLikeSignal(_ count: Int) -> [Int16] {
        (0..<count).map { i in
            let t = Double(i) / 16_000
            let envelope = 0.5 + 0.5 * sin(2 * Double.pi * 3 * t)
            return Int16(8_000 * envelope * sin(2 * Double.pi * 440 * t) + 2_000 * sin(2 * Double.pi * 2_100 * t))
        }
    }

    @Test(arguments: [1, 7, 160, 480, 1_000])
    func chunkSizeDoesNotChangeTheFeatures(chunk: Int) throws {
        let signal = Self.speechLikeSignal(16_000)
        let whole = try Frontend(.microSpeech).frames(of: signal)
        let frontend = try Frontend(.microSpeech)
        var frames: [[UInt16]] = []
        var offset = 0
        signal.withUnsafeBufferPointer { buffer in
            while offset < buffer.count {
                let end = min(buffer.count, offset + chunk)
                var position = offset
                while position < end {
                    var consumed = 0
                    if frontend.process(UnsafeBufferPointer(rebasing: buffer[position..<end]), consumed: &consumed) {
                        frames.append(Array(UnsafeBufferPointer(start: frontend.features, count: 40)))
                    }
                    position += consumed
                }
                offset = end
            }
        }
        #expect(frames == whole)
        #expect(whole.count == 49)
    }

    @Test func resetStartsOver() throws {
        let frontend = try Frontend(.microSpeech)
        let signal = Self.speechLikeSignal(8_000)
        let first = frontend.frames(of: signal)
        frontend.reset()
        #expect(frontend.frames(of: signal) == first)
    }

    @Test func frameCountFollowsWindowAndStride() {
        #expect(FrontendConfiguration.microSpeech.frameCount(samples: 16_000) == 49)
        #expect(FrontendConfiguration.microWakeWord.frameCount(samples: 16_000) == 98)
        #expect(FrontendConfiguration.microSpeech.frameCount(samples: 479) == 0)
    }

    @Test(arguments: [
        { (c: inout FrontendConfiguration) in c.channelCount = 0 },
        { (c: inout FrontendConfiguration) in c.upperBandLimit = 9_000 },
        { (c: inout FrontendConfiguration) in c.strideMs = 40 },
        { (c: inout FrontendConfiguration) in c.evenSmoothing = 1.5 },
        { (c: inout FrontendConfiguration) in c.sampleRate = 4_000 },
    ] as [@Sendable (inout FrontendConfiguration) -> Void])
    func badSettingsAreRejectedWithAMessage(change: @Sendable (inout FrontendConfiguration) -> Void) {
        var configuration = FrontendConfiguration()
        change(&configuration)
        #expect(throws: FrontendError.self) { try Frontend(configuration) }
    }

    @Test func louderSpeechGivesLargerFeaturesAndSilenceGivesZeros() throws {
        let quiet = try Frontend(.microSpeech).frames(of: [Int16](repeating: 0, count: 16_000))
        #expect(quiet.allSatisfy { $0.allSatisfy { $0 == 0 } })
        let loud = try Frontend(.microSpeech).frames(of: Self.speechLikeSignal(16_000))
        #expect(loud[5].reduce(0) { $0 + Int($1) } > 0)
    }

    @Test func int8ScalingMatchesTheMicroSpeechFormula() {
        #expect(Frontend.microSpeechInt8(0) == -128)
        #expect(Frontend.microSpeechInt8(333) == 0)
        #expect(Frontend.microSpeechInt8(666) == 127)
        #expect(Frontend.microSpeechInt8(65_535) == 127)
        #expect(Frontend.microSpeechInt8(100) == Int8((100 * 256 + 333) / 666 - 128))
    }
}
