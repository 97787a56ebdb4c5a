public import EarshotRecognizer

/// One decision: what was heard in one utterance, who answered, what happens next, and what it cost. Printed as one
/// JSON line per utterance by `earshot run`; the fields `id`, `start`, `end`, `text`, `confidence`, `source`,
/// `offline`, `automation` and `latency_ms` are a fixed interface that scripts rely on.
public struct Decision: Sendable, Codable {
    /// Unique on this device: the run's identifier and the utterance's sequence number.
    public var id: String
    /// Seconds from the start of the input to the start and end of the speech.
    public var start: Double
    public var end: Double
    /// The model's best guess: a command label or the words (`unknown`, `silence` or empty when it heard no command),
    /// whatever `automation` says to do with it.
    public var text: String
    public var confidence: Double
    /// `local` or `cloud`.
    public var source: String
    /// True when the cloud should have been asked but was unreachable.
    public var offline: Bool
    public var automation: Automation
    /// Milliseconds from the endpointer closing the utterance to this decision.
    public var latencyMs: Double
    /// `automation == .accept`: the device acts without asking.
    public var accepted: Bool
    public var topK: [LabelScore]?
    public var words: [PhraseWord]?
    /// Model versions in play: `active`, and `candidate` when one is loaded.
    public var models: [String: String]
    public var automationLevel: AutomationLevel
    public var stages: Stages
    public var input: InputStatistics

    /// Per-stage milliseconds.
    public struct Stages: Sendable, Codable {
        public var queueMs: Double
        public var recognizeMs: Double
        enum CodingKeys: String, CodingKey { case queueMs = "queue_ms", recognizeMs = "recognize_ms" }
    }

    /// The utterance's audio as the pipeline heard it.
    public struct InputStatistics: Sendable, Codable {
        public var durationS: Double
        public var rmsDBFS: Double
        public var peakDBFS: Double
        public var clippedPercent: Double
        public var speechRatio: Double
        enum CodingKeys: String, CodingKey {
            case durationS = "duration_s", rmsDBFS = "rms_dbfs", peakDBFS = "peak_dbfs", clippedPercent = "clipped_percent"
            case speechRatio = "speech_ratio"
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, start, end, text, confidence, source, offline, automation, latencyMs = "latency_ms", accepted
        case topK = "top_k", words, models, automationLevel = "automation_level", stages, input
    }
}
