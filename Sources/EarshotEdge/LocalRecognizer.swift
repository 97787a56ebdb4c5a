public import EarshotBundles
public import EarshotRecognizer

/// The active local model, whichever kind its bundle is, behind one call.
public enum LocalRecognizer {
    case command(CommandRecognizer)
    case phrase(PhraseRecognizer, grammar: WordGraph?)

    /// A recogniser for a verified bundle (`command` or `phrase`); a grammar only goes with a phrase model.
    public init(bundle: ModelBundle, grammar: WordGraph? = nil) throws(RecognizerError) {
        switch bundle.manifest.kind {
        case "command":
            guard grammar == nil else { throw RecognizerError(.input, "A grammar needs a phrase model; \(bundle.manifest.name) has a fixed vocabulary.") }
            self = .command(try CommandRecognizer(bundle: bundle))
        case "phrase":
            let recognizer = try PhraseRecognizer(bundle: bundle)
            if let grammar { _ = try recognizer.labels(for: grammar) }
            self = .phrase(recognizer, grammar: grammar)
        default:
            throw RecognizerError(.bundle, "\(bundle.manifest.name) is a \(bundle.manifest.kind) model; the runtime needs a command or phrase model.")
        }
    }

    public var manifest: BundleManifest {
        switch self {
        case .command(let r): return r.manifest
        case .phrase(let r, _): return r.manifest
        }
    }

    /// Samples of context the model wants before the speech starts and after its centre or start.
    var window: (before: Int, after: Int) {
        switch self {
        case .command(let r): return (r.clipSamples / 2, r.clipSamples / 2)
        case .phrase(let r, _): return (PhraseRecognizer.leadSamples, r.clipSamples - PhraseRecognizer.leadSamples)
        }
    }

    /// What the model says about speech spanning `speechStart..<speechEnd` of `audio` (indices of the slice):
    /// its best guess (a command model's top label even below the bundle's threshold, so a technician can be asked
    /// to confirm it), that guess's confidence, and whether it is a vocabulary word or a non-empty phrase at all.
    /// Whether to act on it is the automation policy's call, not the model's.
    public func recognize(_ audio: ArraySlice<Int16>, speechStart: Int, speechEnd: Int)
        throws(RecognizerError) -> (text: String, confidence: Double, recognised: Bool, topK: [LabelScore]?, words: [PhraseWord]?) {
        switch self {
        case .command(let r):
            let result = try r.recognize(audio, speechStart: speechStart, speechEnd: speechEnd)
            let special = [r.manifest.unknownLabel ?? "unknown", r.manifest.silenceLabel ?? "silence"]
            let isWord = !special.contains(result.best)
            return (isWord ? result.best : result.text, result.confidence, isWord, result.topK, nil)
        case .phrase(let r, let grammar):
            let result = try r.recognize(audio, speechStart: speechStart, speechEnd: speechEnd, grammar: grammar)
            return (result.text, result.confidence, !result.words.isEmpty, nil, result.words)
        }
    }

    /// Reads text from outside (a cloud recogniser) the way this model's labels are written (Models/LABELLING.md):
    /// for a command model, the one vocabulary word said or `unknown`/`silence`; for a phrase model, the normalised
    /// words, recognised when they are not empty and the grammar, if there is one, accepts them.
    public func interpret(cloudText: String) -> (text: String, recognised: Bool) {
        switch self {
        case .command(let r):
            let m = r.manifest
            let unknown = m.unknownLabel ?? "unknown", silence = m.silenceLabel ?? "silence"
            let label = Transcript.commandLabel(cloudText, vocabulary: Set(m.labels).subtracting([unknown, silence]),
                                                unknown: unknown, silence: silence)
            return (label, label != unknown && label != silence)
        case .phrase(_, let grammar):
            let words = Transcript.normalise(cloudText).split(separator: " ").map(String.init).filter { $0 != Transcript.fillerToken }
            return (words.joined(separator: " "), !words.isEmpty && (grammar?.accepts(words) ?? true))
        }
    }
}
