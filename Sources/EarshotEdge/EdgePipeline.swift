public import EarshotAudio
public import EarshotVAD
import EarshotBundles
import EarshotMonitoring
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
        /// For sources that can wait (files): hold the reader instead of dropping utterances.
        public var waitWhenFull = false
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
    }

    private struct Job {
        var sequence: Int
        var utterance: Utterance
        var window: [Int16]
        var windowStart: Int64
        var closedAt: ContinuousClock.Instant
    }

    private let detector: VoiceActivityDetector
    private let recognizer: LocalRecognizer
    private let policy: AutomationPolicy
    private let router: Router
    private let configuration: Configuration
    private let sink: @Sendable (Decision) -> Void
    private let queue: UtteranceQueue<Job>
    private let lock = NSLock()
    private var counters = Counters()
    /// The most recent audio, so the recogniser gets context around the speech (indices from `historyStart`).
    private var history: [Int16] = []
    private var historyStart: Int64 = 0

    public init(detector: VoiceActivityDetector, recognizer: LocalRecognizer, policy: AutomationPolicy, router: Router = Router(),
                configuration: Configuration = Configuration(), sink: @escaping @Sendable (Decision) -> Void) {
        self.detector = detector
        self.recognizer = recognizer
        self.policy = policy
        self.router = router
        self.configuration = configuration
        self.sink = sink
        queue = UtteranceQueue(capacity: configuration.queueCapacity, waitWhenFull: configuration.waitWhenFull)
    }

    public var snapshot: Counters {
        lock.lock(); defer { lock.unlock() }
        var c = counters
        c.dropped = queue.dropped
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
        func emit(_ u: Utterance) {
            sequence += 1
            lock.lock(); counters.utterances += 1; lock.unlock()
            let (before, after) = recognizer.window
            let lo = max(historyStart, u.speechStart - Int64(before))
            let hi = min(historyStart + Int64(history.count), max(u.speechEnd, u.speechStart + Int64(after)) + Int64(before))
            let window = lo < hi ? Array(history[Int(lo - historyStart)..<Int(hi - historyStart)]) : []
            queue.push(Job(sequence: sequence, utterance: u, window: window, windowStart: lo, closedAt: .now))
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
        while let job = queue.pop() {
            let started = ContinuousClock.now
            let u = job.utterance
            let speechStart = Int(u.speechStart - job.windowStart), speechEnd = Int(u.speechEnd - job.windowStart)
            let manifest = recognizer.manifest
            let r: (text: String, confidence: Double, recognised: Bool, topK: [LabelScore]?, words: [PhraseWord]?)
            do {
                r = try recognizer.recognize(job.window[...], speechStart: speechStart, speechEnd: speechEnd)
            } catch {
                lock.lock(); counters.recognitionErrors += 1; lock.unlock()
                FileHandle.standardError.write(Data("earshot: utterance \(job.sequence): \(error.message)\n".utf8))
                continue
            }
            let recognized = ContinuousClock.now
            let margin = router.configuration.marginSamples
            let routed = router.route(
                local: LocalAnswerDetail(text: r.text, confidence: r.confidence, recognised: r.recognised, topK: r.topK, words: r.words),
                recognizer: recognizer,
                speech: Array(job.window[max(0, speechStart - margin)..<min(job.window.count, speechEnd + margin)]),
                elapsed: { Self.seconds(ContinuousClock.now - job.closedAt) })
            let finishedAt = ContinuousClock.now
            let automation = policy.decide(confidence: routed.confidence, recognised: routed.recognised)
            var stages = Decision.Stages(queueMs: Self.milliseconds(started - job.closedAt), recognizeMs: Self.milliseconds(recognized - started))
            stages.cloudMs = routed.cloud?.milliseconds ?? 0
            let decision = Decision(
                id: "\(configuration.runID)-\(job.sequence)", start: Double(u.speechStart) / 16_000, end: Double(u.speechEnd) / 16_000,
                text: routed.text, confidence: routed.confidence.rounded(toPlaces: 6), source: routed.source, offline: routed.offline,
                automation: automation,
                latencyMs: Self.milliseconds(finishedAt - job.closedAt), accepted: automation == .accept, topK: routed.topK, words: routed.words,
                models: ["active": "\(manifest.name)@\(manifest.version)"], automationLevel: policy.level, stages: stages,
                input: Self.statistics(job.window, speechStart: speechStart, speechEnd: speechEnd, ratio: u.speechRatio),
                local: routed.local, cloud: routed.cloud)
            lock.lock()
            switch routed.cloud?.status {
            case .answered?: counters.cloudAnswers += 1
            case .timeout?, .failed?: counters.cloudFailures += 1
            case .circuitOpen?, .overBudget?: counters.cloudSkipped += 1
            case nil: break
            }
            if routed.offline { counters.offline += 1 }
            lock.unlock()
            lock.lock(); counters.decisions += 1; lock.unlock()
            sink(decision)
        }
    }

    static func seconds(_ d: Duration) -> Double {
        let (seconds, attoseconds) = d.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    static func milliseconds(_ d: Duration) -> Double {
        let (seconds, attoseconds) = d.components
        return (Double(seconds) * 1_000 + Double(attoseconds) / 1e15).rounded(toPlaces: 3)
    }

    /// Level statistics of the speech part of the utterance, by EarshotMonitoring's `SignalAnalyzer` (dBFS relative to
    /// a full-scale square wave, as `earshot info` reports them).
    static func statistics(_ window: [Int16], speechStart: Int, speechEnd: Int, ratio: Double) -> Decision.InputStatistics {
        let lo = max(0, min(window.count, speechStart)), hi = max(lo, min(window.count, speechEnd))
        var analyzer = SignalAnalyzer(sampleRate: 16_000, channels: 1)
        let samples = window[lo..<hi].map { Float($0) / 32_768 }
        samples.withUnsafeBufferPointer { if let base = $0.baseAddress { analyzer.add(base, frames: $0.count) } }
        let s = analyzer.result()
        return .init(durationS: Double(hi - lo) / 16_000, rmsDBFS: s.rmsDBFS.rounded(toPlaces: 2), peakDBFS: s.peakDBFS.rounded(toPlaces: 2),
                     clippedPercent: s.clippedPercent.rounded(toPlaces: 3), speechRatio: ratio.rounded(toPlaces: 3))
    }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let scale = pow(10, Double(places))
        return (self * scale).rounded() / scale
    }
}
