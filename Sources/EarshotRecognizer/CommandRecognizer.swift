public import EarshotBundles
import EarshotDSP
import Foundation

/// A label and its calibrated probability.
public struct LabelScore: Sendable, Codable, Equatable {
    public var label: String
    public var probability: Double
}

/// What a command model said about one utterance.
public struct CommandResult: Sendable, Codable {
    /// The accepted vocabulary word; `unknown` for out-of-vocabulary or rejected speech; `silence` for no speech.
    public var text: String
    /// Calibrated probability of the model's top label (softmax of logits / temperature).
    public var confidence: Double
    /// True only when the top label is a vocabulary word with confidence at or above the bundle's threshold.
    public var accepted: Bool
    /// The model's top label before rejection (a word below the threshold shows here while `text` says `unknown`).
    public var best: String
    /// The highest-scoring labels, best first.
    public var topK: [LabelScore]
    /// The model's int8 logits, as the interpreter produced them.
    public var logits: [Int]
    /// Calibrated probabilities of every label, in label order.
    public var probabilities: [Double]

    enum CodingKeys: String, CodingKey { case text, confidence, accepted, best, topK = "top_k", logits, probabilities }
}

/// A `kind: command` bundle: one calibrated label per endpointed utterance (command-en).
///
/// The utterance's audio is cut to the bundle's clip length centred on its speech, as the training data were
/// (Models/LABELLING.md), then frontend → int8 DS-CNN → softmax(logits / T) → accept, reject or unknown.
public final class CommandRecognizer {
    public let manifest: BundleManifest
    public let clipSamples: Int
    private let classifier: Classifier
    private let wordIndices: Set<Int>

    /// Loads a verified bundle; it must be a command model whose window covers exactly one clip.
    public init(bundle: ModelBundle) throws(RecognizerError) {
        let manifest = bundle.manifest
        guard manifest.kind == "command" else {
            throw RecognizerError(.bundle, "\(manifest.name) is a \(manifest.kind) model, not a command model.")
        }
        let clipSamples = try Self.clipSamples(of: manifest)
        self.manifest = manifest
        self.clipSamples = clipSamples
        classifier = try Classifier(model: bundle.model, labels: manifest.labels, configuration: manifest.frontend,
                                    scaling: manifest.featureScaling, windowFrames: manifest.windowFrames,
                                    hopFrames: manifest.windowFrames)
        let special: Set<String> = [manifest.unknownLabel ?? "unknown", manifest.silenceLabel ?? "silence"]
        wordIndices = Set(manifest.labels.indices.filter { !special.contains(manifest.labels[$0]) })
    }

    /// The manifest's clip length, checked against its frontend and window: a clip must give exactly one window.
    static func clipSamples(of manifest: BundleManifest) throws(RecognizerError) -> Int {
        guard let clipSamples = manifest.clipSamples else {
            throw RecognizerError(.bundle, "\(manifest.name)'s manifest gives no clip length (\"clip\": {\"samples\": N}).")
        }
        let configuration = manifest.frontend
        let frames = (clipSamples - configuration.windowSamples) / configuration.strideSamples + 1
        guard frames == manifest.windowFrames else {
            throw RecognizerError(.bundle, "\(manifest.name): a \(clipSamples)-sample clip gives \(frames) frames, the manifest says \(manifest.windowFrames).")
        }
        return clipSamples
    }

    /// The clip the model sees for speech spanning samples `speechStart..<speechEnd` of `audio`: `clipSamples`
    /// centred on the speech, from the surrounding audio, zero beyond its ends.
    public func clip(of audio: ArraySlice<Int16>, speechStart: Int, speechEnd: Int) -> [Int16] {
        let centre = (speechStart + speechEnd) / 2
        let first = centre - clipSamples / 2
        var result = [Int16](repeating: 0, count: clipSamples)
        let lower = max(first, audio.startIndex), upper = min(first + clipSamples, audio.endIndex)
        if lower < upper {
            for i in lower..<upper { result[i - first] = audio[i] }
        }
        return result
    }

    /// Recognises the utterance whose speech spans `speechStart..<speechEnd` in `audio` (indices of the slice).
    public func recognize(_ audio: ArraySlice<Int16>, speechStart: Int, speechEnd: Int, topK: Int = 3) throws(RecognizerError) -> CommandResult {
        try recognize(clip: clip(of: audio, speechStart: speechStart, speechEnd: speechEnd), topK: topK)
    }

    /// Recognises one clip of exactly `clipSamples` samples.
    public func recognize(clip: [Int16], topK: Int = 3) throws(RecognizerError) -> CommandResult {
        guard clip.count == clipSamples else {
            throw RecognizerError(.input, "A \(manifest.name) clip holds \(clipSamples) samples, not \(clip.count).")
        }
        guard let window = try classifier.classify(clip).first else {
            throw RecognizerError(.model, "\(manifest.name) produced no window for a full clip.")
        }
        let probabilities = Self.softmax(window.scores, temperature: manifest.temperature)
        let order = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }
        let top = order[0]
        let label = manifest.labels[top]
        let accepted = wordIndices.contains(top) && probabilities[top] >= manifest.acceptThreshold
        let text = accepted || !wordIndices.contains(top) ? label : (manifest.unknownLabel ?? "unknown")
        return CommandResult(text: text, confidence: probabilities[top], accepted: accepted, best: label,
                             topK: order.prefix(max(1, topK)).map { LabelScore(label: manifest.labels[$0], probability: probabilities[$0]) },
                             logits: window.raw, probabilities: probabilities)
    }

    /// softmax(z / T), computed stably.
    static func softmax(_ logits: [Double], temperature: Double) -> [Double] {
        guard let peak = logits.max() else { return [] }
        let exps = logits.map { exp(($0 - peak) / temperature) }
        let total = exps.reduce(0, +)
        return exps.map { $0 / total }
    }
}
