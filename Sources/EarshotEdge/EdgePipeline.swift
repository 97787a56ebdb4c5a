public import EarshotAudio
public import EarshotVAD
import EarshotBundles
public import EarshotMonitoring
import EarshotRecognizer
import Foundation

/// The device pipeline from audio to decisions: source → VAD → endpointer on the calling thread, then a bounded
/// queue → local recogniser → router (cloud fallback) → automation policy → sink on a worker thread. Audio never waits for the model: when
/// utterances arrive faster than they are recognised, the oldest waiting one is dropped and counted.
public final class EdgePipeline: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var endpointer = EndpointerConfiguration()
        /// Utterances that may wait for the recogniser before the oldest is dropped.
        public var queueCapacity = 8
        /// An utterance starting within this many seconds of the previous one's end, which said the same or was not
        /// accepted, is flagged `quick_repeat`.
        public var quickRepeatSeconds = 5.0
        /// For sources that can wait (files): hold the reader instead of dropping utterances.
        public var waitWhenFull = false
        /// Keeps a sample of utterance audio (off when nil, the default).
        public var audioKeeper: AudioKeeper?
        /// Identifies this run in decision ids.
        public var runID = String(UInt64.random(in: 0..<(1 << 40)), radix: 36)
        public init() {}
    }

    /// Counts since the pipeline started (read after `run` returns, or from any thread for a snapshot).
    public struct Counters: Sendable, Codable {
        public var samples: Int64 = 0
        public var utterances = 0
        public var decisions = 0
        public var dropped = 0
        public var recognitionErrors = 0
        /// Decisions answered by the cloud, cloud requests that failed or timed out, utterances the cloud was wanted
        /// for but not asked (circuit open or no budget left), and decisions flagged offline.
        public var cloudAnswers = 0
        public var cloudFailures = 0
        public var cloudSkipped = 0
        public var offline = 0
        /// Decisions the canary answered, utterances the shadow ran on, candidates rolled back automatically.
        public var canary = 0
        public var shadow = 0
        public var rollbacks = 0
        /// Samples inside utterances (speech as the endpointer cut it), for the VAD's speech ratio.
        public var speechSamples: Int64 = 0
        /// Seconds the recogniser thread spent on utterances (models, routing excluded), for the real-time factor.
        public var recognitionSeconds = 0.0
        /// Utterances waiting for the recogniser now.
        public var queueDepth = 0
    }

    private struct Job {
        var sequence: Int
        var utterance: Utterance
        var window: [Int16]
        var windowStart: Int64
        var closedAt: ContinuousClock.Instant
        /// Capture losses since the previous utterance closed.
        var overruns = 0
        var droppedSamples: UInt64 = 0
    }

    private let detector: VoiceActivityDetector
    private let slots: ModelSlots
    private let policy: AutomationPolicy
    private let router: Router
    private let configuration: Configuration
    private let sink: @Sendable (Decision) -> Void
    private let queue: UtteranceQueue<Job>
    private var metrics: MetricsRegistry?
    private let lock = NSLock()
    private var counters = Counters()
    /// The most recent audio, so the recogniser gets context around the speech (indices from `historyStart`).
    private var history: [Int16] = []
    private var historyStart: Int64 = 0

    /// A pipeline with one fixed model.
    public convenience init(detector: VoiceActivityDetector, recognizer: LocalRecognizer, policy: AutomationPolicy, router: Router = Router(),
                            configuration: Configuration = Configuration(), sink: @escaping @Sendable (Decision) -> Void) {
        self.init(detector: detector, slots: ModelSlots(fixed: recognizer), policy: policy, router: router, configuration: configuration, sink: sink)
    }

    /// A pipeline whose models follow `slots` (active, candidate in shadow or canary, rollback).
    public init(detector: VoiceActivityDetector, slots: ModelSlots, policy: AutomationPolicy, router: Router = Router(),
                configuration: Configuration = Configuration(), sink: @escaping @Sendable (Decision) -> Void) {
        self.detector = detector
        self.slots = slots
        self.policy = policy
        self.router = router
        self.configuration = configuration
        self.sink = sink
        queue = UtteranceQueue(capacity: configuration.queueCapacity, waitWhenFull: configuration.waitWhenFull)
    }

    /// Publishes the pipeline's metrics in `registry` (histograms per decision, counters and gauges read at scrape
    /// time). Call before `run`.
    public func attach(metrics registry: MetricsRegistry) {
        metrics = registry
        registry.declare("earshot_decision_latency_seconds", .histogram, help: "From the end of an utterance to its decision.")
        registry.declare("earshot_stage_seconds", .histogram, help: "Time per pipeline stage (queue, recognize, cloud).")
        registry.declare("earshot_decisions_total", .counter, help: "Decisions by source, automation and answering model.")
        registry.declare("earshot_cloud_requests_total", .counter, help: "Utterances the router wanted the cloud for, by outcome.")
        let gauges: [(String, MetricsRegistry.Kind, String)] = [
            ("earshot_audio_seconds_total", .counter, "Seconds of audio read."),
            ("earshot_utterances_total", .counter, "Utterances the endpointer closed."),
            ("earshot_dropped_utterances_total", .counter, "Utterances dropped because the recogniser fell behind."),
            ("earshot_recognition_errors_total", .counter, "Utterances the model failed on."),
            ("earshot_queue_depth", .gauge, "Utterances waiting for the recogniser."),
            ("earshot_vad_speech_ratio", .gauge, "Share of the audio inside utterances."),
            ("earshot_real_time_factor", .gauge, "Recognition time divided by audio time, since start."),
            ("earshot_circuit_open", .gauge, "1 while the cloud circuit is open or half-open."),
            ("earshot_candidate_rollbacks_total", .counter, "Candidates rolled back automatically."),
        ]
        for (name, kind, help) in gauges { registry.declare(name, kind, help: help) }
        let breaker = router.breaker
        registry.collect { [weak self] in
            guard let self else { return [] }
            let c = self.snapshot
            let audio = Double(c.samples) / 16_000
            return [("earshot_audio_seconds_total", [:], audio), ("earshot_utterances_total", [:], Double(c.utterances)),
                    ("earshot_dropped_utterances_total", [:], Double(c.dropped)), ("earshot_recognition_errors_total", [:], Double(c.recognitionErrors)),
                    ("earshot_queue_depth", [:], Double(c.queueDepth)),
                    ("earshot_vad_speech_ratio", [:], c.samples > 0 ? min(1, Double(c.speechSamples) / Double(c.samples)) : 0),
                    ("earshot_real_time_factor", [:], audio > 0 ? c.recognitionSeconds / audio : 0),
                    ("earshot_circuit_open", [:], breaker.state == .closed ? 0 : 1),
                    ("earshot_candidate_rollbacks_total", [:], Double(c.rollbacks))]
        }
    }

    public var snapshot: Counters {
        lock.lock(); defer { lock.unlock() }
        var c = counters
        c.dropped = queue.dropped
        c.queueDepth = queue.depth
        return c
    }

    /// Runs until the source ends (a file, or a capture given a length), then finishes every queued utterance.
    public func run(_ source: any PipelineAudioSource) throws {
        let endpointer = try Endpointer(configuration.endpointer)
        let done = DispatchSemaphore(value: 0)
        let worker = Thread { [self] in
            self.work()
            done.signal()
        }
        worker.name = "earshot-recognizer"
        worker.start()
        defer { queue.close() }
        var pending: [Int16] = []
        var consumed = 0
        var sequence = 0
        let blockSamples = configuration.endpointer.frameSamples
        var blockStart: Int64 = 0
        var lossesBefore = source.losses
        func emit(_ u: Utterance) {
            sequence += 1
            let losses = source.losses
            defer { lossesBefore = losses }
            lock.lock(); counters.utterances += 1; counters.speechSamples += u.end - u.start; lock.unlock()
            let (before, after) = slots.window
            let lo = max(historyStart, u.speechStart - Int64(before))
            let hi = min(historyStart + Int64(history.count), max(u.speechEnd, u.speechStart + Int64(after)) + Int64(before))
            let window = lo < hi ? Array(history[Int(lo - historyStart)..<Int(hi - historyStart)]) : []
            queue.push(Job(sequence: sequence, utterance: u, window: window, windowStart: lo, closedAt: .now,
                           overruns: losses.overruns - lossesBefore.overruns, droppedSamples: losses.droppedSamples - lossesBefore.droppedSamples))
        }
        while try source.read(appendingTo: &pending, maximum: 1_600) {
            let fresh = pending[consumed...]
            history.append(contentsOf: fresh)
            lock.lock(); counters.samples += Int64(fresh.count); lock.unlock()
            // Keep about 10 s: enough for a maximum-length phrase window, trimmed in large steps.
            if history.count > 320_000 { history.removeFirst(160_000); historyStart += 160_000 }
            try pending.withUnsafeBufferPointer { (buffer) throws(RecognizerError) in
                try detector.process(UnsafeBufferPointer(rebasing: buffer[consumed...])) { block, q15 in
                    let offset = Int(Int64(block * blockSamples) - blockStart)
                    guard offset >= 0, offset + blockSamples <= pending.count else { return }
                    let samples = UnsafeBufferPointer(rebasing: buffer[offset..<(offset + blockSamples)])
                    if let u = endpointer.process(frame: samples, probabilityQ15: q15) { emit(u) }
                }
            }
            consumed = pending.count
            // Drop what the VAD has fully scored (keep one block of slack for a frame still being completed).
            let keepFrom = max(0, min(consumed, Int(Int64(detector.blocksReported * blockSamples) - blockStart)))
            if keepFrom > 16_000 {
                pending.removeFirst(keepFrom)
                consumed -= keepFrom
                blockStart += Int64(keepFrom)
            }
        }
        if let u = endpointer.flush() { emit(u) }
        queue.close()
        done.wait()
    }

    private func work() {
        // The previous decision: where it ended in the stream, what it said, and whether it was accepted.
        var previous: (end: Double, text: String, accepted: Bool)?
        while let job = queue.pop() {
            slots.refresh()
            for message in slots.drainMessages() { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            let cpuBefore = Self.threadCPUSeconds()
            if var decision = decide(job) {
                decision.software?.cpuMs = ((Self.threadCPUSeconds() - cpuBefore) * 1_000).rounded(toPlaces: 2)
                if let p = previous {
                    decision.quickRepeat = decision.start - p.end <= configuration.quickRepeatSeconds && (p.text == decision.text || !p.accepted)
                } else {
                    decision.quickRepeat = false
                }
                previous = (decision.end, decision.text, decision.accepted)
                lock.lock(); counters.decisions += 1; lock.unlock()
                sink(decision)
            }
            for message in slots.drainMessages() { FileHandle.standardError.write(Data((message + "\n").utf8)) }
        }
    }

    /// One utterance through the slots, the router and the automation policy.
    private func decide(_ job: Job) -> Decision? {
        let started = ContinuousClock.now
        let u = job.utterance
        let id = "\(configuration.runID)-\(job.sequence)"
        let speechStart = Int(u.speechStart - job.windowStart), speechEnd = Int(u.speechEnd - job.windowStart)
        let snapshot = slots.current
        let draw = ModelSlots.fraction(id)
        let candidate = snapshot.candidate, mode = snapshot.mode
        let isCanary = candidate != nil && mode?.mode == .canary && draw < (mode?.share ?? 0)
        let runsShadow = candidate != nil && mode?.mode == .shadow && draw < (mode?.share ?? 0)
        typealias Answer = (text: String, confidence: Double, recognised: Bool, topK: [LabelScore]?, words: [PhraseWord]?)
        func recognise(_ loaded: ModelSlots.Loaded) -> (Result<Answer, RecognizerError>, Double) {
            let t0 = ContinuousClock.now
            let result = Result { () throws(RecognizerError) -> Answer in
                try loaded.recognizer.recognize(job.window[...], speechStart: speechStart, speechEnd: speechEnd)
            }
            return (result, Self.milliseconds(ContinuousClock.now - t0))
        }
        // The canary answers its share; the active model answers the rest, and also runs beside the canary (and the
        // shadow beside the active model) so the two can be compared on the same utterance.
        var serving = isCanary ? candidate! : snapshot.active
        var (first, firstMs) = recognise(serving)
        var comparison: (Result<Answer, RecognizerError>, Double)?
        if isCanary || runsShadow { comparison = recognise(isCanary ? snapshot.active : candidate!) }
        if isCanary, case .failure = first, let c = comparison {
            // A failing canary never costs a decision: the active model's answer stands.
            swap(&first, &comparison!.0); firstMs = c.1; serving = snapshot.active
        }
        var shadowAnswer: Decision.ShadowAnswer?
        var candidateFailed: Bool?
        var bothAnswers: (candidate: Answer, active: Answer)?
        if let candidate, let comparison, isCanary || runsShadow {
            let (candidateResult, candidateMs) = isCanary ? (serving.id == candidate.id ? (first, firstMs) : (comparison.0, comparison.1)) : comparison
            let activeResult = isCanary ? (serving.id == candidate.id ? comparison.0 : first) : first
            let c = try? candidateResult.get(), a = try? activeResult.get()
            candidateFailed = c == nil
            if let c, let a { bothAnswers = (c, a) }
            let agrees = c != nil && a != nil && (c!.text == a!.text || (!c!.recognised && !a!.recognised))
            // The model that ran beside the one that answered is logged with the decision: the shadow candidate, or in
            // canary mode the other of the two, so canary decisions carry their agreement with the active model too.
            let besideIsCandidate = serving.id != candidate.id
            if let other = besideIsCandidate ? c : a {
                shadowAnswer = .init(model: besideIsCandidate ? candidate.id : snapshot.active.id, text: other.text,
                                     confidence: other.confidence.rounded(toPlaces: 6), recognised: other.recognised, agrees: agrees,
                                     agreesCloud: nil, ms: besideIsCandidate ? candidateMs : comparison.1)
            }
            if slots.observe(candidate: candidate.id, error: c == nil, candidateNull: !(c?.recognised ?? false), activeNull: !(a?.recognised ?? false),
                             agrees: agrees, milliseconds: candidateMs) != nil {
                lock.lock(); counters.rollbacks += 1; lock.unlock()
            }
        }
        let r: Answer
        switch first {
        case .success(let answer): r = answer
        case .failure(let error):
            lock.lock(); counters.recognitionErrors += 1; lock.unlock()
            FileHandle.standardError.write(Data("earshot: utterance \(job.sequence): \(error.message)\n".utf8))
            return nil
        }
        let recognized = ContinuousClock.now
        let margin = router.configuration.marginSamples
        let routed = router.route(
            local: LocalAnswerDetail(text: r.text, confidence: r.confidence, recognised: r.recognised, topK: r.topK, words: r.words),
            recognizer: serving.recognizer, id: id,
            speech: Array(job.window[max(0, speechStart - margin)..<min(job.window.count, speechEnd + margin)]),
            elapsed: { Self.seconds(ContinuousClock.now - job.closedAt) })
        if routed.cloud?.status == .answered {
            func agreesCloud(_ text: String, _ recognised: Bool) -> Bool { text == routed.text || (!recognised && !routed.recognised) }
            if let shadow = shadowAnswer { shadowAnswer?.agreesCloud = agreesCloud(shadow.text, shadow.recognised) }
            if let candidate, let both = bothAnswers {
                slots.observeTeacher(candidate: candidate.id, candidateAgrees: agreesCloud(both.candidate.text, both.candidate.recognised),
                                     activeAgrees: agreesCloud(both.active.text, both.active.recognised))
            }
        }
        let finishedAt = ContinuousClock.now
        let policy = self.policy.answering(withThreshold: serving.recognizer.manifest.acceptThreshold)
        let automation = policy.decide(confidence: routed.confidence, recognised: routed.recognised)
        var stages = Decision.Stages(queueMs: Self.milliseconds(started - job.closedAt), recognizeMs: Self.milliseconds(recognized - started))
        stages.cloudMs = routed.cloud?.milliseconds ?? 0
        var models = ["active": snapshot.active.id, "answered": serving.id]
        if let candidate { models["candidate"] = candidate.id }
        var decision = Decision(
            id: id, start: Double(u.speechStart) / 16_000, end: Double(u.speechEnd) / 16_000,
            text: routed.text, confidence: routed.confidence.rounded(toPlaces: 6), source: routed.source, offline: routed.offline,
            automation: automation,
            latencyMs: Self.milliseconds(finishedAt - job.closedAt), accepted: automation == .accept, topK: routed.topK, words: routed.words,
            models: models, automationLevel: policy.level, stages: stages,
            input: Self.statistics(job.window, speechStart: speechStart, speechEnd: speechEnd, ratio: u.speechRatio, segments: u.segments),
            local: routed.local, cloud: routed.cloud, canary: candidate == nil ? nil : serving.id == candidate!.id, shadow: shadowAnswer)
        decision.candidateError = candidateFailed
        lock.lock()
        switch routed.cloud?.status {
        case .answered?: counters.cloudAnswers += 1
        case .timeout?, .failed?: counters.cloudFailures += 1
        case .circuitOpen?, .overBudget?: counters.cloudSkipped += 1
        case nil: break
        }
        if routed.offline { counters.offline += 1 }
        if decision.canary == true { counters.canary += 1 }
        counters.recognitionSeconds += Self.seconds(recognized - started)
        if runsShadow && shadowAnswer != nil { counters.shadow += 1 }
        lock.unlock()
        decision.software = .init(queueDepth: queue.depth, droppedUtterances: queue.dropped,
                                  residentMB: (Double(MetricsRegistry.residentBytes()) / 1_048_576).rounded(toPlaces: 1),
                                  captureOverruns: job.overruns, droppedSamples: Int(job.droppedSamples),
                                  rtf: decision.input.durationS > 0 ? (stages.recognizeMs / 1_000 / decision.input.durationS).rounded(toPlaces: 5) : nil)
        if let keeper = configuration.audioKeeper {
            decision.audio = keeper.keep(id: id, samples: job.window[max(0, speechStart - margin)..<min(job.window.count, speechEnd + margin)])
        }
        if let metrics {
            metrics.observe("earshot_decision_latency_seconds", decision.latencyMs / 1_000)
            metrics.observe("earshot_stage_seconds", stages.queueMs / 1_000, labels: ["stage": "queue"])
            metrics.observe("earshot_stage_seconds", stages.recognizeMs / 1_000, labels: ["stage": "recognize"])
            if routed.cloud != nil { metrics.observe("earshot_stage_seconds", stages.cloudMs / 1_000, labels: ["stage": "cloud"]) }
            metrics.increment("earshot_decisions_total", ["source": decision.source, "automation": decision.automation.rawValue,
                                                           "model": serving.id])
            if let status = routed.cloud?.status { metrics.increment("earshot_cloud_requests_total", ["status": status.rawValue]) }
        }
        return decision
    }

    static func seconds(_ d: Duration) -> Double { d.seconds }

    /// Milliseconds rounded to microseconds, as decisions report them.
    static func milliseconds(_ d: Duration) -> Double { (d.seconds * 1_000).rounded(toPlaces: 3) }

    /// Level statistics of the speech part of the utterance, by EarshotMonitoring's `SignalAnalyzer` (dBFS relative to
    /// a full-scale square wave, as `earshot info` reports them).
    /// CPU time of the calling thread, in seconds.
    static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    static func statistics(_ window: [Int16], speechStart: Int, speechEnd: Int, ratio: Double, segments: Int? = nil) -> Decision.InputStatistics {
        let lo = max(0, min(window.count, speechStart)), hi = max(lo, min(window.count, speechEnd))
        func analyse(_ part: ArraySlice<Int16>) -> SignalStatistics {
            var analyzer = SignalAnalyzer(sampleRate: 16_000, channels: 1)
            let samples = part.map { Float($0) / 32_768 }
            samples.withUnsafeBufferPointer { if let base = $0.baseAddress { analyzer.add(base, frames: $0.count) } }
            return analyzer.result()
        }
        let s = analyse(window[lo..<hi]), whole = analyse(window[...])
        let shape = SpectralShape.of(window[lo..<hi])
        func finite(_ v: Double, _ places: Int) -> Double? { v.isFinite ? v.rounded(toPlaces: places) : nil }
        return .init(durationS: Double(hi - lo) / 16_000, rmsDBFS: s.rmsDBFS.rounded(toPlaces: 2), peakDBFS: s.peakDBFS.rounded(toPlaces: 2),
                     clippedPercent: s.clippedPercent.rounded(toPlaces: 3), speechRatio: ratio.rounded(toPlaces: 3),
                     dcOffset: finite(whole.dcOffset, 5), noiseFloorDBFS: finite(whole.noiseFloorDBFS, 2), snrDB: finite(whole.snrDB, 2),
                     spectralCentroidHz: shape.map { $0.centroidHz.rounded(toPlaces: 1) },
                     spectralTiltDBPerOctave: shape.flatMap { finite($0.tiltDBPerOctave, 2) }, vadSegments: segments)
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let scale = pow(10, Double(places))
        return (self * scale).rounded() / scale
    }
}
