import ArgumentParser
import EarshotAudio
import EarshotBundles
import EarshotEdge
import EarshotRecognizer
import EarshotVAD
import Foundation

extension Earshot {
    /// `earshot run`: the edge runtime, from microphone (or file, or stdin) to one JSON decision per utterance.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the edge pipeline: audio → VAD → endpointer → local model → decisions as JSON lines.",
            discussion: """
            stdout carries only JSON lines, one per decision, with at least id, start, end (seconds in the input), \
            text, confidence, source ("local" or "cloud"), offline, automation ("accept", "confirm" or "reject") \
            and latency_ms; logs and the closing summary go to stderr. With --audio the run ends, exit 0, when the \
            file does. Live capture never waits for the recogniser: utterances that cannot be recognised in time \
            are dropped and counted in the summary (files and stdin are read at the recogniser's pace instead).
            This build answers locally (--policy local-only); the cloud fallback (--cloud-url), the spool (--spool) \
            and the config file (--config) come with the next slices of the runtime and are refused for now.
            """)

        @Option(name: .shortAndLong, help: "Capture live from this ALSA device.") var device: String?
        @Option(help: ArgumentHelp("Process a sound file (any format libsndfile reads) and exit at its end.", valueName: "file")) var audio: String?
        @Flag(help: "Read raw PCM from stdin (layout from --raw).") var stdin = false
        @Option(help: ArgumentHelp("Layout of raw PCM on stdin: FORMAT[:RATE[:CHANNELS]] (default s16le:16000:1).", valueName: "format")) var raw: String?
        @Option(help: "Seconds to listen with --device (default: until Ctrl-C).") var seconds: Double?
        @Option(help: ArgumentHelp("A configuration file.", valueName: "file")) var config: String?
        @Option(help: ArgumentHelp("An OpenAI-compatible transcription endpoint for fallback.", valueName: "url")) var cloudUrl: String?
        @Option(help: "Routing: local-first, cloud-first or local-only.") var policy = "local-only"
        @Option(help: ArgumentHelp("Directory of the durable utterance log.", valueName: "dir")) var spool: String?
        @Option(help: ArgumentHelp("The active recognition bundle (default: the shipped command-en, or phrase-en with --grammar).", valueName: "bundle")) var model: String?
        @Option(help: ArgumentHelp("A JSGF grammar for a phrase model.", valueName: "file.gram")) var grammar: String?
        @Option(help: ArgumentHelp("The VAD bundle (default: the shipped earshot-vad-en).", valueName: "bundle")) var vad: String?
        @Option(help: "Degree of automation: human-only, shadow, assist, partial or full.") var automation = "partial"
        @Option(help: "Confidence at or above which a decision acts on its own (default: the model's accept threshold).") var acceptAt: Double?
        @Option(help: "Confidence at or above which a decision is worth a technician's confirmation.") var confirmAt = 0.5
        @Option(help: "Utterances that may wait for the recogniser before the oldest is dropped.") var queue = 8
        @OptionGroup var alsa: ALSAOptions

        func validate() throws {
            let inputs = [device != nil, audio != nil, stdin].filter { $0 }.count
            guard inputs == 1 else { throw ValidationError("Give exactly one input: --device, --audio or --stdin.") }
            guard ["local-first", "cloud-first", "local-only"].contains(policy) else {
                throw ValidationError("--policy must be local-first, cloud-first or local-only.")
            }
            guard AutomationLevel(rawValue: automation) != nil else {
                throw ValidationError("--automation must be one of \(AutomationLevel.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            guard (0...1).contains(acceptAt ?? 1), (0...1).contains(confirmAt), confirmAt <= (acceptAt ?? 1) else {
                throw ValidationError("--confirm-at and --accept-at must be within 0…1, confirm-at ≤ accept-at.")
            }
            guard (1...1_000).contains(queue) else { throw ValidationError("--queue must be within 1…1000.") }
            if cloudUrl != nil || policy != "local-only" {
                throw ValidationError("This build answers locally only (--policy local-only); cloud fallback is not available yet.")
            }
            if spool != nil { throw ValidationError("--spool is not available yet in this build.") }
            if config != nil { throw ValidationError("--config is not available yet in this build.") }
        }

        func run() throws {
            try reportingErrors {
                let (modelDirectory, vadDirectory) = try ModelLocator.recognitionAndVAD(model: model, grammar: grammar, vad: vad)
                let graph = try grammar.map { (path) throws -> WordGraph in try WordGraph(grammar: JSGFGrammar(contentsOfFile: path)) }
                let recognizer = try LocalRecognizer(bundle: ModelBundle(directory: modelDirectory), grammar: graph)
                let detector = try VoiceActivityDetector(bundle: vadDirectory)
                let policy = AutomationPolicy(level: AutomationLevel(rawValue: automation) ?? .partial,
                                              acceptAt: acceptAt ?? recognizer.manifest.acceptThreshold,
                                              confirmAt: min(confirmAt, acceptAt ?? recognizer.manifest.acceptThreshold))
                var configuration = EdgePipeline.Configuration()
                configuration.endpointer.onThreshold = detector.manifest.acceptThreshold
                configuration.endpointer.offThreshold = configuration.endpointer.onThreshold * 0.7
                configuration.queueCapacity = queue
                // Files and pipes can wait for the model; a live microphone cannot, so its backlog is dropped and counted.
                configuration.waitWhenFull = device == nil
                let output = DecisionPrinter()
                let pipeline = EdgePipeline(detector: detector, recognizer: recognizer, policy: policy, configuration: configuration) {
                    output.print($0)
                }
                let source: any PipelineAudioSource
                var stop: (() -> Void)?
                if let audio {
                    source = try ConvertingSource(try AudioFileReader(path: audio))
                } else if stdin {
                    source = try ConvertingSource(RawPCMReader(fileDescriptor: STDIN_FILENO, format: try RawStreamFormat(parsing: raw ?? "s16le:16000:1")))
                } else {
                    var capture = CaptureConfiguration(device: device ?? "default")
                    capture.configurationFile = alsa.resolvedConfigurationFile
                    let session = try CaptureSession(capture)
                    let interrupt = Record.stopOnInterrupt(session)
                    stop = { interrupt.cancel() }
                    session.start(frameLimit: seconds.map { UInt64($0 * Double(session.negotiated.sampleRate)) })
                    source = CaptureSource(session)
                }
                defer { stop?() }
                let started = Date()
                try pipeline.run(source)
                let c = pipeline.snapshot
                let seconds = Double(c.samples) / 16_000
                FileHandle.standardError.write(Data(String(
                    format: "earshot: %.1f s of audio in %.2f s: %d utterances, %d decisions, %d dropped, %d recognition errors\n",
                    seconds, Date().timeIntervalSince(started), c.utterances, c.decisions, c.dropped, c.recognitionErrors).utf8))
            }
        }
    }
}

/// Writes decisions as JSON lines on stdout, one at a time, flushed, from whichever thread produces them.
final class DecisionPrinter: @unchecked Sendable {
    private let lock = NSLock()
    private let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    func print(_ decision: Decision) {
        lock.lock(); defer { lock.unlock() }
        guard var data = try? encoder.encode(decision) else { return }
        data.append(0x0A)
        FileHandle.standardOutput.write(data)
    }
}
