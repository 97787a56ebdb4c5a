import ArgumentParser
import EarshotBundles
import EarshotEdge
import EarshotRecognizer
import EarshotVAD
import Foundation

extension Earshot {
    /// `earshot transcribe`: VAD and endpointer over a file, then the recognition model on each utterance.
    struct Transcribe: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find the utterances in a sound file and recognise each one with a local model.",
            discussion: """
            The shipped command-en model is used unless --model names another bundle; with --grammar, the shipped \
            phrase-en model decodes only what the JSGF grammar allows (any grammar over its 58 words, no retraining). \
            With --json, stdout is one \
            object: {"model":"name@version","utterances":[{"start":s,"end":s,"text":"...","confidence":c,\
            "accepted":bool,"words":[...]}]}. Rejected or out-of-vocabulary speech gives "unknown" with \
            accepted false. Without --json, one line per utterance: start end text confidence accepted|rejected.
            """)

        @Argument(help: ArgumentHelp("A sound file (any format libsndfile reads, resampled to 16 kHz).", valueName: "file")) var path: String
        @Option(help: ArgumentHelp("A recognition bundle directory (default: the shipped command-en).", valueName: "bundle")) var model: String?
        @Option(help: ArgumentHelp("A JSGF grammar for a phrase model.", valueName: "file.gram")) var grammar: String?
        @Option(help: ArgumentHelp("A VAD bundle directory (default: the shipped earshot-vad-en).", valueName: "bundle")) var vad: String?
        @Option(help: "Labels to list per utterance in --json output.") var topK = 3
        @Flag(help: "Print one JSON object.") var json = false
        @Option(help: ArgumentHelp("Treat the file as back-to-back clips of this many samples, each one utterance given to the model as it is, without the VAD (the recipes' evaluation sets).", valueName: "samples"))
        var clipSamples: Int?

        func validate() throws {
            guard (1...50).contains(topK) else { throw ValidationError("--top-k must be within 1…50.") }
        }

        func run() throws {
            try reportingErrors {
                let (modelDirectory, vadDirectory) = try ModelLocator.recognitionAndVAD(model: model, grammar: grammar, vad: vad)
                let bundle = try ModelBundle(directory: modelDirectory)
                let detector = try VoiceActivityDetector(bundle: vadDirectory)
                let recognise: (ArraySlice<Int16>, Utterance) throws -> TranscriptReport.Utterance
                var recognizerClip = 0
                switch bundle.manifest.kind {
                case "command":
                    if grammar != nil {
                        throw ValidationError("--grammar needs a phrase model; \(bundle.manifest.name) has a fixed vocabulary.")
                    }
                    let recognizer = try CommandRecognizer(bundle: bundle)
                    recognizerClip = recognizer.clipSamples
                    recognise = { audio, u in
                        let r = try recognizer.recognize(audio, speechStart: Int(u.speechStart), speechEnd: Int(u.speechEnd), topK: topK)
                        let start = Double(u.speechStart) / 16_000, end = Double(u.speechEnd) / 16_000
                        return .init(start: start, end: end, text: r.text, confidence: r.confidence, accepted: r.accepted,
                                     words: r.accepted ? [PhraseWord(word: r.text, start: start, end: end, confidence: r.confidence)] : [],
                                     topK: r.topK)
                    }
                case "phrase":
                    let recognizer = try PhraseRecognizer(bundle: bundle)
                    recognizerClip = recognizer.clipSamples
                    let graph = try grammar.map { (path) throws -> WordGraph in try WordGraph(grammar: JSGFGrammar(contentsOfFile: path)) }
                    if let graph { _ = try recognizer.labels(for: graph) }
                    recognise = { audio, u in
                        let r = try recognizer.recognize(audio, speechStart: Int(u.speechStart), speechEnd: Int(u.speechEnd), grammar: graph)
                        return .init(start: Double(u.speechStart) / 16_000, end: Double(u.speechEnd) / 16_000, text: r.text,
                                     confidence: r.confidence, accepted: r.accepted, words: r.words, topK: nil)
                    }
                default:
                    throw RecognizerError(.bundle, "\(bundle.manifest.name) is a \(bundle.manifest.kind) model; transcribe needs a command or phrase model.")
                }
                let samples = try Classify.read(path, rate: 16_000)
                let utterances: [Utterance]
                if let clipSamples {
                    guard clipSamples == recognizerClip, samples.count % clipSamples == 0 else {
                        throw ValidationError("--clip-samples must be the model's clip (\(recognizerClip) samples) and divide the file (\(samples.count) samples).")
                    }
                    utterances = stride(from: 0, to: samples.count, by: clipSamples).map { Self.wholeClip(at: $0, samples: clipSamples, kind: bundle.manifest.kind) }
                } else {
                    utterances = try UtteranceFinder.find(in: samples, detector: detector)
                }
                var report = TranscriptReport(model: "\(bundle.manifest.name)@\(bundle.manifest.version)", utterances: [])
                for u in utterances {
                    let result = try recognise(samples[...], u)
                    report.utterances.append(result)
                    if !json {
                        print(String(format: "%.3f %.3f %@ %.3f %@", result.start, result.end, result.text.isEmpty ? "-" : result.text,
                                     result.confidence, result.accepted ? "accepted" : "rejected"))
                    }
                }
                if json { print(Output.json(report)) }
            }
        }

        /// One whole clip as an utterance whose speech span puts the clip exactly where the recogniser cuts it.
        static func wholeClip(at start: Int, samples: Int, kind: String) -> Utterance {
            let first = kind == "phrase" ? start + PhraseRecognizer.leadSamples : start
            let last = kind == "phrase" ? first + 1 : start + samples
            return Utterance(start: Int64(start), end: Int64(start + samples), speechStart: Int64(first), speechEnd: Int64(last))
        }
    }
}

/// The JSON shape of `earshot transcribe --json`.
struct TranscriptReport: Encodable {
    struct Utterance: Encodable {
        var start: Double; var end: Double; var text: String; var confidence: Double; var accepted: Bool
        var words: [PhraseWord]; var topK: [LabelScore]?
        enum CodingKeys: String, CodingKey { case start, end, text, confidence, accepted, words, topK = "top_k" }
    }
    var model: String
    var utterances: [Utterance]
}
