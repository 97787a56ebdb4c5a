/// Level facts about a stretch of audio: what `earshot info` prints and what the input monitors record.
public struct SignalStatistics: Sendable, Hashable, Codable {
    /// Frames analysed (samples per channel).
    public var frames: Int64
    /// RMS over all samples, dBFS.
    public var rmsDBFS: Double
    /// Largest absolute sample, dBFS.
    public var peakDBFS: Double
    /// Share of samples at or beyond full scale, in percent.
    public var clippedPercent: Double
    /// Mean sample value as a fraction of full scale (a DC offset points at a faulty microphone bias).
    public var dcOffset: Double
    /// Estimated background level: the 10th percentile of 20 ms frame levels, dBFS.
    public var noiseFloorDBFS: Double
    /// Estimated foreground level: the 95th percentile of 20 ms frame levels, dBFS.
    public var signalLevelDBFS: Double
    /// `signalLevelDBFS − noiseFloorDBFS`: a rough SNR that needs no labels.
    public var snrDB: Double
}

/// Accumulates `SignalStatistics` over interleaved float audio in constant memory.
///
/// Frame levels are AC power (each frame's mean removed per channel), so a DC offset does not pass for noise.
public struct SignalAnalyzer: Sendable {
    /// Full scale is [-1, 1); a sample whose magnitude reaches 32767/32768 counts as clipped (the 16-bit rails).
    public static let clipThreshold: Float = 32_767.0 / 32_768.0
    public let channels: Int
    public let frameLength: Int
    private var sampleCount: Int64 = 0
    private var sum = 0.0
    private var sumOfSquares = 0.0
    private var peak: Float = 0
    private var clipped: Int64 = 0
    private var histogram = LevelHistogram()
    private var frameSum: [Double]
    private var frameSquares: [Double]
    private var frameFill = 0

    /// Analyses `channels`-channel audio at `sampleRate`, with levels taken over `frameSeconds` blocks.
    public init(sampleRate: Int, channels: Int, frameSeconds: Double = 0.02) {
        precondition(sampleRate > 0 && channels > 0)
        self.channels = channels
        self.frameLength = max(1, Int(Double(sampleRate) * frameSeconds))
        frameSum = [Double](repeating: 0, count: channels)
        frameSquares = [Double](repeating: 0, count: channels)
    }

    /// Adds `frames` interleaved frames.
    public mutating func add(_ interleaved: UnsafePointer<Float>, frames: Int) {
        for f in 0..<frames {
            for c in 0..<channels {
                let x = interleaved[f * channels + c]
                let magnitude = abs(x)
                if magnitude > peak { peak = magnitude }
                if magnitude >= Self.clipThreshold { clipped += 1 }
                let value = Double(x)
                sum += value
                sumOfSquares += value * value
                frameSum[c] += value
                frameSquares[c] += value * value
            }
            frameFill += 1
            if frameFill == frameLength { closeFrame() }
        }
        sampleCount += Int64(frames * channels)
    }

    private mutating func closeFrame() {
        let n = Double(frameFill)
        var power = 0.0
        for c in 0..<channels {
            let mean = frameSum[c] / n
            power += max(0, frameSquares[c] / n - mean * mean)
            frameSum[c] = 0
            frameSquares[c] = 0
        }
        histogram.add(Decibels.fromPower(power / Double(channels)))
        frameFill = 0
    }

    /// The statistics so far (a final partial frame counts if it is at least half a frame long).
    public func result() -> SignalStatistics {
        var copy = self
        if copy.frameFill * 2 >= copy.frameLength { copy.closeFrame() }
        let count = Double(max(1, sampleCount))
        let noise = copy.histogram.percentile(0.10) ?? Decibels.floor
        let signal = copy.histogram.percentile(0.95) ?? Decibels.floor
        return SignalStatistics(
            frames: sampleCount / Int64(channels),
            rmsDBFS: Decibels.fromPower(sumOfSquares / count),
            peakDBFS: Decibels.fromAmplitude(Double(peak)),
            clippedPercent: sampleCount > 0 ? 100 * Double(clipped) / count : 0,
            dcOffset: sum / count,
            noiseFloorDBFS: noise,
            signalLevelDBFS: signal,
            snrDB: max(0, signal - noise))
    }
}
