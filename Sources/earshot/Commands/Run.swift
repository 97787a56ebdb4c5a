import ArgumentParser
import Crypto
import EarshotAudio
import EarshotBundles
import EarshotConfig
import EarshotEdge
import EarshotMonitoring
import EarshotRecognizer
import EarshotServer
import EarshotSpool
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
            Settings come from built-in defaults, then the YAML file given by --config (or $EARSHOT_CONFIG; check it \
            with `earshot config check`), then EARSHOT_* environment variables, then flags: the last one wins. \
            With --spool DIR (or spool.directory) every decision is also written to the durable offline log there \
            (`earshot spool status`, `earshot logs`); stdout never waits for it.
            """)

        @Option(name: .shortAndLong, help: "Capture live from this ALSA device (config input.device).") var device: String?
        @Option(help: ArgumentHelp("Process a sound file (any format libsndfile reads) and exit at its end.", valueName: "file")) var audio: String?
        @Flag(help: "Read raw PCM from stdin (layout from --raw).") var stdin = false
        @Option(help: ArgumentHelp("Layout of raw PCM on stdin: FORMAT[:RATE[:CHANNELS]] (default s16le:16000:1).", valueName: "format")) var raw: String?
        @Option(help: "Seconds to listen with --device (default: until Ctrl-C).") var seconds: Double?
        @Option(help: ArgumentHelp("A YAML configuration file (default: $EARSHOT_CONFIG).", valueName: "file")) var config: String?
        @Option(help: ArgumentHelp("An OpenAI-compatible transcription endpoint for fallback.", valueName: "url")) var cloudUrl: String?
        @Option(help: "Routing: local-first, cloud-first or local-only (default: local-first with a cloud URL, else local-only).") var policy: String?
        @Option(help: "The model name sent to the cloud endpoint (default whisper-1).") var cloudModel: String?
        @Option(help: "The cloud's response format: verbose_json (default), json or text.") var cloudFormat: String?
        @Option(help: "Language hint sent to the cloud (ISO 639-1, e.g. en).") var cloudLanguage: String?
        @Option(help: ArgumentHelp("Bearer token for the cloud (default: $EARSHOT_CLOUD_TOKEN).", valueName: "token")) var cloudToken: String?
        @Option(help: "The longest one cloud request may take, in milliseconds (default 1500).") var cloudTimeoutMs: Double?
        @Option(help: "The most a decision may take after its utterance ends, in milliseconds (default 2000).") var budgetMs: Double?
        @Option(help: "local-first asks the cloud below this local confidence (default: the model's accept threshold).") var askBelow: Double?
        @Option(help: "local-first also asks the cloud for this share (0…1) of confident utterances, as spot checks of agreement (default 0).") var askSample: Double?
        @Option(help: "Confidence given to cloud answers that carry no probabilities (default 0.95).") var cloudConfidence: Double?
        @Option(help: "Failed cloud requests in a row that open the circuit (default 3).") var breakerFailures: Int?
        @Option(help: "Seconds before the first probe of an open circuit, doubling up to 60 (default 2).") var breakerBackoff: Double?
        @Option(help: ArgumentHelp("Directory of the durable utterance log.", valueName: "dir")) var spool: String?
        @Option(help: ArgumentHelp("The active recognition bundle (default: the shipped command-en, or phrase-en with --grammar).", valueName: "bundle")) var model: String?
        @Option(help: ArgumentHelp("A JSGF grammar for a phrase model.", valueName: "file.gram")) var grammar: String?
        @Option(help: ArgumentHelp("The VAD bundle (default: the shipped earshot-vad-en).", valueName: "bundle")) var vad: String?
        @Option(help: "Degree of automation: human-only, shadow, assist, partial (default) or full.") var automation: String?
        @Option(help: "Confidence at or above which a decision acts on its own (default: the model's accept threshold).") var acceptAt: Double?
        @Option(help: "Confidence at or above which a decision is worth a technician's confirmation (default 0.5).") var confirmAt: Double?
        @Option(help: "Utterances that may wait for the recogniser before the oldest is dropped (default 8).") var queue: Int?
        @Option(help: "Serve Prometheus /metrics and /healthz on this local port (0: any free port, reported on stderr).") var metricsPort: Int?
        @Option(help: "Address for --metrics-port (default 127.0.0.1).") var metricsHost: String?
        @Option(help: "Keep this share (0…1) of utterances' audio as FLAC in the spool's audio/ for retraining (default 0: none; needs --spool).") var keepAudio: Double?
        @Option(help: "Most megabytes of kept audio; the oldest files go first (default 100).") var keepAudioMb: Double?
        @Option(help: "Days kept audio is retained (default 30).") var keepAudioDays: Double?
        @Option(help: ArgumentHelp("Also publish each decision line to every client of this UNIX socket.", valueName: "path")) var socket: String?
        @Option(help: ArgumentHelp("Also POST each decision (JSON) to this URL, off the pipeline's thread.", valueName: "url")) var webhook: String?
        @Option(help: ArgumentHelp("Bearer token for --webhook (default: $EARSHOT_WEBHOOK_TOKEN).", valueName: "token")) var webhookToken: String?
        @Flag(inversion: .prefixedNo, help: "With --device: make capture wait for the pipeline instead of dropping audio (ALSA file PCMs, replays; not a live microphone).")
        var lossless: Bool?
        @Option(help: ArgumentHelp("Name this run in decision ids (RUN-SEQUENCE; default: random). Letters, digits, '.', '_', '-'; it must differ between runs of one spool.", valueName: "id"))
        var runId: String?
        @OptionGroup var alsa: ALSAOptions
        @OptionGroup var models: StoreOptions

        /// What the flags say; nil where a flag was not given, so the config file and environment show through.
        var flagSettings: RuntimeSettings {
            var s = RuntimeSettings()
            s.device = device; s.alsaConfig = alsa.configurationFile; s.lossless = lossless
            s.store = models.store; s.trustedKeys = models.trustedKeys.isEmpty ? nil : models.trustedKeys
            s.model = model; s.grammar = grammar; s.vad = vad
            s.automation = automation; s.acceptAt = acceptAt; s.confirmAt = confirmAt; s.queue = queue
            s.cloudURL = cloudUrl; s.policy = policy; s.cloudModel = cloudModel; s.cloudFormat = cloudFormat; s.cloudLanguage = cloudLanguage
            s.cloudToken = cloudToken; s.cloudTimeoutMs = cloudTimeoutMs; s.budgetMs = budgetMs; s.askBelow = askBelow; s.askSample = askSample
            s.cloudConfidence = cloudConfidence; s.breakerFailures = breakerFailures; s.breakerBackoff = breakerBackoff
            s.metricsPort = metricsPort; s.metricsHost = metricsHost
            s.socket = socket; s.webhook = webhook; s.webhookToken = webhookToken; s.spool = spool
            s.keepAudio = keepAudio; s.keepAudioMB = keepAudioMb; s.keepAudioDays = keepAudioDays
            return s
        }

        func validate() throws {
            guard [audio != nil, stdin].filter({ $0 }).count + (device != nil ? 1 : 0) <= 1 else {
                throw ValidationError("Give one input: --device, --audio or --stdin.")
            }
            if let problem = flagSettings.problems().first { throw ValidationError(Self.flagName(problem)) }
            if models.store != nil && model != nil { throw ValidationError("Give --model or --store, not both.") }
            if let runId, runId.isEmpty || runId.count > 64 || !runId.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) {
                throw ValidationError("--run-id: 1–64 letters, digits, '.', '_' or '-', not \"\(runId)\"")
            }
        }

        /// "cloud.budget_ms: …" as the flag a person typed ("--budget-ms: …").
        static func flagName(_ problem: String) -> String {
            let names = ["input.device": "--device", "automation.level": "--automation", "automation.accept_at": "--accept-at",
                         "automation.confirm_at": "--confirm-at", "pipeline.queue": "--queue", "cloud.url": "--cloud-url", "cloud.policy": "--policy",
                         "cloud.model": "--cloud-model", "cloud.format": "--cloud-format", "cloud.timeout_ms": "--cloud-timeout-ms",
                         "cloud.budget_ms": "--budget-ms", "cloud.ask_below": "--ask-below", "cloud.ask_sample": "--ask-sample", "cloud.assumed_confidence": "--cloud-confidence",
                         "cloud.breaker_failures": "--breaker-failures", "cloud.breaker_backoff_s": "--breaker-backoff",
                         "metrics.port": "--metrics-port", "metrics.host": "--metrics-host", "sinks.webhook": "--webhook",
                         "spool.keep_audio": "--keep-audio", "spool.keep_audio_mb": "--keep-audio-mb", "spool.keep_audio_days": "--keep-audio-days"]
            guard let colon = problem.firstIndex(of: ":"), let flag = names[String(problem[..<colon])] else { return problem }
            return flag + problem[colon...]
        }

        /// Defaults ← config file ← environment ← flags, checked as a whole.
        func settings() throws -> RuntimeSettings {
            let environment = ProcessInfo.processInfo.environment
            var file = RuntimeSettings()
            if let path = config ?? environment["EARSHOT_CONFIG"].flatMap({ $0.isEmpty ? nil : $0 }) {
                do { file = try ConfigFile.load(path: path) } catch {
                    throw fail("the config file is not usable:\n\(error.description)", error.unreadable ? .inputMissing : .corruptInput)
                }
            }
            let (fromEnvironment, problems) = RuntimeSettings.fromEnvironment(environment)
            guard problems.isEmpty else { throw fail(problems.joined(separator: "\n"), .usage) }
            let merged = file.overlaid(by: fromEnvironment).overlaid(by: flagSettings)
            var errors = merged.problems()
            if merged.policy.map({ $0 != "local-only" }) ?? false, merged.cloudURL == nil { errors.append("cloud.policy: \(merged.policy!) needs cloud.url (--cloud-url)") }
            if (merged.keepAudio ?? 0) > 0 && merged.spool == nil { errors.append("spool.keep_audio: keeping audio needs a spool (--spool)") }
            if let a = merged.acceptAt, let c = merged.confirmAt, c > a { errors.append("automation.confirm_at: \(c) is above accept_at \(a)") }
            guard errors.isEmpty else { throw fail(errors.joined(separator: "\n"), .usage) }
            guard audio != nil || stdin || merged.device != nil else { throw fail("Give an input: --device (or input.device), --audio or --stdin.", .usage) }
            return merged
        }

        /// The routing policy: as given, else local-first when a cloud URL is given, else local-only.
        static func routing(_ s: RuntimeSettings) -> RoutingPolicy {
            s.policy.flatMap(RoutingPolicy.init(rawValue:)) ?? (s.cloudURL == nil ? .localOnly : .localFirst)
        }

        static func router(_ s: RuntimeSettings, acceptThreshold: Double) -> Router {
            var configuration = RoutingConfiguration()
            configuration.policy = routing(s)
            configuration.askBelow = s.askBelow ?? acceptThreshold
            configuration.askSample = s.askSample ?? 0
            configuration.requestTimeout = (s.cloudTimeoutMs ?? 1_500) / 1_000
            configuration.budget = (s.budgetMs ?? 2_000) / 1_000
            configuration.assumedCloudConfidence = s.cloudConfidence ?? 0.95
            guard configuration.policy != .localOnly, let url = s.cloudURL.flatMap(URL.init(string:)) else { return Router(configuration: configuration) }
            let client = CloudClient(url: url, model: s.cloudModel ?? "whisper-1", token: s.cloudToken, responseFormat: s.cloudFormat ?? "verbose_json")
            client.language = s.cloudLanguage
            return Router(configuration: configuration, client: client,
                          breaker: CircuitBreaker(failureThreshold: s.breakerFailures ?? 3, initialBackoff: s.breakerBackoff ?? 2))
        }

        func run() throws {
            let s = try settings()
            try reportingErrors {
                let (modelDirectory, vadDirectory) = try ModelLocator.recognitionAndVAD(model: s.model, grammar: s.grammar, vad: s.vad)
                let graph = try s.grammar.map { (path) throws -> WordGraph in try WordGraph(grammar: JSGFGrammar(contentsOfFile: path)) }
                let slots: ModelSlots
                if let store = s.store, s.model == nil {
                    var keys: [Curve25519.Signing.PublicKey] = []
                    for file in s.trustedKeys ?? [] { keys.append(try ModelBundle.publicKey(file: file)) }
                    slots = try ModelSlots(store: ModelStore(directory: store, trustedKeys: keys), grammar: graph)
                } else {
                    slots = ModelSlots(fixed: try LocalRecognizer(bundle: ModelBundle(directory: modelDirectory), grammar: graph))
                }
                let recognizer = slots.current.active.recognizer
                let detector = try VoiceActivityDetector(bundle: vadDirectory)
                let acceptAt = s.acceptAt ?? recognizer.manifest.acceptThreshold
                let policy = AutomationPolicy(level: s.automation.flatMap(AutomationLevel.init(rawValue:)) ?? .partial,
                                              acceptAt: acceptAt, confirmAt: min(s.confirmAt ?? 0.5, acceptAt), acceptFromModel: s.acceptAt == nil)
                var configuration = EdgePipeline.Configuration()
                configuration.endpointer.onThreshold = detector.manifest.acceptThreshold
                configuration.endpointer.offThreshold = configuration.endpointer.onThreshold * 0.7
                configuration.queueCapacity = s.queue ?? 8
                if let runId { configuration.runID = runId }
                if let directory = s.spool, let share = s.keepAudio, share > 0 {
                    configuration.audioKeeper = AudioKeeper(directory: directory + "/audio", policy: .init(
                        share: share, maximumBytes: Int64((s.keepAudioMB ?? 100) * 1_048_576), retentionDays: s.keepAudioDays ?? 30))
                }
                // Files and pipes can wait for the model; a live microphone cannot, so its backlog is dropped and counted.
                configuration.waitWhenFull = audio != nil || stdin || (s.lossless ?? false)
                let socketSink: SocketPublisher?
                do { socketSink = try s.socket.map { try SocketPublisher(path: $0) } } catch { throw fail("\(error)", .cannotCreate) }
                let webhookSink = s.webhook.flatMap(URL.init(string:)).map { WebhookSink(url: $0, token: s.webhookToken) }
                defer { socketSink?.stop() }
                var spoolSink: Spool?
                if let directory = s.spool {
                    do throws(SpoolError) { spoolSink = try Spool(Spool.Configuration(directory: directory)) } catch {
                        throw fail(error.message, error.code == .unwritable ? .cannotCreate : .corruptInput)
                    }
                }
                for note in spoolSink?.drainNotes() ?? [] { FileHandle.standardError.write(Data((note + "\n").utf8)) }
                let output = DecisionPrinter(socket: socketSink, webhook: webhookSink, spool: spoolSink)
                let router = Self.router(s, acceptThreshold: recognizer.manifest.acceptThreshold)
                let routing = Self.routing(s)
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
                    var capture = CaptureConfiguration(device: s.device ?? "default")
                    capture.configurationFile = s.alsaConfig
                    if s.lossless ?? false { capture.overflowPolicy = .block }
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
                let metricsHost = s.metricsHost ?? "127.0.0.1"
                if let metricsPort = s.metricsPort {
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
                webhookSink?.finish()
                if let spoolSink {
                    spoolSink.flush()
                    let status = try? spoolSink.status()
                    spoolSink.close()
                    for note in spoolSink.drainNotes() { FileHandle.standardError.write(Data((note + "\n").utf8)) }
                    if let status {
                        FileHandle.standardError.write(Data("earshot: spool \(spoolSink.configuration.directory): committed through \(status.committedSequence), backlog \(status.backlog), dropped \(status.dropped)\n".utf8))
                    }
                }
                if let socketSink {
                    FileHandle.standardError.write(Data("earshot: socket \(socketSink.path): \(socketSink.clientCount) clients at the end, \(socketSink.dropped) lines dropped for slow clients\n".utf8))
                }
                if let counts = webhookSink?.counts {
                    FileHandle.standardError.write(Data("earshot: webhook: \(counts.delivered) delivered, \(counts.failed) failed, \(counts.dropped) dropped\n".utf8))
                }
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

/// Writes decisions as JSON lines on stdout, one at a time, flushed, from whichever thread produces them, and hands
/// the same line to the socket and webhook sinks (which never block).
final class DecisionPrinter: @unchecked Sendable {
    private let lock = NSLock()
    private let socket: SocketPublisher?
    private let webhook: WebhookSink?
    private let spool: Spool?
    private let bootID = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
        .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"

    init(socket: SocketPublisher? = nil, webhook: WebhookSink? = nil, spool: Spool? = nil) {
        self.socket = socket
        self.webhook = webhook
        self.spool = spool
    }

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
        socket?.publish(data)
        webhook?.publish(data)
        if let spool {
            // The spool's record: schema version, where and when it was made, and the decision itself. The device id,
            // epoch and sequence number are the spool's own columns.
            var record = Data("{\"schema\":1,\"boot_id\":\"\(bootID)\",\"monotonic_ns\":\(DispatchTime.now().uptimeNanoseconds),\"decision\":".utf8)
            record.append(data.dropLast())
            record.append(contentsOf: Array("}".utf8))
            spool.append(record)
        }
    }
}
