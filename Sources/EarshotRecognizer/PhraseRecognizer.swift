public import EarshotBundles
import EarshotDSP
import Foundation

/// A word of a phrase result, with times in seconds from the start of the audio given to the recogniser.
public struct PhraseWord: Sendable, Codable, Equatable {
    public var word: String
    public var start: Double
    public var end: Double
    public var confidence: Double
    public init(word: String, start: Double, end: Double, confidence: Double) {
        self.word = word; self.start = start; self.end = end; self.confidence = confidence
    }
}

/// What a phrase model said about one utterance.
public struct PhraseResult: Sendable, Codable {
    /// The words, space-separated; empty when nothing was recognised or the grammar allows nothing that fits.
    public var text: String
    public var words: [PhraseWord]
    /// The lowest word confidence (an utterance is only as sure as its least sure word); 0 for no words.
    public var confidence: Double
    /// Words were found, and every word reached the bundle's threshold.
    public var accepted: Bool
    /// The grammar's rule network was used.
    public var constrained: Bool
    /// The speech ran past the model's window and was cut.
    public var truncated: Bool
}

/// A `kind: phrase` bundle: a CTC model emitting per-frame word posteriors, decoded freely or through a JSGF grammar
/// (phrase-en). The utterance is cut to the bundle's clip starting 0.25 s before its speech, as in training.
public final class PhraseRecognizer {
    public let manifest: BundleManifest
    public let clipSamples: Int
    private let classifier: Classifier
    /// Seconds per output frame (the model's time stride).
    public let frameSeconds: Double
    /// Samples of audio before the speech that the clip starts with (0.25 s, the middle of training's 0.1–0.4 s).
    public static let leadSamples = 4_000

    public init(bundle: ModelBundle) throws(RecognizerError) {
        let manifest = bundle.manifest
        guard manifest.kind == "phrase" else {
            throw RecognizerError(.bundle, "\(manifest.name) is a \(manifest.kind) model, not a phrase model.")
        }
        guard let frameMs = manifest.outputFrameMs, frameMs > 0 else {
            throw RecognizerError(.bundle, "\(manifest.name)'s manifest needs \"output_frame_ms\".")
        }
        guard manifest.labels.first == (manifest.blankLabel ?? "<blank>") else {
            throw RecognizerError(.bundle, "\(manifest.name): label 0 must be the CTC blank.")
        }
        let clipSamples = try CommandRecognizer.clipSamples(of: manifest)
        self.manifest = manifest
        self.clipSamples = clipSamples
        frameSeconds = Double(frameMs) / 1_000
        classifier = try Classifier(model: bundle.model, labels: manifest.labels, configuration: manifest.frontend,
                                    scaling: manifest.featureScaling, windowFrames: manifest.windowFrames,
                                    hopFrames: manifest.windowFrames, frameWise: true)
    }

    /// Words the model can output (the labels after the blank).
    public var words: [String] { Array(manifest.labels.dropFirst()) }

    /// The model labels of a grammar's words; an error names the words the model cannot say.
    public func labels(for graph: WordGraph) throws(RecognizerError) -> [Int] {
        let missing = graph.words.filter { !manifest.labels.dropFirst().contains($0) }
        guard missing.isEmpty else {
            throw RecognizerError(.input, "The grammar uses words \(manifest.name) does not know: \(missing.joined(separator: ", ")). Its words: \(words.joined(separator: " ")).")
        }
        return graph.words.map { manifest.labels.firstIndex(of: $0)! }
    }

    /// The model's raw output for one clip of exactly `clipSamples`: frames × labels int8 logits and their values.
    public func output(clip: [Int16]) throws(RecognizerError) -> WindowResult {
        guard clip.count == clipSamples else {
            throw RecognizerError(.input, "A \(manifest.name) clip holds \(clipSamples) samples, not \(clip.count).")
        }
        guard let window = try classifier.classify(clip).first else { throw RecognizerError(.model, "no output for a full clip") }
        return window
    }

    /// Per-frame natural-log posteriors for one clip of exactly `clipSamples`.
    public func logPosteriors(clip: [Int16]) throws(RecognizerError) -> [[Double]] {
        let window = try output(clip: clip)
        let labels = manifest.labels.count
        return stride(from: 0, to: window.scores.count, by: labels).map { start in
            let logits = window.scores[start..<(start + labels)].map { $0 / manifest.temperature }
            let peak = logits.max() ?? 0
            let norm = log(logits.reduce(0) { $0 + exp($1 - peak) }) + peak
            return logits.map { $0 - norm }
        }
    }

    /// Recognises the utterance whose speech spans `speechStart..<speechEnd` of `audio`, through `grammar` if given.
    /// Word times are seconds from the start of `audio`.
    public func recognize(_ audio: ArraySlice<Int16>, speechStart: Int, speechEnd: Int, grammar: WordGraph?) throws(RecognizerError) -> PhraseResult {
        let first = speechStart - Self.leadSamples
        var clip = [Int16](repeating: 0, count: clipSamples)
        let lower = max(first, audio.startIndex), upper = min(first + clipSamples, audio.endIndex)
        if lower < upper { for i in lower..<upper { clip[i - first] = audio[i] } }
        var result = try recognize(clip: clip, grammar: grammar)
        result.truncated = speechEnd > first + clipSamples - 800
        let offset = Double(first - audio.startIndex) / 16_000
        for i in result.words.indices { result.words[i].start += offset; result.words[i].end += offset }
        return result
    }

    /// Recognises one clip; word times are seconds from the clip's start.
    public func recognize(clip: [Int16], grammar: WordGraph?) throws(RecognizerError) -> PhraseResult {
        let posteriors = try logPosteriors(clip: clip)
        let decoding: Decoding?
        if let grammar {
            decoding = CTCDecoder.constrained(posteriors, graph: grammar, labelOf: try labels(for: grammar))
        } else {
            decoding = CTCDecoder.greedy(posteriors)
        }
        let words = (decoding?.words ?? []).map {
            PhraseWord(word: manifest.labels[$0.label], start: Double($0.firstFrame) * frameSeconds,
                       end: Double($0.lastFrame + 1) * frameSeconds, confidence: $0.confidence)
        }
        let confidence = words.map(\.confidence).min() ?? 0
        return PhraseResult(text: words.map(\.word).joined(separator: " "), words: words, confidence: confidence,
                            accepted: !words.isEmpty && confidence >= manifest.acceptThreshold, constrained: grammar != nil,
                            truncated: false)
    }
}
