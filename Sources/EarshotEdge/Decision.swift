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
    /// True when the routing policy wanted the cloud but it did not answer (unreachable, failing, timed out, or its
    /// circuit open): the answer is the local model's, given offline. A backlog that left no budget to ask is not
    /// offline (`cloud.status` is `over-budget`).
    public var offline: Bool
    public var automation: Automation
    /// Milliseconds from the endpointer closing the utterance to this decision.
    public var latencyMs: Double
    /// `automation == .accept`: the device acts without asking.
    public var accepted: Bool
    public var topK: [LabelScore]?
    public var words: [PhraseWord]?
    /// Model versions in play: `active`, `answered` (the one whose answer this is), and `candidate` when one is loaded.
    public var models: [String: String]
    public var automationLevel: AutomationLevel
    public var stages: Stages
    public var input: InputStatistics
    /// The local model's answer when the cloud's replaced it, and whether the two agree (an accuracy estimate
    /// without labels).
    public var local: LocalAnswer?
    /// What happened with the cloud, when the routing policy wanted it asked.
    public var cloud: CloudOutcome?
    /// With a candidate model loaded: whether the candidate (canary) answered this utterance.
    public var canary: Bool?
    /// The answer of the model that ran beside the one that answered: the shadow candidate's (logged, never returned as
    /// `text`), or in canary mode the other of candidate and active model; `agrees` is their agreement.
    public var shadow: ShadowAnswer?
    /// The kept audio of this utterance (relative to the spool directory), when it was in the sampled share.
    public var audio: String?
    public var software: Software?
    /// This utterance came within `EdgeConfiguration.quickRepeatSeconds` of the previous one, which said the same or was
    /// not accepted: the speaker is probably repeating themselves, a sign the first answer did not serve.
    public var quickRepeat: Bool?
    /// With a candidate that ran on this utterance (shadow or canary): whether its interpreter failed (the active model's
    /// answer stands). Nil when no candidate ran. The fleet's rollout gate reads the candidate's error rate from it.
    public var candidateError: Bool?

    public struct ShadowAnswer: Sendable, Codable {
        public var model: String
        public var text: String
        public var confidence: Double
        public var recognised: Bool
        /// Same text as the active model, or neither heard a command.
        public var agrees: Bool
        /// The same comparison with the cloud's answer, when the cloud answered this utterance.
        public var agreesCloud: Bool?
        public var ms: Double
        enum CodingKeys: String, CodingKey { case model, text, confidence, recognised, agrees, agreesCloud = "agrees_cloud", ms }
    }

    public struct LocalAnswer: Sendable, Codable {
        public var text: String
        public var confidence: Double
        public var recognised: Bool
        /// Same text, or neither heard a command (an `unknown` and an empty answer agree).
        public var agrees: Bool
    }

    /// One cloud request (or the reason there was none).
    public struct CloudOutcome: Sendable, Codable {
        public enum Status: String, Sendable, Codable {
            /// The cloud answered within the budget.
            case answered
            /// The circuit breaker is open: the cloud failed recently and is not asked until a probe succeeds.
            case circuitOpen = "circuit-open"
            /// The utterance waited so long that no time was left to ask.
            case overBudget = "over-budget"
            case timeout
            /// Unreachable, an HTTP error or an answer that could not be read (`error` says which).
            case failed
        }
        public var status: Status
        public var milliseconds: Double
        public var text: String?
        public var confidence: Double?
        public var error: String?
        /// True when the cloud was asked only as a spot check (`cloud.ask_sample`): the local model was sure.
        public var spotCheck: Bool?
        public init(status: Status, milliseconds: Double, text: String? = nil, confidence: Double? = nil, error: String? = nil, spotCheck: Bool? = nil) {
            self.status = status; self.milliseconds = milliseconds; self.text = text; self.confidence = confidence; self.error = error
            self.spotCheck = spotCheck
        }
        enum CodingKeys: String, CodingKey { case status, milliseconds = "ms", text, confidence, error, spotCheck = "spot_check" }
    }

    /// Per-stage milliseconds.
    public struct Stages: Sendable, Codable {
        public var queueMs: Double
        public var recognizeMs: Double
        /// Time spent on the cloud request (0 when none was made).
        public var cloudMs: Double = 0
        enum CodingKeys: String, CodingKey { case queueMs = "queue_ms", recognizeMs = "recognize_ms", cloudMs = "cloud_ms" }
    }

    /// The utterance's audio as the pipeline heard it: levels of the speech; noise floor, SNR and DC offset of the
    /// whole window the model saw (speech and its context); the speech's spectral shape (a new microphone shows there).
    public struct InputStatistics: Sendable, Codable {
        public var durationS: Double
        public var rmsDBFS: Double
        public var peakDBFS: Double
        public var clippedPercent: Double
        public var speechRatio: Double
        public var dcOffset: Double?
        public var noiseFloorDBFS: Double?
        public var snrDB: Double?
        public var spectralCentroidHz: Double?
        public var spectralTiltDBPerOctave: Double?
        /// Stretches of speech the VAD found in the utterance.
        public var vadSegments: Int?
        enum CodingKeys: String, CodingKey {
            case durationS = "duration_s", rmsDBFS = "rms_dbfs", peakDBFS = "peak_dbfs", clippedPercent = "clipped_percent"
            case speechRatio = "speech_ratio", dcOffset = "dc_offset", noiseFloorDBFS = "noise_floor_dbfs", snrDB = "snr_db"
            case spectralCentroidHz = "spectral_centroid_hz", spectralTiltDBPerOctave = "spectral_tilt_db_per_octave"
            case vadSegments = "vad_segments"
        }
    }

    /// The process when the decision was made.
    public struct Software: Sendable, Codable {
        public var queueDepth: Int
        public var droppedUtterances: Int
        public var residentMB: Double
        /// Capture losses since the previous utterance: device overruns recovered, samples overwritten in the ring.
        public var captureOverruns: Int = 0
        public var droppedSamples: Int = 0
        /// CPU time the recogniser thread spent on this utterance (local models, routing, shadow), in milliseconds.
        public var cpuMs: Double?
        /// Real-time factor of local recognition: its wall time over the utterance's duration.
        public var rtf: Double?
        enum CodingKeys: String, CodingKey {
            case queueDepth = "queue_depth", droppedUtterances = "dropped_utterances", residentMB = "rss_mb", cpuMs = "cpu_ms"
            case captureOverruns = "capture_overruns", droppedSamples = "dropped_samples", rtf
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, start, end, text, confidence, source, offline, automation, latencyMs = "latency_ms", accepted
        case topK = "top_k", words, models, automationLevel = "automation_level", stages, input, local, cloud, canary, shadow, audio, software
        case quickRepeat = "quick_repeat", candidateError = "candidate_error"
    }
}
