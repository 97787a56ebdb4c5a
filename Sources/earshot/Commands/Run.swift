import ArgumentParser
import EarshotAudio
import EarshotBundles
import EarshotEdge
import EarshotMonitoring
import EarshotRecognizer
import EarshotServer
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
            With --cloud-url and --policy local-first, utterances the local model is unsure of (confidence below \
            --ask-below, or not a command) go to an OpenAI-compatible transcription endpoint; cloud-first asks it \
            for every utterance. The local model always answers first, so when the cloud fails, times out or its \
            circuit is open, its answer stands, flagged "offline": true. No decision waits longer than --budget-ms \
            after the end of its utterance. The bearer token comes from --cloud-token or $EARSHOT_CLOUD_TOKEN.
            The spool (--spool) and the config file (--config) come with the next slices of the runtime and are \
            refused for now.
            """)

        @Option(name: .shortAndLong, help: "Capture live from this ALSA device.") var device: String?
        @Option(help: ArgumentHelp("Process a sound file (any format libsndfile reads) and exit at its end.", valueName: "file")) var audio: String?
        @Flag(help: "Read raw PCM from stdin (layout from --raw).") var stdin = false
        @Option(help: ArgumentHelp("Layout of raw PCM on stdin: FORMAT[:RATE[:CHANNELS]] (default s16le:16000:1).", valueName: "format")) var raw: String?
        @Option(help: "Seconds to listen with --device (default: until Ctrl-C).") var seconds: Double?
        @Option(help: ArgumentHelp("A configuration file.", valueName: "file")) var config: String?
        @Option(help: ArgumentHelp("An OpenAI-compatible transcription endpoint for fallback.", valueName: "url")) var cloudUrl: String?
        @Option(help: "Routing: local-first, cloud-first or local-only (the default without --cloud-url).") var policy: String?
        @Option(help: "The model name sent to the cloud endpoint.") var cloudModel = "whisper-1"
        @Option(help: "The cloud's response format: verbose_json, json or text.") var cloudFormat = "verbose_json"
        @Option(help: "Language hint sent to the cloud (ISO 639-1, e.g. en).") var cloudLanguage: String?
        @Option(help: ArgumentHelp("Bearer token for the cloud (default: $EARSHOT_CLOUD_TOKEN).", valueName: "token")) var cloudToken: String?
        @Option(help: "The longest one cloud request may take, in milliseconds.") var cloudTimeoutMs = 1_500.0
        @Option(help: "The most a decision may take after its utterance ends, in milliseconds.") var budgetMs = 2_000.0
        @Option(help: "local-first asks the cloud below this local confidence (default: the model's accept threshold).") var askBelow: Double?
        @Option(help: "Confidence given to cloud answers that carry no probabilities.") var cloudConfidence = 0.95
        @Option(help: "Failed cloud requests in a row that open the circuit.") var breakerFailures = 3
        @Option(help: "Seconds before the first probe of an open circuit (doubling up to 60).") var breakerBackoff = 2.0
        @Option(help: ArgumentHelp("Directory of the durable utterance log.", valueName: "dir")) var spool: String?
        @Option(help: ArgumentHelp("The active recognition bundle (default: the shipped command-en, or phrase-en with --grammar).", valueName: "bundle")) var model: String?
        @Option(help: ArgumentHelp("A JSGF grammar for a phrase model.", valueName: "file.gram")) var grammar: String?
        @Option(help: ArgumentHelp("The VAD bundle (default: the shipped earshot-vad-en).", valueName: "bundle")) var vad: String?
        @Option(help: "Degree of automation: human-only, shadow, assist, partial or full.") var automation = "partial"
        @Option(help: "Confidence at or above which a decision acts on its own (default: the model's accept threshold).") var acceptAt: Double?
        @Option(help: "Confidence at or above which a decision is worth a technician's confirmation.") var confirmAt = 0.5
        @Option(help: "Utterances that may wait for the recogniser before the oldest is dropped.") var queue = 8
        @Option(help: "Serve Prometheus /metrics and /healthz on this local port (0: any free port, reported on stderr).") var metricsPort: Int?
        @Option(help: "Address for --metrics-port.") var metricsHost = "127.0.0.1"
        @Flag(help: "With --device: make capture wait for the pipeline instead of dropping audio (ALSA file PCMs, replays; not a live microphone).")
        var lossless = false
        @OptionGroup var alsa: ALSAOptions
        @OptionGroup var models: StoreOptions

        /// Whether the models come from a store (--store or $EARSHOT_STORE) rather than one bundle.
        var usesStore: Bool { models.store != nil || !(ProcessInfo.processInfo.environment["EARSHOT_STORE"] ?? "").isEmpty }

        func validate() throws {
            let inputs = [device != nil, audio != nil, stdin].filter { $0 }.count
            guard inputs == 1 else { throw ValidationError("Give exactly one input: --device, --audio or --stdin.") }
            guard policy.map({ RoutingPolicy(rawValue: $0) != nil }) ?? true else {
                throw ValidationError("--policy must be local-first, cloud-first or local-only.")
            }
            if routing != .localOnly {
                guard let cloudUrl else { throw ValidationError("--policy \(routing.rawValue) needs --cloud-url.") }
                guard let url = URL(string: cloudUrl), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                    throw ValidationError("--cloud-url must be an http(s) URL, such as http://127.0.0.1:8080/v1/audio/transcriptions.")
                }
            }
            guard ["verbose_json", "json", "text"].contains(cloudFormat) else { throw ValidationError("--cloud-format must be verbose_json, json or text.") }
            guard cloudTimeoutMs > 0, budgetMs > 0 else { throw ValidationError("--cloud-timeout-ms and --budget-ms must be positive.") }
            guard (0...1).contains(askBelow ?? 0), (0...1).contains(cloudConfidence) else {
                throw ValidationError("--ask-below and --cloud-confidence must be within 0…1.")
            }
            guard breakerFailures >= 1, breakerBackoff > 0 else { throw ValidationError("--breaker-failures must be ≥ 1 and --breaker-backoff positive.") }
            guard AutomationLevel(rawValue: automation) != nil else {
                throw ValidationError("--automation must be one of \(AutomationLevel.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            guard (0...1).contains(acceptAt ?? 1), (0...1).contains(confirmAt), confirmAt <= (acceptAt ?? 1) else {
                throw ValidationError("--confirm-at and --accept-at must be within 0…1, confirm-at ≤ accept-at.")
            }
            guard (1...1_000).contains(queue) else { throw ValidationError("--queue must be within 1…1000.") }
            guard (0...65_535).contains(metricsPort ?? 0) else { throw ValidationError("--metrics-port must be within 0…65535.") }
            if models.store != nil && model != nil { throw ValidationError("Give --model or --store, not both.") }
            if spool != nil { throw ValidationError("--spool is not available yet in this build.") }
            if config != nil { throw ValidationError("--config is not available yet in this build.") }
        }

        /// The routing policy: as given, else local-first when a cloud URL is given, else local-only.
        var routing: RoutingPolicy { policy.flatMap(RoutingPolicy.init(rawValue:)) ?? (cloudUrl == nil ? .localOnly : .localFirst) }

        func router(acceptThreshold: Double) -> Router {
            var configuration = RoutingConfiguration()
            configuration.policy = routing
            configuration.askBelow = askBelow ?? acceptThreshold
            configuration.requestTimeout = cloudTimeoutMs / 1_000
            configuration.budget = budgetMs / 1_000
            configuration.assumedCloudConfidence = cloudConfidence
            guard routing != .localOnly, let url = cloudUrl.flatMap(URL.init(string:)) else { return Router(configuration: configuration) }
            let client = CloudClient(url: url, model: cloudModel, token: cloudToken ?? ProcessInfo.processInfo.environment["EARSHOT_CLOUD_TOKEN"],
                                     responseFormat: cloudFormat)
            client.language = cloudLanguage
            return Router(configuration: configuration, client: client,
                          breaker: CircuitBreaker(failureThreshold: breakerFailures, initialBackoff: breakerBackoff))
        }

        func run() throws {
            try reportingErrors {
                let (modelDirectory, vadDirectory) = try ModelLocator.recognitionAndVAD(model: model, grammar: grammar, vad: vad)
                let graph = try grammar.map { (path) throws -> WordGraph in try WordGraph(grammar: JSGFGrammar(contentsOfFile: path)) }
                let slots = usesStore && model == nil
                    ? try ModelSlots(store: try models.open(), grammar: graph)
                    : ModelSlots(fixed: try LocalRecognizer(bundle: ModelBundle(directory: modelDirectory), grammar: graph))
                let recognizer = slots.current.active.recognizer
                let detector = try VoiceActivityDetector(bundle: vadDirectory)
                let policy = AutomationPolicy(level: AutomationLevel(rawValue: automation) ?? .partial,
                                              acceptAt: acceptAt ?? recognizer.manifest.acceptThreshold,
                                              confirmAt: min(confirmAt, acceptAt ?? recognizer.manifest.acceptThreshold))
                var configuration = EdgePipeline.Configuration()
                configuration.endpointer.onThreshold = detector.manifest.acceptThreshold
                configuration.endpointer.offThreshold = configuration.endpointer.onThreshold * 0.7
                configuration.queueCapacity = queue
                // Files and pipes can wait for the model; a live microphone cannot, so its backlog is dropped and counted.
                configuration.waitWhenFull = device == nil || lossless
                let output = DecisionPrinter()
                let router = router(acceptThreshold: recognizer.manifest.acceptThreshold)
                let pipeline = EdgePipeline(detector: detector, slots: slots, policy: policy, router: router, configuration: configuration) {
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
                    if lossless { capture.overflowPolicy = .block }
                    let session = try CaptureSession(capture)
                    let interrupt = Record.stopOnInterrupt(session)
                    stop = { interrupt.cancel() }
                    session.start(frameLimit: seconds.map { UInt64($0 * Double(session.negotiated.sampleRate)) })
                    source = CaptureSource(session)
                }
                defer { stop?() }
                let registry = MetricsRegistry()
                pipeline.attach(metrics: registry)
                registry.collectProcessMetrics()
                var metricsServer: MetricsServer?
                if let metricsPort {
                    let audioFlow = AudioFlow()
                    do {
                        metricsServer = try MetricsServer(host: metricsHost, port: metricsPort, registry: registry) {
                            audioFlow.healthy(samples: pipeline.snapshot.samples)
                        }
                    } catch {
                        throw fail("\(error)", .ioError)
                    }
                    FileHandle.standardError.write(Data("earshot: metrics on http://\(metricsHost):\(metricsServer!.port)/metrics\n".utf8))
                }
                defer { metricsServer?.stop() }
                let systemd = SystemdNotifier()
                systemd?.notify("READY=1\nSTATUS=listening (\(slots.current.active.id), \(routing.rawValue))")
                systemd?.startWatchdog { pipeline.snapshot.samples }
                defer { systemd?.stop() }
                let started = Date()
                try pipeline.run(source)
                let c = pipeline.snapshot
                let seconds = Double(c.samples) / 16_000
                FileHandle.standardError.write(Data(String(
                    format: "earshot: %.1f s of audio in %.2f s: %d utterances, %d decisions, %d dropped, %d recognition errors\n",
                    seconds, Date().timeIntervalSince(started), c.utterances, c.decisions, c.dropped, c.recognitionErrors).utf8))
                if c.canary + c.shadow + c.rollbacks > 0 {
                    FileHandle.standardError.write(Data("earshot: candidate: \(c.canary) answered by the canary, \(c.shadow) shadowed, \(c.rollbacks) automatic rollbacks\n".utf8))
                }
                if routing != .localOnly {
                    FileHandle.standardError.write(Data(
                        "earshot: routing \(routing.rawValue): \(c.cloudAnswers) answered by the cloud, \(c.cloudFailures) cloud failures, \(c.cloudSkipped) not asked (circuit open or no budget), \(c.offline) offline; circuit \(router.breaker.state.rawValue)\n".utf8))
                }
            }
        }
    }
}

/// /healthz for a running pipeline: healthy while audio keeps arriving (checked between scrapes, at most 5 s apart).
final class AudioFlow: @unchecked Sendable {
    private let lock = NSLock()
    private var last: (samples: Int64, at: Date) = (-1, Date())

    func healthy(samples: Int64) -> (Bool, String) {
        lock.lock(); defer { lock.unlock() }
        let now = Date()
        if samples != last.samples { last = (samples, now) }
        let stalled = now.timeIntervalSince(last.at)
        return stalled < 5 ? (true, String(format: "ok: %.1f s of audio", Double(samples) / 16_000))
            : (false, String(format: "no audio for %.1f s", stalled))
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
