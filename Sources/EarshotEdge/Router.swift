public import EarshotRecognizer
public import Foundation

/// Who answers an utterance: the local model only, the local model with the cloud for what it is unsure of, or the
/// cloud with the local model whenever the cloud cannot answer within the budget.
public enum RoutingPolicy: String, Sendable, Codable, CaseIterable {
    case localFirst = "local-first"
    case cloudFirst = "cloud-first"
    case localOnly = "local-only"
}

/// The router's settings. Times are in seconds.
public struct RoutingConfiguration: Sendable {
    public var policy: RoutingPolicy = .localOnly
    /// local-first asks the cloud when the local confidence is below this (or the local result is not a command).
    public var askBelow: Double = 0.9
    /// local-first also asks the cloud for this share (0…1) of the utterances the local model is sure of, chosen by a
    /// hash of the utterance id: spot checks that measure agreement with the cloud on all traffic, not only the unsure.
    public var askSample: Double = 0
    /// The longest any one cloud request may take.
    public var requestTimeout: TimeInterval = 1.5
    /// The most a decision may take from the endpointer closing the utterance, queue wait included; the cloud is
    /// only asked with what is left of it, so no decision ever waits longer for the network.
    public var budget: TimeInterval = 2.0
    /// Below this much remaining budget the cloud is not asked at all.
    public var minimumRequestTime: TimeInterval = 0.05
    /// The confidence given to a cloud answer whose server reports no probabilities.
    public var assumedCloudConfidence: Double = 0.95
    /// Audio sent with the speech, before and after, in samples.
    public var marginSamples = 4_000
    public init() {}
}

/// What one routed utterance came to.
public struct RoutedResult: Sendable {
    public var text: String
    public var confidence: Double
    /// A vocabulary word, or a non-empty phrase the grammar (if any) accepts.
    public var recognised: Bool
    public var source: String
    public var offline: Bool
    public var topK: [LabelScore]?
    public var words: [PhraseWord]?
    /// The local model's own answer, kept when the cloud's replaced it.
    public var local: Decision.LocalAnswer?
    public var cloud: Decision.CloudOutcome?
}

/// Applies the routing policy to one utterance. The local model always runs first (a few milliseconds), so there is an
/// answer whatever the network does; the cloud is asked only when the policy wants it, the circuit breaker allows it and
/// the budget has room, with a timeout of what the budget has left.
public final class Router: @unchecked Sendable {
    public let configuration: RoutingConfiguration
    public let client: CloudClient?
    public let breaker: CircuitBreaker

    public init(configuration: RoutingConfiguration = RoutingConfiguration(), client: CloudClient? = nil,
                breaker: CircuitBreaker = CircuitBreaker()) {
        self.configuration = configuration
        self.client = configuration.policy == .localOnly ? nil : client
        self.breaker = breaker
    }

    /// Routes an utterance whose local answer is `local`; `speech` is the audio sent to the cloud and `elapsed` the
    /// seconds already spent since the utterance closed.
    func route(local: LocalAnswerDetail, recognizer: LocalRecognizer, id: String = "", speech: @autoclosure () -> [Int16],
               elapsed: @escaping () -> TimeInterval) -> RoutedResult {
        let localResult = RoutedResult(text: local.text, confidence: local.confidence, recognised: local.recognised, source: "local",
                                       offline: false, topK: local.topK, words: local.words)
        guard let client else { return localResult }
        let unsure = configuration.policy == .cloudFirst || !local.recognised || local.confidence < configuration.askBelow
        let spotCheck = !unsure && Self.sampled(id, share: configuration.askSample)
        guard unsure || spotCheck else { return localResult }
        var result = localResult
        let remaining = min(configuration.requestTimeout, configuration.budget - elapsed())
        guard remaining >= configuration.minimumRequestTime else {
            result.cloud = .init(status: .overBudget, milliseconds: 0, spotCheck: spotCheck ? true : nil)
            return result
        }
        // A failed spot check leaves a confident answer as it was: not "offline", since it never needed the cloud.
        guard breaker.allow() else {
            result.offline = !spotCheck
            result.cloud = .init(status: .circuitOpen, milliseconds: 0, spotCheck: spotCheck ? true : nil)
            return result
        }
        let started = ContinuousClock.now
        do {
            let answer = try client.transcribe(speech(), timeout: remaining)
            breaker.recordSuccess()
            let ms = EdgePipeline.milliseconds(ContinuousClock.now - started)
            let mapped = recognizer.interpret(cloudText: answer.text)
            let confidence = answer.confidence ?? configuration.assumedCloudConfidence
            return RoutedResult(
                text: mapped.text, confidence: confidence, recognised: mapped.recognised, source: "cloud", offline: false,
                topK: nil, words: nil,
                local: .init(text: local.text, confidence: local.confidence, recognised: local.recognised,
                             agrees: mapped.text == local.text || (!mapped.recognised && !local.recognised)),
                cloud: .init(status: .answered, milliseconds: ms, text: answer.text, confidence: answer.confidence, spotCheck: spotCheck ? true : nil))
        } catch {
            breaker.recordFailure()
            result.offline = !spotCheck
            result.cloud = .init(status: error.kind == .timeout ? .timeout : .failed, milliseconds: EdgePipeline.milliseconds(ContinuousClock.now - started),
                                 error: error.description, spotCheck: spotCheck ? true : nil)
            return result
        }
    }

    /// Whether utterance `id` falls in a spot-check sample of `share`: the same per-utterance fraction as canary draws,
    /// salted so spot checks are independent of which utterances a canary answers.
    static func sampled(_ id: String, share: Double) -> Bool {
        share > 0 && ModelSlots.fraction("spot-check|" + id) < share
    }
}

/// The local model's answer before routing.
struct LocalAnswerDetail {
    var text: String
    var confidence: Double
    var recognised: Bool
    var topK: [LabelScore]?
    var words: [PhraseWord]?
}
