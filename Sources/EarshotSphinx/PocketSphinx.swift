internal import CPocketSphinx
public import EarshotEdge
public import EarshotRecognizer
import Foundation

/// Why PocketSphinx could not be used: a missing model, a grammar it cannot compile, a decoder that failed.
public struct SphinxError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// PocketSphinx's recogniser (Debian's `libpocketsphinx-dev` and the `pocketsphinx-en-us` acoustic model, trained on
/// real speech) as a transcription engine beside Earshot's own models: in grammar mode (JSGF, the same grammars
/// phrase-en takes) or dictation mode (its trigram language model). It is the stronger "cloud" teacher on real voices,
/// but it cannot reject speech outside a grammar: a grammar-mode answer is always some sentence of the grammar.
/// One decoder per engine, one recording at a time.
public final class PocketSphinxTranscriber: Transcriber, @unchecked Sendable {
    public enum Mode: Sendable, Equatable {
        /// Decode through a JSGF grammar (its text) named `name`.
        case grammar(name: String, jsgf: String)
        /// Decode with the model's language model.
        case dictation
    }

    /// Debian's en-us model.
    public static let defaultModelDirectory = "/usr/share/pocketsphinx/model/en-us"

    public let mode: Mode
    public let name: String
    public let version = "5prealpha"
    public var kind: String { if case .dictation = mode { "dictation" } else { "grammar" } }
    private let decoder: UnsafeMutableRawPointer
    private let config: UnsafeMutableRawPointer
    private let lock = NSLock()

    /// Loads the acoustic model, dictionary and (for dictation) language model from `modelDirectory`.
    public init(mode: Mode, modelDirectory: String = PocketSphinxTranscriber.defaultModelDirectory) throws(SphinxError) {
        self.mode = mode
        switch mode {
        case .dictation: name = "pocketsphinx"
        case .grammar(let grammar, _): name = "pocketsphinx:\(grammar)"
        }
        let acoustic = modelDirectory + "/en-us", dictionary = modelDirectory + "/cmudict-en-us.dict", language = modelDirectory + "/en-us.lm.bin"
        for path in [acoustic + "/mdef", dictionary] + (mode == .dictation ? [language] : []) where !FileManager.default.fileExists(atPath: path) {
            throw SphinxError("PocketSphinx's model is missing: \(path) (install pocketsphinx-en-us, or give --pocketsphinx-model DIR)")
        }
        var message = [CChar](repeating: 0, count: 512)
        guard earshot_sphinx_load(&message, Int32(message.count)) == 0 else {
            throw SphinxError(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        var arguments = ["earshot", "-hmm", acoustic, "-dict", dictionary, "-samprate", "16000", "-bestpath", "yes"]
        if mode == .dictation { arguments += ["-lm", language] }
        let parsed = Self.withCStrings(arguments) { argv in earshot_sphinx_config(Int32(arguments.count), argv) }
        guard let parsed else { throw SphinxError("PocketSphinx refused its settings (\(arguments.dropFirst().joined(separator: " ")))") }
        guard let decoder = earshot_sphinx_init(parsed) else {
            earshot_sphinx_config_free(parsed)
            throw SphinxError("PocketSphinx could not load its model from \(modelDirectory)")
        }
        config = parsed
        self.decoder = decoder
        if case .grammar(let grammar, let jsgf) = mode {
            // The JSGF parser reports problems only through the (silenced) log, so the words are checked here first.
            // (Every stored property is set, so a throw from here on runs deinit, which frees the decoder.)
            let missing = Self.grammarWords(jsgf).filter { earshot_sphinx_has_word(decoder, $0) == 0 }
            guard missing.isEmpty else {
                throw SphinxError("grammar \(grammar): PocketSphinx's dictionary has no \(missing.sorted().joined(separator: ", "))")
            }
            guard earshot_sphinx_set_jsgf(decoder, grammar, jsgf) == 0 else {
                throw SphinxError("grammar \(grammar) is not JSGF PocketSphinx can compile")
            }
        }
    }

    deinit {
        earshot_sphinx_free(decoder)
        earshot_sphinx_config_free(config)
    }

    public var model: String { "\(name)@\(version)" }

    /// The words a JSGF text can say: lower-case tokens outside rule names, tags and the header.
    static func grammarWords(_ jsgf: String) -> Set<String> {
        var words = Set<String>()
        for statement in jsgf.split(separator: ";") {
            guard let equals = statement.firstIndex(of: "=") else { continue }
            var body = String(statement[statement.index(after: equals)...])
            for pattern in [#"<[^>]*>"#, #"\{[^}]*\}"#, #"/[^/]*/"#, #"//.*"#] {
                body = body.replacingOccurrences(of: pattern, with: " ", options: .regularExpression)
            }
            for token in body.split(whereSeparator: { " \t\n\r|()[]*+".contains($0) }) { words.insert(token.lowercased()) }
        }
        return words
    }

    /// A grammar of single commands: one alternative per label (without silence and unknown).
    public static func commandGrammar(labels: [String], name: String = "commands") -> String {
        let words = labels.filter { !["silence", "unknown", "_silence_", "_unknown_"].contains($0) }
        return "#JSGF V1.0;\ngrammar \(name);\npublic <command> = \(words.joined(separator: " | "));\n"
    }

    /// One decoded recording: the words with times and posterior probabilities, and the whole hypothesis's.
    public struct Hypothesis: Sendable, Equatable {
        public var text: String
        public var words: [PhraseWord]
        public var confidence: Double
    }

    /// Decodes 16 kHz mono `samples` as one utterance.
    public func decode(_ samples: [Int16]) throws(SphinxError) -> Hypothesis {
        lock.lock(); defer { lock.unlock() }
        guard samples.withUnsafeBufferPointer({ earshot_sphinx_decode(decoder, $0.baseAddress, $0.count) }) == 0 else {
            throw SphinxError("PocketSphinx failed on the audio")
        }
        let text = earshot_sphinx_hypothesis(decoder).map { String(cString: $0) } ?? ""
        var words: [PhraseWord] = []
        var segment = earshot_sphinx_segments(decoder)
        while let s = segment {
            let word = String(cString: earshot_sphinx_segment_word(s))
            var start: Int32 = 0, end: Int32 = 0
            earshot_sphinx_segment_frames(s, &start, &end)
            // Fillers and sentence marks are not words; "word(2)" is a second pronunciation of "word".
            if !word.hasPrefix("<"), !word.hasPrefix("[") {
                let bare = word.split(separator: "(").first.map(String.init) ?? word
                words.append(PhraseWord(word: bare, start: Double(start) / 100, end: Double(end + 1) / 100,
                                        confidence: min(1, max(0, earshot_sphinx_segment_probability(decoder, s)))))
            }
            segment = earshot_sphinx_segment_next(s)
        }
        let confidence = text.isEmpty ? 0 : min(1, max(0, earshot_sphinx_probability(decoder)))
        return Hypothesis(text: text, words: words, confidence: confidence)
    }

    /// The recording as one segment (PocketSphinx finds its own silences).
    public func transcribe(_ samples: [Int16]) throws -> ServiceTranscript {
        let h = try decode(samples)
        let duration = Double(samples.count) / 16_000
        let start = h.words.first?.start ?? 0, end = h.words.last?.end ?? duration
        let segment = ServiceTranscript.Segment(start: start, end: end, text: h.text, label: h.text.isEmpty ? "silence" : h.text,
                                                confidence: h.confidence, topK: nil)
        return ServiceTranscript(text: h.text, duration: duration, segments: h.text.isEmpty ? [] : [segment], words: h.words, model: model)
    }

    static func withCStrings<T>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        defer { for p in pointers { free(p) } }
        return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }
}
