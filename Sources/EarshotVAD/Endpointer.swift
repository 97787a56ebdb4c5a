/// One endpointed stretch of speech with sample-accurate bounds.
public struct Utterance: Sendable, Hashable {
    /// First sample of the utterance's audio in the stream (pre-roll included).
    public var start: Int64
    /// One past the last sample (post-roll included).
    public var end: Int64
    /// First sample of the first speech frame (start of speech proper).
    public var speechStart: Int64
    /// One past the last sample of the last speech frame.
    public var speechEnd: Int64
    /// True when the utterance was cut at the maximum length (another continues right after).
    public var truncated: Bool
    /// The audio from `start` to `end`.
    public var samples: [Int16]
    /// Speech frames / all frames between speechStart and speechEnd.
    public var speechRatio: Double
    /// Stretches of speech the VAD found inside the utterance (a pause of 100 ms or more inside the hangover starts a
    /// new one): a VAD that starts chopping speech shows here before it shows in the recogniser's answers.
    public var segments: Int

    public init(start: Int64, end: Int64, speechStart: Int64, speechEnd: Int64, truncated: Bool = false,
                samples: [Int16] = [], speechRatio: Double = 1, segments: Int = 1) {
        self.start = start; self.end = end; self.speechStart = speechStart; self.speechEnd = speechEnd
        self.truncated = truncated; self.samples = samples; self.speechRatio = speechRatio; self.segments = segments
    }
}

/// Turns per-frame speech probabilities into utterances: hysteresis with a fast attack and a slow release,
/// pre-roll and post-roll audio, minimum speech and maximum utterance length.
///
/// Feed every frame's samples and probability in order; an utterance is returned once its end is decided
/// (`hangoverMs` after the last speech frame, or at `maxUtteranceMs`). Memory is bounded by the maximum
/// utterance plus the pre-roll. One owner, one thread.
public final class Endpointer {
    public let configuration: EndpointerConfiguration
    private enum State { case silence, speech }
    private var state = State.silence
    /// Samples seen so far (the stream position of the next frame).
    public private(set) var position: Int64 = 0
    private var history: [Int16]            // the most recent audio: pre-roll while silent, the utterance while speaking
    private var historyStart: Int64 = 0     // stream position of history[0]
    private var attackRun = 0
    private var attackStart: Int64 = 0
    private var speechStart: Int64 = 0
    private var lastSpeechEnd: Int64 = 0
    private var quietRun = 0
    private var speechFrames = 0
    private var segments = 0
    private var previousEnd: Int64 = 0      // utterances never overlap
    private let onLevel: Int32, offLevel: Int32

    /// Creates an endpointer; fails on out-of-range settings.
    public init(_ configuration: EndpointerConfiguration = EndpointerConfiguration()) throws(EndpointerError) {
        try configuration.validate()
        self.configuration = configuration
        onLevel = Int32((configuration.onThreshold * 32_768).rounded())
        offLevel = Int32((configuration.offThreshold * 32_768).rounded())
        history = []
        history.reserveCapacity(configuration.maxUtteranceSamples + configuration.preRollSamples + configuration.frameSamples)
    }

    /// True while inside speech (after the attack, before the release).
    public var inSpeech: Bool { state == .speech }

    /// Feeds one frame with its speech probability in Q15 (0…32768). Returns an utterance when one ends here.
    public func process(frame samples: UnsafeBufferPointer<Int16>, probabilityQ15: Int32) -> Utterance? {
        let frameStart = position
        history.append(contentsOf: samples)
        position += Int64(samples.count)
        let c = configuration
        var finished: Utterance?
        switch state {
        case .silence:
            if probabilityQ15 >= onLevel {
                if attackRun == 0 { attackStart = frameStart }
                attackRun += 1
                if attackRun >= c.attackFrames {
                    state = .speech
                    speechStart = attackStart
                    lastSpeechEnd = position
                    quietRun = 0
                    speechFrames = attackRun
                    segments = 1
                }
            } else {
                attackRun = 0
            }
            if state == .silence { trimToPreRoll() }
        case .speech:
            if probabilityQ15 >= offLevel {
                if quietRun >= c.frames(100) { segments += 1 }
                quietRun = 0
                lastSpeechEnd = position
                speechFrames += 1
            } else {
                quietRun += 1
            }
            if quietRun >= c.frames(c.hangoverMs) {
                finished = finish(truncated: false)
            } else if position - max(previousEnd, speechStart - Int64(c.preRollSamples)) >= Int64(c.maxUtteranceSamples) {
                finished = finish(truncated: true)
            }
        }
        return finished
    }

    /// Convenience for probabilities as 0…1.
    public func process(frame samples: UnsafeBufferPointer<Int16>, probability: Double) -> Utterance? {
        process(frame: samples, probabilityQ15: Int32((min(1, max(0, probability)) * 32_768).rounded()))
    }

    /// Ends the stream: returns the utterance in progress, if any is long enough.
    public func flush() -> Utterance? {
        guard state == .speech else { return nil }
        return finish(truncated: false)
    }

    /// Closes the current utterance (or drops it if too short) and returns to silence.
    private func finish(truncated: Bool) -> Utterance? {
        let c = configuration
        let start = max(previousEnd, speechStart - Int64(c.preRollSamples), historyStart)
        let end = truncated ? position : min(position, lastSpeechEnd + Int64(c.postRollSamples))
        let speechEnd = truncated ? position : lastSpeechEnd
        let long = speechEnd - speechStart >= Int64(c.minSpeechMs * c.sampleRate / 1000)
        var result: Utterance?
        if long || truncated {
            let from = Int(start - historyStart), to = Int(end - historyStart)
            result = Utterance(start: start, end: end, speechStart: speechStart, speechEnd: speechEnd, truncated: truncated,
                               samples: Array(history[from..<to]),
                               speechRatio: Self.ratio(speechFrames, over: speechEnd - speechStart, frame: c.frameSamples),
                               segments: segments)
            previousEnd = end
        }
        if truncated {
            // Speech goes on: a new utterance starts here with no pre-roll.
            speechStart = position
            lastSpeechEnd = position
            speechFrames = 0
            segments = 1
            history.removeAll(keepingCapacity: true)
            historyStart = position
        } else {
            state = .silence
            attackRun = 0
            trimToPreRoll()
        }
        return result
    }

    /// Speech frames as a share of the frames spanning `span` samples.
    private static func ratio(_ frames: Int, over span: Int64, frame: Int) -> Double {
        let total = Double(span) / Double(frame)
        return total > 0 ? min(1, Double(frames) / total) : 0
    }

    /// Keeps only the last pre-roll's worth of audio while silent.
    private func trimToPreRoll() {
        let keep = configuration.preRollSamples + configuration.frameSamples * configuration.attackFrames
        if history.count > keep + 4_096 {
            let drop = history.count - keep
            history.removeFirst(drop)
            historyStart += Int64(drop)
        }
    }
}
