/// How the frontend's float settings become integer tables. The two TFLM implementations differ in the last bit.
public enum FrontendTableConvention: String, Sendable, Hashable, Codable, CaseIterable {
    /// The C micro frontend (`*_util.c`, also TensorFlow's `audio_microfrontend` op and pymicro-features):
    /// single-precision maths, round half up.
    case microFrontend
    /// TFLM's signal-library Python generator (the tables inside `audio_preprocessor_int8.tflite`): a double-precision
    /// Hann window rounded half to even, filterbank weights truncated toward zero.
    case signalLibrary
}

/// Every setting of the fixed-point log-mel frontend. Defaults are TFLM's micro_speech settings.
///
/// The stages and their defaults mirror the TFLM micro frontend (`frontend_util.c`), so models trained on its
/// features run unchanged: 30 ms Hann window, 20 ms stride, 40 mel channels from 125 to 7500 Hz, noise reduction,
/// PCAN gain control and log scaling.
public struct FrontendConfiguration: Sendable, Hashable, Codable {  // Codable in FrontendConfiguration+Codable.swift
    /// Input rate in Hz.
    public var sampleRate = 16_000
    /// Window length in milliseconds.
    public var windowMs = 30
    /// Window step (stride) in milliseconds.
    public var strideMs = 20
    /// Mel channels per frame.
    public var channelCount = 40
    /// Lowest frequency covered, in Hz.
    public var lowerBandLimit: Float = 125
    /// Highest frequency covered, in Hz.
    public var upperBandLimit: Float = 7_500
    /// Extra fraction bits of the noise estimate.
    public var smoothingBits = 10
    /// Noise-estimate smoothing for even channels (0…1, higher adapts faster).
    public var evenSmoothing: Float = 0.025
    /// Noise-estimate smoothing for odd channels.
    public var oddSmoothing: Float = 0.06
    /// Share of each channel always kept after noise subtraction.
    public var minSignalRemaining: Float = 0.05
    /// Whether PCAN automatic gain control runs.
    public var pcanEnabled = true
    /// PCAN exponent: gain ∝ (noise + offset)^−strength.
    public var pcanStrength: Float = 0.95
    /// PCAN offset added to the noise estimate.
    public var pcanOffset: Float = 80
    /// PCAN gain fraction bits.
    public var pcanGainBits = 21
    /// Whether the log stage runs (off gives linear magnitudes).
    public var logEnabled = true
    /// The log output is ln(x)·2^logScaleShift.
    public var logScaleShift = 6
    /// Which implementation's table rounding to reproduce.
    public var tables = FrontendTableConvention.microFrontend

    public init() {}

    /// TFLM micro_speech as shipped today: 30 ms window, 20 ms stride (49 frames per second of audio), with the
    /// tables of TFLM's `audio_preprocessor_int8.tflite`.
    public static var microSpeech: FrontendConfiguration {
        var configuration = FrontendConfiguration()
        configuration.tables = .signalLibrary
        return configuration
    }

    /// microWakeWord / pymicro-features: the C micro frontend with a 30 ms window and 10 ms stride.
    public static var microWakeWord: FrontendConfiguration {
        var configuration = FrontendConfiguration()
        configuration.strideMs = 10
        return configuration
    }

    /// Samples per window.
    public var windowSamples: Int { windowMs * sampleRate / 1000 }
    /// Samples per stride.
    public var strideSamples: Int { strideMs * sampleRate / 1000 }

    /// Frames a clip of `samples` samples yields from a fresh frontend.
    public func frameCount(samples: Int) -> Int {
        samples < windowSamples ? 0 : (samples - windowSamples) / strideSamples + 1
    }

    /// Checks ranges; every failure names the setting.
    public func validate() throws(FrontendError) {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws(FrontendError) {
            if !ok { throw FrontendError(message()) }
        }
        try check((8_000...48_000).contains(sampleRate), "sample rate must be 8000…48000 Hz, got \(sampleRate)")
        try check(windowMs > 0 && windowSamples >= 16 && windowSamples <= 4_096, "window must be 16…4096 samples, got \(windowMs) ms")
        try check(strideMs > 0 && strideSamples <= windowSamples, "stride must be 1…window ms, got \(strideMs) ms")
        try check((1...128).contains(channelCount), "channel count must be 1…128, got \(channelCount)")
        try check(lowerBandLimit >= 0 && upperBandLimit > lowerBandLimit && upperBandLimit <= Float(sampleRate) / 2,
                  "band limits must satisfy 0 ≤ lower < upper ≤ rate/2, got \(lowerBandLimit)…\(upperBandLimit) Hz")
        try check((0...16).contains(smoothingBits), "smoothing bits must be 0…16, got \(smoothingBits)")
        for (name, value) in [("even smoothing", evenSmoothing), ("odd smoothing", oddSmoothing), ("min signal remaining", minSignalRemaining)] {
            try check((0...1).contains(value), "\(name) must be 0…1, got \(value)")
        }
        try check(pcanStrength >= 0 && pcanOffset > 0, "PCAN strength must be ≥ 0 and offset > 0")
        try check((12...30).contains(pcanGainBits), "PCAN gain bits must be 12…30, got \(pcanGainBits)")
        try check((0...15).contains(logScaleShift), "log scale shift must be 0…15, got \(logScaleShift)")
    }
}

/// A frontend configuration that cannot work; the message names the setting.
public struct FrontendError: Error, Sendable, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "Frontend: \(message)." }
}
