import EarshotMonitoring
import Foundation
import Testing

@Suite("Signal statistics")
struct SignalStatisticsTests {
    static func analyse(_ samples: [Float], rate: Int = 16_000, channels: Int = 1) -> SignalStatistics {
        var analyzer = SignalAnalyzer(sampleRate: rate, channels: channels)
        samples.withUnsafeBufferPointer { analyzer.add($0.baseAddress!, frames: samples.count / channels) }
        return analyzer.result()
    }

    static func sine(_ amplitude: Float, frequency: Float = 440, count: Int = 16_000) -> [Float] {
        (0..<count).map { amplitude * sin(2 * .pi * frequency * Float($0) / 16_000) }
    }

    @Test func fullScaleSineReadsMinus3dBFSRMSAndZeroPeak() {
        let s = Self.analyse(Self.sine(1.0))
        #expect(abs(s.rmsDBFS - -3.0103) < 0.01)
        #expect(abs(s.peakDBFS) < 0.01)
        #expect(s.clippedPercent > 0, "the crests sit on the rails")
    }

    @Test func halfScaleSineIsSixDecibelsDown() {
        let s = Self.analyse(Self.sine(0.5))
        #expect(abs(s.rmsDBFS - (-3.0103 - 6.0206)) < 0.01)
        #expect(s.clippedPercent == 0)
    }

    @Test func dcOffsetIsMeasuredAndNotCountedAsNoise() {
        let samples = Self.sine(0.01).map { $0 + 0.1 }
        let s = Self.analyse(samples)
        #expect(abs(s.dcOffset - 0.1) < 1e-4)
        // AC frame levels ignore the DC: the floor is the sine's level (−43 dBFS), not the DC's (−20 dBFS).
        #expect(abs(s.noiseFloorDBFS - (-3.0103 - 40)) < 0.5)
    }

    @Test func noiseFloorAndSNRFollowQuietAndLoudStretches() {
        var generator = SystemRandomNumberGenerator()
        var samples: [Float] = []
        for second in 0..<10 {
            let loud = second % 3 == 1
            for i in 0..<16_000 {
                let noise = Float.random(in: -1...1, using: &generator) * 0.001 * 1.732   // uniform, RMS 0.001 → −60 dBFS
                let tone: Float = loud ? 0.1 * 1.4142 * sin(2 * .pi * 300 * Float(i) / 16_000) : 0   // RMS 0.1 → −20 dBFS
                samples.append(noise + tone)
            }
        }
        let s = Self.analyse(samples)
        #expect(abs(s.noiseFloorDBFS - -60) < 1)
        #expect(abs(s.signalLevelDBFS - -20) < 1)
        #expect(abs(s.snrDB - 40) < 2)
    }

    @Test func silenceReadsTheFloorNotMinusInfinity() {
        let s = Self.analyse([Float](repeating: 0, count: 8_000))
        #expect(s.rmsDBFS == Decibels.floor && s.peakDBFS == Decibels.floor)
        #expect(s.snrDB == 0)
        #expect(s.frames == 8_000)
    }

    @Test func clippingIsCountedOnEveryChannel() {
        // Stereo: the left channel clips on 10 of 100 frames, the right never.
        var samples: [Float] = []
        for i in 0..<100 { samples += [i % 10 == 0 ? 1.0 : 0.2, 0.1] }
        let s = Self.analyse(samples, channels: 2)
        #expect(abs(s.clippedPercent - 5) < 1e-9)
        #expect(s.frames == 100)
    }
}

@Suite("Level meter")
struct LevelMeterTests {
    @Test func oneReadingPerWindowWithPeakAndClips() {
        var meter = LevelMeter(windowSamples: 4)
        var readings: [LevelReading] = []
        meter.add([16_384, -16_384, 16_384, -16_384, 32_767, 0, 0, 0, 5] as [Int16]) { readings.append($0) }
        #expect(readings.count == 2)
        #expect(abs(readings[0].rmsDBFS - -6.0206) < 0.001)
        #expect(abs(readings[0].peakDBFS - -6.0206) < 0.001)
        #expect(readings[0].clippedSamples == 0)
        #expect(readings[1].clippedSamples == 1)
        #expect(meter.flush()?.samples == 1)
        #expect(meter.flush() == nil)
    }
}

@Suite("Level histogram")
struct LevelHistogramTests {
    @Test func percentilesComeFromBinCentres() {
        var histogram = LevelHistogram()
        for level in stride(from: -100.0, through: -1.0, by: 1.0) { histogram.add(level) }
        #expect(abs((histogram.percentile(0.10) ?? 0) - -90.875) < 0.2)
        #expect(abs((histogram.percentile(0.5) ?? 0) - -50.875) < 0.2)
        #expect(LevelHistogram().percentile(0.5) == nil)
        histogram.add(.nan)
        histogram.add(1e9)
        #expect(histogram.total == 102)
    }
}
