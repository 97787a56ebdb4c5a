/// Turns any interleaved float stream into the pipeline's format: 16 kHz mono `Int16`.
///
/// Channel selection happens first, then resampling, then rounding to 16 bits with saturation.
/// A 16 kHz mono 16-bit source comes out bit for bit as it went in.
public final class StreamConverter {
    /// The rate every Earshot stage downstream of audio input works at.
    public static let pipelineRate = 16_000

    public let inputRate: Int
    public let channels: Int
    public let selection: ChannelSelection
    private let resampler: Resampler
    private var mono: [Float] = []
    private var resampled: [Float] = []

    /// Creates a converter for `channels` interleaved channels at `inputRate` Hz.
    public init(inputRate: Int, channels: Int, selection: ChannelSelection = .downmix,
                outputRate: Int = StreamConverter.pipelineRate, quality: ResamplerQuality = .medium) throws(AudioError) {
        guard (1...64).contains(channels) else {
            throw AudioError(.invalidArgument, "A stream must have 1…64 channels, got \(channels).")
        }
        try selection.validate(channels: channels)
        self.inputRate = inputRate
        self.channels = channels
        self.selection = selection
        self.resampler = try Resampler(inputRate: inputRate, outputRate: outputRate, quality: quality)
    }

    /// Converts `frames` interleaved frames and appends 16 kHz mono samples to `output`.
    public func convert(_ interleaved: UnsafePointer<Float>, frames: Int, endOfInput: Bool = false, appendingTo output: inout [Int16]) throws(AudioError) {
        if mono.count < frames { mono = [Float](repeating: 0, count: frames) }
        mono.withUnsafeMutableBufferPointer { selection.mix(interleaved, frames: frames, channels: channels, into: $0.baseAddress!) }
        resampled.removeAll(keepingCapacity: true)
        try mono.withUnsafeBufferPointer { (buffer) throws(AudioError) in
            try resampler.process(UnsafeBufferPointer(rebasing: buffer[0..<frames]), endOfInput: endOfInput, appendingTo: &resampled)
        }
        output.reserveCapacity(output.count + resampled.count)
        for sample in resampled { output.append(Self.quantize(sample)) }
    }

    /// Flushes the resampler's tail at the end of a stream.
    public func finish(appendingTo output: inout [Int16]) throws(AudioError) {
        var none: Float = 0
        try convert(&none, frames: 0, endOfInput: true, appendingTo: &output)
    }

    /// Rounds a float in [-1, 1) to the nearest `Int16`, saturating out-of-range values.
    @inline(__always)
    public static func quantize(_ sample: Float) -> Int16 {
        let scaled = (sample * 32_768).rounded()
        if scaled.isNaN { return 0 }
        if scaled >= 32_767 { return .max }
        if scaled <= -32_768 { return .min }
        return Int16(scaled)
    }
}
