/// Settings of the endpointer: when speech starts and ends, and how much audio around it an utterance keeps.
///
/// Smoothing is asymmetric, fast on and slow off: `attackFrames` consecutive frames at or above `onThreshold`
/// start speech, and speech ends only after `hangoverMs` with every frame below `offThreshold`.
public struct EndpointerConfiguration: Sendable, Hashable, Codable {
    /// Input rate in Hz.
    public var sampleRate = 16_000
    /// Samples per VAD frame (10 ms at 16 kHz).
    public var frameSamples = 160
    /// Probability (0…1) at or above which a frame counts towards starting speech.
    public var onThreshold = 0.5
    /// Probability below which a frame counts towards ending speech (≤ onThreshold: hysteresis).
    public var offThreshold = 0.35
    /// Consecutive frames at or above `onThreshold` needed to start speech.
    public var attackFrames = 2
    /// Time below `offThreshold` after which speech ends (the decision waits this long).
    public var hangoverMs = 300
    /// Audio kept before the first speech frame (100, 300 or 500 ms are typical).
    public var preRollMs = 300
    /// Audio kept after the last speech frame (at most `hangoverMs`, since that is all that was waited for).
    public var postRollMs = 100
    /// Speech shorter than this (first to last speech frame) is dropped as a click or cough.
    public var minSpeechMs = 100
    /// An utterance is cut here and a new one continues (a stuck-open VAD cannot grow memory without bound).
    public var maxUtteranceMs = 10_000

    public init() {}

    func frames(_ ms: Int) -> Int { (ms * sampleRate / 1000 + frameSamples - 1) / frameSamples }
    /// `preRollMs` in samples.
    var preRollSamples: Int { preRollMs * sampleRate / 1000 }
    /// `postRollMs` in samples.
    var postRollSamples: Int { min(postRollMs, hangoverMs) * sampleRate / 1000 }
    /// `maxUtteranceMs` in samples.
    var maxUtteranceSamples: Int { maxUtteranceMs * sampleRate / 1000 }

    /// Checks every range; the message names the setting.
    public func validate() throws(EndpointerError) {
        func check(_ ok: Bool, _ message: String) throws(EndpointerError) { if !ok { throw EndpointerError(message) } }
        try check((8_000...48_000).contains(sampleRate), "sample rate must be 8000…48000 Hz, got \(sampleRate)")
        try check((1...4_800).contains(frameSamples), "frame must be 1…4800 samples, got \(frameSamples)")
        try check((0...1).contains(onThreshold) && (0...1).contains(offThreshold), "thresholds must be within 0…1")
        try check(offThreshold <= onThreshold, "off threshold \(offThreshold) must not exceed on threshold \(onThreshold)")
        try check((1...100).contains(attackFrames), "attack must be 1…100 frames, got \(attackFrames)")
        try check((0...10_000).contains(hangoverMs), "hangover must be 0…10000 ms, got \(hangoverMs)")
        try check((0...5_000).contains(preRollMs), "pre-roll must be 0…5000 ms, got \(preRollMs)")
        try check((0...5_000).contains(postRollMs), "post-roll must be 0…5000 ms, got \(postRollMs)")
        try check(minSpeechMs >= 0 && minSpeechMs < maxUtteranceMs, "minimum speech must be 0…max utterance ms")
        try check((100...600_000).contains(maxUtteranceMs), "maximum utterance must be 100…600000 ms, got \(maxUtteranceMs)")
    }
}

/// An endpointer setting that cannot work.
public struct EndpointerError: Error, Sendable, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "Endpointer: \(message)." }
}
