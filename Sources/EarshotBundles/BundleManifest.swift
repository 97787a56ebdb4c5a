public import EarshotDSP

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
    /// What the model does: `classifier` (one label per window) for now.
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

    enum CodingKeys: String, CodingKey {
        case name, version, kind, labels, frontend
        case featureScaling = "feature_scaling", windowFrames = "window_frames", hopFrames = "hop_frames"
        case modelSha256 = "model_sha256", acceptThreshold = "accept_threshold", lookbackBlocks = "lookback_blocks"
    }

    public init(name: String, version: String, kind: String = "classifier", labels: [String],
                frontend: FrontendConfiguration = .microSpeech, featureScaling: FeatureScaling = .microSpeech,
                windowFrames: Int = 49, hopFrames: Int = 25, modelSha256: String, acceptThreshold: Double = 0.5) {
        self.name = name; self.version = version; self.kind = kind; self.labels = labels; self.frontend = frontend
        self.featureScaling = featureScaling; self.windowFrames = windowFrames; self.hopFrames = hopFrames
        self.modelSha256 = modelSha256; self.acceptThreshold = acceptThreshold; self.lookbackBlocks = 2
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
    }
}
