internal import CSampleRate

/// Quality settings of the band-limited sinc converter (libsamplerate's `SRC_SINC_*`).
public enum ResamplerQuality: String, Sendable, CaseIterable, Codable {
    /// 97 dB SNR, 80 % passband (flat to 6.4 kHz at 16 kHz output). Cheapest.
    case fastest
    /// 121 dB SNR, 90 % passband (flat to 7.2 kHz). The default: covers the frontend's 7.5 kHz top band nearly whole.
    case medium
    /// 145 dB SNR, 97 % passband (flat to 7.76 kHz). Several times the cost of `medium`.
    case best

    var converterType: Int32 {
        switch self {
        case .fastest: Int32(SRC_SINC_FASTEST)
        case .medium: Int32(SRC_SINC_MEDIUM_QUALITY)
        case .best: Int32(SRC_SINC_BEST_QUALITY)
        }
    }
}

/// A streaming mono sample-rate converter over libsamplerate; a plain copy when the rates are equal.
///
/// Equal rates never touch libsamplerate, so 16 kHz input passes through bit for bit.
public final class Resampler {
    /// Input rate in Hz.
    public let inputRate: Int
    /// Output rate in Hz.
    public let outputRate: Int
    private let state: OpaquePointer?   // SRC_STATE *, owned here; nil for a pass-through
    private let ratio: Double

    /// Creates a converter from `inputRate` to `outputRate` (each 1 Hz…768 kHz).
    public init(inputRate: Int, outputRate: Int, quality: ResamplerQuality = .medium) throws(AudioError) {
        guard (1...768_000).contains(inputRate), (1...768_000).contains(outputRate) else {
            throw AudioError(.invalidArgument, "Sample rates must be 1…768000 Hz, got \(inputRate) → \(outputRate).")
        }
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.ratio = Double(outputRate) / Double(inputRate)
        guard inputRate != outputRate else { state = nil; return }
        guard src_is_valid_ratio(ratio) != 0 else {
            throw AudioError(.invalidArgument, "libsamplerate cannot convert \(inputRate) Hz to \(outputRate) Hz (ratio beyond 256).")
        }
        var error: Int32 = 0
        guard let created = src_new(quality.converterType, 1, &error) else {
            throw AudioError(.resamplerFailed, "Could not create a \(quality) resampler.", cause: String(cString: src_strerror(error)))
        }
        state = created
    }

    deinit { if let state { src_delete(state) } }

    /// True when input and output rates are equal and samples are copied unchanged.
    public var isPassThrough: Bool { state == nil }

    /// The most output samples `count` input samples can produce (for sizing buffers).
    public func maximumOutputCount(forInput count: Int) -> Int {
        Int((Double(count) * ratio).rounded(.up)) + 64
    }

    /// Converts as much of `input` as fits into `output`. Set `endOfInput` on the last call to flush the filter tail.
    /// The corresponding C function is `src_process`. Allocates nothing.
    /// - Returns: input samples consumed and output samples produced; call again with the rest until both reach zero.
    public func process(_ input: UnsafeBufferPointer<Float>, endOfInput: Bool,
                        into output: UnsafeMutableBufferPointer<Float>) throws(AudioError) -> (consumed: Int, produced: Int) {
        guard let state else {
            let n = min(input.count, output.count)
            if n > 0 { output.baseAddress!.update(from: input.baseAddress!, count: n) }
            return (n, n)
        }
        var data = SRC_DATA()
        data.data_in = input.baseAddress.map { UnsafePointer($0) }
        data.input_frames = input.count
        data.data_out = output.baseAddress
        data.output_frames = output.count
        data.src_ratio = ratio
        data.end_of_input = endOfInput ? 1 : 0
        let status = src_process(state, &data)
        guard status == 0 else {
            throw AudioError(.resamplerFailed, "Resampling \(inputRate) Hz → \(outputRate) Hz failed.", cause: String(cString: src_strerror(status)))
        }
        return (data.input_frames_used, data.output_frames_gen)
    }

    /// Forgets all history, as if newly created (after a capture gap).
    public func reset() {
        if let state { src_reset(state) }
    }
}
