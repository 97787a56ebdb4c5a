/// How much the device may act on its own (the seed's degrees of automation), set per device.
public enum AutomationLevel: String, Sendable, Codable, CaseIterable {
    /// A person decides everything; recognised speech is shown to them as a suggestion.
    case humanOnly = "human-only"
    /// The model runs and is logged; nothing it says is acted on.
    case shadow
    /// Confident results are suggested to a person, who confirms them.
    case assist
    /// Very confident results act on their own, less confident ones ask for confirmation.
    case partial
    /// Confident results act on their own; the rest are rejected.
    case full
}

/// What happens to one decision.
public enum Automation: String, Sendable, Codable {
    case accept, confirm, reject
}

/// Maps a decision's confidence to accept, confirm or reject for the device's automation level.
public struct AutomationPolicy: Sendable, Codable, Equatable {
    public var level: AutomationLevel
    /// At or above: act without asking (partial and full; full acts from `confirmAt` up).
    public var acceptAt: Double
    /// At or above: worth a person's confirmation.
    public var confirmAt: Double
    /// True when `acceptAt` is the answering model's own threshold (its manifest's, no `--accept-at`): after a slot
    /// switch or on a canary, each decision uses the threshold of the model that answered it.
    public var acceptFromModel = false

    enum CodingKeys: String, CodingKey { case level, acceptAt, confirmAt }

    public init(level: AutomationLevel = .partial, acceptAt: Double = 0.9, confirmAt: Double = 0.5, acceptFromModel: Bool = false) {
        self.level = level; self.acceptAt = acceptAt; self.confirmAt = confirmAt; self.acceptFromModel = acceptFromModel
    }

    /// The policy for a decision answered by a model whose manifest accepts at `threshold`: unchanged when the
    /// threshold was set by hand; otherwise that threshold, with confirmation never above it.
    public func answering(withThreshold threshold: Double) -> AutomationPolicy {
        guard acceptFromModel else { return self }
        var policy = self
        policy.acceptAt = threshold
        policy.confirmAt = min(confirmAt, threshold)
        return policy
    }

    /// The action for a result; `recognised` is false for unknown speech, silence or an empty phrase.
    public func decide(confidence: Double, recognised: Bool) -> Automation {
        guard recognised else { return .reject }
        switch level {
        case .humanOnly: return .confirm
        case .shadow: return .reject
        case .assist: return confidence >= confirmAt ? .confirm : .reject
        case .partial: return confidence >= acceptAt ? .accept : confidence >= confirmAt ? .confirm : .reject
        case .full: return confidence >= confirmAt ? .accept : .reject
        }
    }
}
