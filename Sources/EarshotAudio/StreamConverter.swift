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
    private var mono = [Float](repeating: 0, count: 4_096)
    private var resampled = [Float](repeating: 0, count: 4_096)

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
    /// Allocation-free once its scratch buffers have grown to the largest chunk seen (and `output` has capacity).
    public func convert(_ interleaved: UnsafePointer<Float>, frames: Int, endOfInput: Bool = false, appendingTo output: inout [Int16]) throws(AudioError) {
        if mono.count < frames { mono = [Float](repeating: 0, count: frames) }
        let needed = resampler.maximumOutputCount(forInput: frames)
        if resampled.count < needed { resampled = [Float](repeating: 0, count: needed) }
        try mono.withUnsafeMutableBufferPointer { (monoBuffer) throws(AudioError) in
            selection.mix(interleaved, frames: frames, channels: channels, into: monoBuffer.baseAddress!)
            try resampled.withUnsafeMutableBufferPointer { (outBuffer) throws(AudioError) in
                var consumed = 0
                while true {
                    let input = UnsafeBufferPointer(rebasing: monoBuffer[consumed..<frames])
                    let (used, produced) = try resampler.process(input, endOfInput: endOfInput, into: outBuffer)
                    for i in 0..<produced { output.append(Self.quantize(outBuffer[i])) }
                    consumed += used
                    // Done when all input is in and, at the end of a stream, the filter tail has drained.
                    if consumed >= frames && (!endOfInput || produced == 0) { break }
                    if used == 0 && produced == 0 { break }
                }
            }
        }
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
