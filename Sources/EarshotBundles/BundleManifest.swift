public import EarshotDSP
public import EarshotMonitoring

/// How frontend features (uint16 log-mel values) become the model's int8 input.
public enum FeatureScaling: String, Sendable, Codable, CaseIterable {
    /// TFLM micro_speech: (v·256 + 333) / 666 − 128, clamped. Exact for models trained with TFLM's preprocessor.
    case microSpeech = "micro_speech"
    /// The input tensor's own quantisation: round((v / 25.6) / scale) + zero point, half to even (microWakeWord).
    case quantize
}

/// `manifest.json` of a model bundle: what the model is, how to feed it, and how to read its output.
public struct BundleManifest: Sendable, Codable {
    public var name: String
    public var version: String
    /// What the model does: `classifier` (one label per window over a clip), `command` (one label per endpointed
    /// utterance, logits calibrated by `temperature`) or `vad` (a speech probability per 10 ms block).
    public var kind: String
    /// One label per output score.
    public var labels: [String]
    /// Frontend settings the model was trained with.
    public var frontend: FrontendConfiguration
    public var featureScaling: FeatureScaling
    /// Feature frames per model input window (49 for micro_speech).
    public var windowFrames: Int
    /// Frames between successive windows over a longer clip.
    public var hopFrames: Int
    /// Hex SHA-256 of `model.tflite`; checked before the model is used.
    public var modelSha256: String
    /// Scores at or above this are accepted (0…1); below, the result is reported as not accepted.
    public var acceptThreshold: Double
    /// For streaming per-block models (`kind: vad`): 10 ms blocks between a window's newest frame start and the block
    /// it scores (2 for 30 ms windows at a 10 ms stride).
    public var lookbackBlocks: Int
    /// Softmax temperature fitted on held-out data (`kind: command`): confidences are softmax(logits / T). 1 when absent.
    public var temperature: Double
    /// Samples of audio one utterance is cropped or padded to (`kind: command`), centred on the speech.
    public var clipSamples: Int?
    /// The label for speech outside the vocabulary and the label for no speech, when the model has them.
    public var unknownLabel: String?
    public var silenceLabel: String?
    /// For `kind: phrase` (CTC) models: milliseconds per output frame, and the blank label (label 0).
    public var outputFrameMs: Int?
    public var blankLabel: String?
    /// Input and output statistics of the training-time data, the reference for drift on the device and fleet.
    public var baseline: RecognitionBaseline?

    /// `"clip": {"samples": N, ...}`: how an utterance becomes one model input.
    struct Clip: Codable { var samples: Int }

    enum CodingKeys: String, CodingKey {
        case name, version, kind, labels, frontend
        case featureScaling = "feature_scaling", windowFrames = "window_frames", hopFrames = "hop_frames"
        case modelSha256 = "model_sha256", acceptThreshold = "accept_threshold", lookbackBlocks = "lookback_blocks"
        case temperature, clip, unknownLabel = "unknown_label", silenceLabel = "silence_label"
        case outputFrameMs = "output_frame_ms", blankLabel = "blank_label", baseline
    }

    public init(name: String, version: String, kind: String = "classifier", labels: [String],
                frontend: FrontendConfiguration = .microSpeech, featureScaling: FeatureScaling = .microSpeech,
                windowFrames: Int = 49, hopFrames: Int = 25, modelSha256: String, acceptThreshold: Double = 0.5) {
        self.name = name; self.version = version; self.kind = kind; self.labels = labels; self.frontend = frontend
        self.featureScaling = featureScaling; self.windowFrames = windowFrames; self.hopFrames = hopFrames
        self.modelSha256 = modelSha256; self.acceptThreshold = acceptThreshold; self.lookbackBlocks = 2
        self.temperature = 1
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        version = try c.decode(String.self, forKey: .version)
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? "classifier"
        labels = try c.decode([String].self, forKey: .labels)
        frontend = try c.decodeIfPresent(FrontendConfiguration.self, forKey: .frontend) ?? .microSpeech
        featureScaling = try c.decodeIfPresent(FeatureScaling.self, forKey: .featureScaling) ?? .microSpeech
        windowFrames = try c.decodeIfPresent(Int.self, forKey: .windowFrames) ?? 49
        hopFrames = try c.decodeIfPresent(Int.self, forKey: .hopFrames) ?? max(1, windowFrames / 2)
        modelSha256 = try c.decode(String.self, forKey: .modelSha256)
        acceptThreshold = try c.decodeIfPresent(Double.self, forKey: .acceptThreshold) ?? 0.5
        lookbackBlocks = try c.decodeIfPresent(Int.self, forKey: .lookbackBlocks) ?? 2
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature) ?? 1
        clipSamples = try c.decodeIfPresent(Clip.self, forKey: .clip)?.samples
        unknownLabel = try c.decodeIfPresent(String.self, forKey: .unknownLabel)
        silenceLabel = try c.decodeIfPresent(String.self, forKey: .silenceLabel)
        outputFrameMs = try c.decodeIfPresent(Int.self, forKey: .outputFrameMs)
        blankLabel = try c.decodeIfPresent(String.self, forKey: .blankLabel)
        baseline = try c.decodeIfPresent(RecognitionBaseline.self, forKey: .baseline)
        guard temperature.isFinite, temperature > 0 else {
            throw DecodingError.dataCorruptedError(forKey: .temperature, in: c, debugDescription: "temperature must be a positive number")
        }
        if let clipSamples, clipSamples <= 0 || clipSamples > 16_000 * 30 {
            throw DecodingError.dataCorruptedError(forKey: .clip, in: c, debugDescription: "clip.samples \(clipSamples) is out of range")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name); try c.encode(version, forKey: .version); try c.encode(kind, forKey: .kind)
        try c.encode(labels, forKey: .labels); try c.encode(frontend, forKey: .frontend)
        try c.encode(featureScaling, forKey: .featureScaling); try c.encode(windowFrames, forKey: .windowFrames)
        try c.encode(hopFrames, forKey: .hopFrames); try c.encode(modelSha256, forKey: .modelSha256)
        try c.encode(acceptThreshold, forKey: .acceptThreshold); try c.encode(lookbackBlocks, forKey: .lookbackBlocks)
        try c.encode(temperature, forKey: .temperature)
        try c.encodeIfPresent(clipSamples.map { Clip(samples: $0) }, forKey: .clip)
        try c.encodeIfPresent(unknownLabel, forKey: .unknownLabel); try c.encodeIfPresent(silenceLabel, forKey: .silenceLabel)
        try c.encodeIfPresent(outputFrameMs, forKey: .outputFrameMs); try c.encodeIfPresent(blankLabel, forKey: .blankLabel)
        try c.encodeIfPresent(baseline, forKey: .baseline)
    }
}
