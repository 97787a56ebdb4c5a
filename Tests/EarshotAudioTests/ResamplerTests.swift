@testable import EarshotAudio
import EarshotTestSupport
import Foundation
import Testing

/// Resampling keeps frequency and level and keeps aliases and images out (libsamplerate, sinc).
@Suite("Resampler")
struct ResamplerTests {
    /// Converts a float tone to 16 kHz `Int16` through the same path capture and files use.
    static func convert(_ input: [Double], rate: Int, quality: ResamplerQuality = .medium) throws -> [Double] {
        let converter = try StreamConverter(inputRate: rate, channels: 1, quality: quality)
        var output: [Int16] = []
        let floats = input.map(Float.init)
        // Feed in uneven chunks, as a device would.
        var offset = 0
        var step = 157
        while offset < floats.count {
            let n = min(step, floats.count - offset)
            try floats.withUnsafeBufferPointer { try converter.convert($0.baseAddress! + offset, frames: n, appendingTo: &output) }
            offset += n
            step = step * 7 % 1_031 + 64
        }
        try converter.finish(appendingTo: &output)
        return output.map { Double($0) / 32_768 }
    }

    @Test(arguments: [44_100, 48_000, 8_000, 22_050, 32_000])
    func aOneKilohertzToneKeepsItsFrequencyAndLevelWithSpursBelowMinus60dB(rate: Int) throws {
        let amplitude = 0.5
        let output = try Self.convert(Spectrum.tone(frequency: 1_000, amplitude: amplitude, sampleRate: rate, seconds: 2), rate: rate)
        #expect(abs(output.count - 32_000) <= 2, "length follows the rate ratio")
        let middle = Array(output[4_000..<(4_000 + 16_384)])   // away from the filter's start-up and tail
        let levelError = 20 * log10(Spectrum.rms(middle) / (amplitude / 2.0.squareRoot()))
        #expect(abs(levelError) < 0.1, "level within 0.1 dB, got \(levelError) dB")
        let spectrum = Spectrum.relativeDecibels(middle, n: 16_384)
        #expect(abs(Spectrum.peakFrequency(spectrum, sampleRate: 16_000) - 1_000) < 1.5)
        let spur = Spectrum.strongestSpur(spectrum, sampleRate: 16_000, excluding: 1_000, guardHz: 8)
        #expect(spur < -60, "aliases and images at \(spur) dB")
    }

    @Test(arguments: [(44_100, 10_000.0), (48_000, 9_000.0), (48_000, 15_000.0), (44_100, 20_000.0)])
    func tonesAboveTheNewNyquistAreRemoved(rate: Int, frequency: Double) throws {
        let output = try Self.convert(Spectrum.tone(frequency: frequency, amplitude: 0.5, sampleRate: rate, seconds: 1), rate: rate)
        let residue = 20 * log10(max(1e-12, Spectrum.rms(output[2_000..<14_000])) / (0.5 / 2.0.squareRoot()))
        #expect(residue < -60, "a \(frequency) Hz tone at \(rate) Hz leaks \(residue) dB into 16 kHz")
    }

    @Test func upsamplingFrom8kHzHasNoImages() throws {
        let output = try Self.convert(Spectrum.tone(frequency: 1_000, amplitude: 0.5, sampleRate: 8_000, seconds: 2), rate: 8_000)
        let spectrum = Spectrum.relativeDecibels(Array(output[4_000..<(4_000 + 16_384)]), n: 16_384)
        let binHz = 16_000.0 / 16_384
        let image = spectrum[Int((7_000 / binHz).rounded())]   // the mirror of 1 kHz about 4 kHz
        #expect(image < -60)
    }

    @Test func sixteenKilohertzMonoPassesThroughBitExact() throws {
        let samples = try Fixtures.int16Samples(rawFile: Fixtures.path("pocketsphinx/goforward.raw"))
        let converter = try StreamConverter(inputRate: 16_000, channels: 1)
        var output: [Int16] = []
        let floats = samples.map { Float($0) / 32_768 }
        try floats.withUnsafeBufferPointer { try converter.convert($0.baseAddress!, frames: $0.count, appendingTo: &output) }
        try converter.finish(appendingTo: &output)
        #expect(firstDifference(output, samples) == nil)
    }

    @Test func quantizeRoundsAndSaturates() {
        #expect(StreamConverter.quantize(0) == 0)
        #expect(StreamConverter.quantize(1) == .max)
        #expect(StreamConverter.quantize(-1) == .min)
        #expect(StreamConverter.quantize(5) == .max)
        #expect(StreamConverter.quantize(-7) == .min)
        #expect(StreamConverter.quantize(.nan) == 0)
        #expect(StreamConverter.quantize(.infinity) == .max)
        #expect(StreamConverter.quantize(1.4 / 32_768) == 1)
        #expect(StreamConverter.quantize(-1.6 / 32_768) == -2)
    }

    @Test func impossibleRatesAreRejected() {
        #expect(throws: AudioError.self) { try Resampler(inputRate: 0, outputRate: 16_000) }
        #expect(throws: AudioError.self) { try Resampler(inputRate: 768_000, outputRate: 1_000) }
    }

    @Test(arguments: ResamplerQuality.allCases)
    func everyQualityMeetsTheSpurBound(quality: ResamplerQuality) throws {
        let output = try Self.convert(Spectrum.tone(frequency: 1_000, amplitude: 0.5, sampleRate: 48_000, seconds: 2), rate: 48_000, quality: quality)
        let spectrum = Spectrum.relativeDecibels(Array(output[4_000..<(4_000 + 16_384)]), n: 16_384)
        #expect(Spectrum.strongestSpur(spectrum, sampleRate: 16_000, excluding: 1_000, guardHz: 8) < -60)
    }
}
