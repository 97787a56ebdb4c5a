import EarshotAudio
import EarshotBundles
import EarshotEdge
import EarshotRecognizer
import EarshotTestSupport
import EarshotVAD
import Foundation
import Testing

/// The runtime's pipeline with the shipped models on held-out audio: decisions, their order and timing, and what
/// happens when the recogniser cannot keep up.
@Suite("edge pipeline")
struct EdgePipelineTests {
    /// Clean held-out command clips the shipped model gets right, one per label.
    static func heldOut() throws -> [String: [Int16]] {
        var clips: [String: [Int16]] = [:]
        for clip in try HeldOutCommands.load() where clip.cleanAndRight && clips[clip.label] == nil { clips[clip.label] = clip.samples }
        return clips
    }

    /// Words with 0.75 s of faint noise between them, and the start second of each word's clip.
    static func recording(_ words: [String]) throws -> ([Int16], [Double]) {
        let clips = try heldOut()
        var generator = SeededGenerator(seed: 9)
        func quiet(_ n: Int) -> [Int16] { (0..<n).map { _ in Int16.random(in: -4...4, using: &generator) } }
        var audio = quiet(8_000)
        var starts: [Double] = []
        for w in words {
            starts.append(Double(audio.count) / 16_000)
            audio += try #require(clips[w], "no held-out clip for \(w)") + quiet(12_000)
        }
        return (audio, starts)
    }

    final class Collected: @unchecked Sendable {
        let lock = NSLock()
        var decisions: [Decision] = []
        func add(_ d: Decision) { lock.lock(); decisions.append(d); lock.unlock() }
    }

    static func pipeline(queue: Int, wait: Bool, policy: AutomationPolicy = AutomationPolicy(), router: Router = Router(), bundle: String? = nil,
                         then: (@Sendable (Decision) -> Void)? = nil) throws -> (EdgePipeline, Collected) {
        let models = Fixtures.packageRoot + "/Models"
        let recognizer = try LocalRecognizer(bundle: ModelBundle(directory: bundle ?? models + "/command/command-en"))
        let detector = try VoiceActivityDetector(bundle: models + "/vad/earshot-vad-en")
        var configuration = EdgePipeline.Configuration()
        configuration.queueCapacity = queue
        configuration.waitWhenFull = wait
        configuration.runID = "test"
        let collected = Collected()
        let pipeline = EdgePipeline(detector: detector, recognizer: recognizer, policy: policy, router: router, configuration: configuration) {
            collected.add($0)
            then?($0)
        }
        return (pipeline, collected)
    }

    /// A source that loses audio (as a capture device that overruns): each decision carries the losses since the
    /// previous one, so none is counted twice and none is missed.
    final class LossySource: PipelineAudioSource {
        let inner: SampleArraySource
        var reads = 0
        init(_ samples: [Int16]) { inner = SampleArraySource(samples) }
        func read(appendingTo output: inout [Int16], maximum: Int) throws(AudioError) -> Bool {
            reads += 1
            return try inner.read(appendingTo: &output, maximum: maximum)
        }
        var losses: (overruns: Int, droppedSamples: UInt64) { (reads / 7, UInt64(reads / 7) * 160) }
    }

    @Test func captureLossesAreReportedPerDecision() throws {
        let (audio, _) = try Self.recording(["stop", "seven", "forward", "left"])
        let (pipeline, collected) = try Self.pipeline(queue: 8, wait: true)
        let source = LossySource(audio)
        try pipeline.run(source)
        let overruns = collected.decisions.map { $0.software?.captureOverruns ?? -1 }
        #expect(overruns.allSatisfy { $0 >= 0 } && overruns.reduce(0, +) > 0 && overruns.reduce(0, +) <= source.reads / 7, "\(overruns)")
        #expect(collected.decisions.allSatisfy { $0.software?.droppedSamples == ($0.software?.captureOverruns ?? 0) * 160 })
    }

    /// Without `--accept-at`, the threshold is that of the model that answered (its manifest's), not the start model's:
    /// a bundle demanding 0.9999 accepts nothing a 0.5 policy would have; a threshold set by hand stays.
    @Test func theAnsweringModelsThresholdDecides() throws {
        let directory = Fixtures.temporaryDirectory("strict-bundle")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let strict = try Fixtures.commandBundleVariant(at: directory) { $0["accept_threshold"] = 0.9999 }
        let (audio, _) = try Self.recording(["stop", "seven", "forward", "left"])
        let (following, fromModel) = try Self.pipeline(queue: 8, wait: true, policy: AutomationPolicy(acceptAt: 0.5, acceptFromModel: true), bundle: strict)
        try following.run(SampleArraySource(audio))
        #expect(fromModel.decisions.count == 4 && fromModel.decisions.allSatisfy { $0.accepted == ($0.confidence >= 0.9999) })
        let (fixed, byHand) = try Self.pipeline(queue: 8, wait: true, policy: AutomationPolicy(acceptAt: 0.5), bundle: strict)
        try fixed.run(SampleArraySource(audio))
        #expect(byHand.decisions.contains { $0.accepted && $0.confidence < 0.9999 })
        let policy = AutomationPolicy(acceptAt: 0.6, confirmAt: 0.5, acceptFromModel: true)
        #expect(policy.answering(withThreshold: 0.4).confirmAt == 0.4 && policy.answering(withThreshold: 0.8).confirmAt == 0.5)
    }

    @Test func decisionsFollowTheSpeechInOrderWithTimesAndStatistics() throws {
        let words = ["stop", "seven", "forward", "left"]
        let (audio, starts) = try Self.recording(words)
        let (pipeline, collected) = try Self.pipeline(queue: 8, wait: true)
        try pipeline.run(SampleArraySource(audio))
        let decisions = collected.decisions
        #expect(decisions.map(\.text) == words)
        #expect(decisions.map(\.id) == ["test-1", "test-2", "test-3", "test-4"])
        for (d, clipStart) in zip(decisions, starts) {
            #expect(d.start >= clipStart && d.end <= clipStart + 1 && d.start < d.end, "\(d.text): \(d.start)–\(d.end)")
            #expect(d.source == "local" && !d.offline && d.models["active"]?.hasPrefix("command-en@") == true)
            #expect(d.latencyMs >= d.stages.recognizeMs && d.stages.recognizeMs > 0)
            #expect(d.input.rmsDBFS < -10 && d.input.rmsDBFS > -60 && d.input.durationS > 0.1)
            // The words sit in faint noise: a high SNR, a floor well under the speech, a speech-like spectrum.
            #expect((d.input.snrDB ?? 0) > 20 && (d.input.noiseFloorDBFS ?? 0) < d.input.rmsDBFS - 20, "\(d.input)")
            #expect((200...3_000).contains(d.input.spectralCentroidHz ?? 0) && (d.input.spectralTiltDBPerOctave ?? 0) < 0, "\(d.input)")
            #expect((d.software?.residentMB ?? 0) > 1 && d.software?.droppedUtterances == 0)
            // The recogniser's CPU for this utterance (bounded by its wall time), and one VAD segment per word.
            #expect((d.software?.cpuMs ?? 0) > 0 && (d.software?.cpuMs ?? 0) <= d.stages.recognizeMs * 1.5 + 5, "\(d.software!)")
            #expect(d.input.vadSegments == 1)
            #expect((d.software?.rtf ?? 0) > 0 && (d.software?.rtf ?? 1) < 1, "\(d.software!)")
            #expect(d.automation == (d.confidence >= 0.9 ? .accept : d.confidence >= 0.5 ? .confirm : .reject))
        }
        // A quick repeat is an utterance within 5 s of one that said the same (not here: four different words) or
        // was not accepted.
        for (previous, d) in zip(decisions, decisions.dropFirst()) {
            #expect(d.quickRepeat == (d.start - previous.end <= 5 && !previous.accepted), "\(d.text) after \(previous.text)")
        }
        #expect(decisions.first?.quickRepeat == false)
        let counters = pipeline.snapshot
        #expect(counters.utterances == 4 && counters.decisions == 4 && counters.dropped == 0)
        #expect(counters.samples == Int64(audio.count))
    }

    /// Live audio never waits: with room for one waiting utterance and a burst of ten, the recogniser falls behind,
    /// the oldest waiting ones are dropped and counted, and every utterance is either decided or counted as dropped.
    @Test func aSlowRecogniserDropsAndCountsInsteadOfStallingTheAudio() throws {
        let (audio, _) = try Self.recording(Array(repeating: ["confirm", "stop"], count: 5).flatMap { $0 })
        let (dropping, collected) = try Self.pipeline(queue: 1, wait: false)
        try dropping.run(SampleArraySource(audio))
        let c = dropping.snapshot
        #expect(c.utterances == 10)
        #expect(c.dropped > 0 && c.decisions + c.dropped == c.utterances, "\(c)")
        let sequence = collected.decisions.compactMap { Int($0.id.split(separator: "-").last ?? "") }
        #expect(sequence == sequence.sorted() && sequence.last == 10)
        let (waiting, all) = try Self.pipeline(queue: 1, wait: true)
        try waiting.run(SampleArraySource(audio))
        #expect(waiting.snapshot.dropped == 0 && all.decisions.count == 10)
    }

    @Test(arguments: [
        (AutomationLevel.humanOnly, [Automation.confirm, .confirm, .confirm, .reject]),
        (.shadow, [.reject, .reject, .reject, .reject]),
        (.assist, [.confirm, .confirm, .reject, .reject]),
        (.partial, [.accept, .confirm, .reject, .reject]),
        (.full, [.accept, .accept, .reject, .reject]),
    ])
    func automationLevelsMapConfidenceToActions(level: AutomationLevel, expected: [Automation]) {
        let policy = AutomationPolicy(level: level, acceptAt: 0.9, confirmAt: 0.5)
        let got = [(0.95, true), (0.6, true), (0.3, true), (0.99, false)].map { policy.decide(confidence: $0.0, recognised: $0.1) }
        #expect(got == expected)
    }
}
