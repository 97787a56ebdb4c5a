import EarshotBundles
public import EarshotRecognizer
public import EarshotVAD
import Foundation

/// What a whole recording said, utterance by utterance, as `earshot serve` answers it.
public struct ServiceTranscript: Sendable {
    public struct Segment: Sendable {
        public var start: Double
        public var end: Double
        /// The words or command heard; empty when the utterance was not a command or the grammar allowed nothing.
        public var text: String
        /// The model's best guess even when it is not a command (`unknown`, `silence`).
        public var label: String
        public var confidence: Double
        public var topK: [LabelScore]?
        public init(start: Double, end: Double, text: String, label: String, confidence: Double, topK: [LabelScore]?) {
            self.start = start; self.end = end; self.text = text; self.label = label; self.confidence = confidence; self.topK = topK
        }
    }
    public var text: String
    public var duration: Double
    public var segments: [Segment]
    public var words: [PhraseWord]
    /// `name@version` of the model that answered.
    public var model: String
    public init(text: String, duration: Double, segments: [Segment], words: [PhraseWord], model: String) {
        self.text = text; self.duration = duration; self.segments = segments; self.words = words; self.model = model
    }
}

/// An engine that transcribes whole recordings for `earshot serve`: Earshot's own models, or another recogniser
/// hosted beside them (PocketSphinx), chosen per request by the form's `model` field (`name` or `name@version`).
public protocol Transcriber: AnyObject, Sendable {
    var name: String { get }
    var version: String { get }
    /// `command`, `phrase`, `grammar`, `dictation`, …
    var kind: String { get }
    /// `name@version`.
    var model: String { get }
    /// Transcribes 16 kHz mono samples.
    func transcribe(_ samples: [Int16]) throws -> ServiceTranscript
}

/// Transcribes whole recordings with a local model: the VAD finds the utterances, the recogniser reads each one.
/// One recording at a time (the interpreters keep per-model scratch memory), so callers on many threads queue here.
public final class TranscriptionService: Transcriber, @unchecked Sendable {
    public let recognizer: LocalRecognizer
    private let detector: VoiceActivityDetector
    private let lock = NSLock()

    public init(recognizer: LocalRecognizer, detector: VoiceActivityDetector) {
        self.recognizer = recognizer
        self.detector = detector
    }

    public var model: String { "\(recognizer.manifest.name)@\(recognizer.manifest.version)" }
    public var name: String { recognizer.manifest.name }
    public var version: String { recognizer.manifest.version }
    public var kind: String { recognizer.manifest.kind }

    /// Transcribes 16 kHz mono `samples`.
    public func transcribe(_ samples: [Int16]) throws -> ServiceTranscript {
        lock.lock(); defer { lock.unlock() }
        var segments: [ServiceTranscript.Segment] = []
        var words: [PhraseWord] = []
        for u in try UtteranceFinder.find(in: samples, detector: detector) {
            let r = try recognizer.recognize(samples[...], speechStart: Int(u.speechStart), speechEnd: Int(u.speechEnd))
            let start = Double(u.speechStart) / 16_000, end = Double(u.speechEnd) / 16_000
            segments.append(.init(start: start, end: end, text: r.recognised ? r.text : "", label: r.text, confidence: r.confidence, topK: r.topK))
            guard r.recognised else { continue }
            words += r.words ?? [PhraseWord(word: r.text, start: start, end: end, confidence: r.confidence)]
        }
        return ServiceTranscript(text: segments.map(\.text).filter { !$0.isEmpty }.joined(separator: " "),
                                 duration: Double(samples.count) / 16_000, segments: segments, words: words, model: model)
    }
}
