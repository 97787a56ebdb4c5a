import EarshotAudio
@testable import EarshotEdge
import EarshotRecognizer
import EarshotTestSupport
import Foundation
import Testing

/// Cloud fallback in the running pipeline, against real HTTP servers on 127.0.0.1 that answer, fail, stall and die.
@Suite("routing", .serialized)
struct RoutingTests {
    /// Delivers samples no faster than `speed` × real time, as capture does.
    final class PacedSource: PipelineAudioSource {
        let inner: SampleArraySource
        let speed: Double
        let started = ContinuousClock.now
        var delivered = 0
        init(_ samples: [Int16], speed: Double) { inner = SampleArraySource(samples); self.speed = speed }
        func read(appendingTo output: inout [Int16], maximum: Int) throws(AudioError) -> Bool {
            let due = started + .seconds(Double(delivered) / 16_000 / speed)
            let wait = (due - ContinuousClock.now).components
            if wait.seconds >= 0 && (wait.seconds > 0 || wait.attoseconds > 0) {
                Thread.sleep(forTimeInterval: Double(wait.seconds) + Double(wait.attoseconds) / 1e18)
            }
            let before = output.count
            let more = try inner.read(appendingTo: &output, maximum: min(maximum, 800))
            delivered += output.count - before
            return more
        }
    }

    static let words = ["stop", "seven", "forward", "left", "cancel", "status", "down", "nine"]

    /// Tests not about timing get a budget (and request timeout) far beyond any slowness of a loaded machine.
    static func router(_ policy: RoutingPolicy, _ server: TranscriptionServer, askBelow: Double = 0.9, askSample: Double = 0, budget: Double = 60,
                       timeout: Double = 30, failures: Int = 3, backoff: Double = 1) -> Router {
        var configuration = RoutingConfiguration()
        configuration.policy = policy
        configuration.askBelow = askBelow
        configuration.askSample = askSample
        configuration.budget = budget
        configuration.requestTimeout = min(timeout, budget)
        return Router(configuration: configuration, client: CloudClient(url: server.url, responseFormat: "json"),
                      breaker: CircuitBreaker(failureThreshold: failures, initialBackoff: backoff))
    }

    /// local-first asks the cloud exactly for the utterances the local model is unsure of; the cloud's text is read the
    /// way labels are written ("Stop." → `stop`), and the local answer is kept beside it with whether the two agree.
    @Test func localFirstAsksTheCloudOnlyBelowTheThreshold() throws {
        let (audio, _) = try EdgePipelineTests.recording(Self.words)
        let (alone, localOnly) = try EdgePipelineTests.pipeline(queue: 8, wait: true)
        try alone.run(SampleArraySource(audio))
        let confidences = localOnly.decisions.map(\.confidence)
        #expect(confidences.count == Self.words.count)
        let askBelow = confidences.sorted()[confidences.count / 2]     // about half are asked
        let server = try TranscriptionServer("say", text: "Stop.")
        let (pipeline, collected) = try EdgePipelineTests.pipeline(queue: 8, wait: true, router: Self.router(.localFirst, server, askBelow: askBelow))
        try pipeline.run(SampleArraySource(audio))
        let decisions = collected.decisions
        #expect(decisions.count == Self.words.count)
        for (d, local) in zip(decisions, localOnly.decisions) {
            if local.confidence < askBelow {
                #expect(d.source == "cloud" && d.text == "stop" && !d.offline && d.cloud?.status == .answered && d.cloud?.text == "Stop.")
                #expect(d.confidence == 0.95 && d.local?.text == local.text && d.local?.agrees == (local.text == "stop"))
                #expect(d.stages.cloudMs > 0 && d.topK == nil)
            } else {
                #expect(d.source == "local" && d.text == local.text && d.cloud == nil && d.local == nil && !d.offline)
            }
        }
        let c = pipeline.snapshot
        #expect(c.cloudAnswers == confidences.filter { $0 < askBelow }.count && c.cloudAnswers > 0 && c.cloudFailures == 0 && c.offline == 0)
    }

    /// Spot checks: with nothing below the threshold, local-first still asks the cloud for a hash-chosen share of the
    /// confident utterances, marks those requests `spot_check`, and picks the same utterances again for the same ids.
    @Test func spotChecksAskTheCloudForASampleOfConfidentUtterances() throws {
        let (audio, _) = try EdgePipelineTests.recording(Self.words + Self.words)
        let server = try TranscriptionServer("say", text: "Stop.")
        let (pipeline, collected) = try EdgePipelineTests.pipeline(queue: 8, wait: true, router: Self.router(.localFirst, server, askBelow: 0, askSample: 0.5))
        try pipeline.run(SampleArraySource(audio))
        let decisions = collected.decisions
        #expect(decisions.count == 2 * Self.words.count)
        let checked = decisions.filter { $0.cloud != nil }
        #expect(!checked.isEmpty && checked.count < decisions.count, "\(checked.count) of \(decisions.count) spot-checked")
        for d in decisions {
            #expect((d.cloud != nil) == Router.sampled(d.id, share: 0.5))
            if let cloud = d.cloud { #expect(cloud.spotCheck == true && d.source == "cloud" && d.local != nil) }
        }
        // A failing spot check leaves the confident answer as it was: local, not offline.
        let failing = try TranscriptionServer("status500")
        let (broken, brokenOut) = try EdgePipelineTests.pipeline(queue: 8, wait: true, router: Self.router(.localFirst, failing, askBelow: 0, askSample: 1))
        try broken.run(SampleArraySource(audio))
        #expect(!brokenOut.decisions.isEmpty && brokenOut.decisions.allSatisfy { $0.source == "local" && !$0.offline && $0.cloud?.spotCheck == true })
        // The share is honoured over many ids, and independent of the canary draw of the same ids.
        let ids = (0..<4_000).map { "run-\($0)" }
        let sampled = ids.filter { Router.sampled($0, share: 0.25) }
        #expect(abs(Double(sampled.count) / 4_000 - 0.25) < 0.03)
        let both = sampled.filter { ModelSlots.fraction($0) < 0.25 }.count
        #expect(abs(Double(both) / Double(sampled.count) - 0.25) < 0.06)
        #expect(!Router.sampled("x", share: 0) && Router.sampled("x", share: 1))
    }

    /// The cloud dies after three answers: two requests fail, the circuit opens and later utterances are answered
    /// locally without asking, flagged offline, at once; after the cloud restarts on the same port, the breaker's
    /// probe finds it and it answers again. No decision waits past the budget.
    @Test func aKilledCloudOpensTheCircuitAndARestartedOneIsFoundAgain() throws {
        let first = try TranscriptionServer("say", text: "go")
        let port = first.port
        final class Servers: @unchecked Sendable { var current: TranscriptionServer?; var restartError: (any Error)? }
        let servers = Servers()
        servers.current = first
        let words = Self.words + ["stop", "seven", "forward", "left"]
        let (audio, _) = try EdgePipelineTests.recording(words)
        let (pipeline, collected) = try EdgePipelineTests.pipeline(
            queue: 1, wait: true, router: Self.router(.cloudFirst, first, budget: 5, failures: 2, backoff: 1)) { d in
            let n = Int(d.id.split(separator: "-").last ?? "") ?? 0
            if n == 3 { servers.current?.kill(); servers.current = nil }
            if n == 8 {
                do { servers.current = try TranscriptionServer("say", port: port, text: "go") } catch { servers.restartError = error }
                usleep(1_100_000)   // past the breaker's backoff
            }
        }
        try pipeline.run(SampleArraySource(audio))
        #expect(servers.restartError == nil)
        let d = collected.decisions
        try #require(d.count == words.count)
        let statuses = d.map { $0.cloud?.status }
        #expect(statuses[0..<3].allSatisfy { $0 == .answered } && d[0..<3].allSatisfy { $0.source == "cloud" && $0.text == "go" && !$0.offline })
        #expect(statuses[3..<5].allSatisfy { $0 == .failed }, "\(statuses)")
        #expect(statuses[5..<8].allSatisfy { $0 == .circuitOpen } && d[5..<8].allSatisfy { $0.stages.cloudMs == 0 }, "\(statuses)")
        #expect(d[3..<8].allSatisfy { $0.source == "local" && $0.offline && $0.text == words[Int($0.id.split(separator: "-").last!)! - 1] })
        #expect(statuses[8...].allSatisfy { $0 == .answered } && d[8...].allSatisfy { $0.source == "cloud" && !$0.offline }, "\(statuses)")
        // The budget bounds the wait for the network; the slack is CPU time on a loaded machine (debug build). The
        // budget leaves room for the restart, which runs in the sink while the next utterance waits (a loaded CI
        // machine once took more than the 0.9 s a 2 s budget left, and that utterance found no budget to ask with).
        #expect(d.allSatisfy { $0.latencyMs < 5_000 + 1_000 }, "\(d.map(\.latencyMs))")
        let c = pipeline.snapshot
        #expect(c.cloudAnswers == 7 && c.cloudFailures == 2 && c.cloudSkipped == 3 && c.offline == 5)
    }

    /// A cloud that never answers in time costs each request its timeout (0.4 s) and each decision at most the budget
    /// (2 s), then the circuit spares the rest. The audio arrives at 4× real time, as a live source would deliver it
    /// (words 0.44 s apart). The times asserted are network waits, which do not depend on how loaded the CPU is.
    @Test func aSlowCloudNeverStallsADecisionPastTheBudget() throws {
        let server = try TranscriptionServer("slow")
        let words = Array(Self.words.prefix(5))
        let (audio, _) = try EdgePipelineTests.recording(words)
        let (pipeline, collected) = try EdgePipelineTests.pipeline(queue: 8, wait: false,
                                                                   router: Self.router(.cloudFirst, server, budget: 2, timeout: 0.4, failures: 2, backoff: 30))
        try pipeline.run(PacedSource(audio, speed: 4))
        let d = collected.decisions
        try #require(d.count == words.count)
        #expect(d.map(\.text) == words && d.allSatisfy { $0.source == "local" && $0.offline })
        #expect(d.map { $0.cloud?.status } == [.timeout, .timeout, .circuitOpen, .circuitOpen, .circuitOpen])
        #expect(d.allSatisfy { ($0.cloud?.milliseconds ?? 0) < 400 + 150 && $0.latencyMs < 2_000 + 1_000 }, "\(d.map(\.latencyMs))")
    }

    /// When the backlog has already used the budget, the cloud is not asked at all; that is not being offline.
    @Test func aBacklogPastTheBudgetIsAnsweredLocallyWithoutAsking() throws {
        let server = try TranscriptionServer("slow")
        let words = Array(Self.words.prefix(3))
        let (audio, _) = try EdgePipelineTests.recording(words)
        let (pipeline, collected) = try EdgePipelineTests.pipeline(queue: 1, wait: true,
                                                                   router: Self.router(.cloudFirst, server, budget: 1, timeout: 0.8, failures: 5))
        try pipeline.run(SampleArraySource(audio))      // all at once: each utterance waits out the one before
        let d = collected.decisions
        #expect(d.map(\.text) == words)
        #expect(d.first?.cloud?.status == .timeout && d.first?.offline == true)
        #expect(d.contains { $0.cloud?.status == .overBudget && !$0.offline && $0.source == "local" })
    }

    /// HTTP 500s and answers that are not JSON are failures like any other: the local answer stands, flagged offline.
    @Test(arguments: ["status500", "garbage"])
    func brokenAnswersFallBackToTheLocalModel(mode: String) throws {
        let server = try TranscriptionServer(mode)
        let words = Array(Self.words.prefix(4))
        let (audio, _) = try EdgePipelineTests.recording(words)
        let (pipeline, collected) = try EdgePipelineTests.pipeline(queue: 8, wait: true,
                                                                   router: Self.router(.localFirst, server, askBelow: 1, failures: 10))
        try pipeline.run(SampleArraySource(audio))
        let d = collected.decisions
        #expect(d.map(\.text) == words)
        #expect(d.allSatisfy { $0.source == "local" && $0.offline && $0.cloud?.status == .failed && $0.cloud?.error != nil })
        #expect(pipeline.snapshot.cloudFailures == 4)
    }

    /// Text from outside is written the way labels are (Models/LABELLING.md), the same as the Python recipe writes it.
    @Test func cloudTextFollowsTheLabellingRulesAsThePythonRecipeDoes() throws {
        let samples = ["Stop.", "  GO forward 10 metres!", "Um, uh... seven", "02934", "Write", "twenty-five", "1234", "105",
                       "Don't stop", "ok", "", "[filler] know", "Forwards, 3 meters.", "café 7", "'quoted'"]
        let script = """
        import json, sys
        sys.path.insert(0, "\(Fixtures.packageRoot)/Models/command/recipe")
        import labelling as L
        items = json.load(sys.stdin)
        print(json.dumps([[L.normalise_transcript(t), L.command_label(t)] for t in items]))
        """
        let result = try Programs.run("/usr/bin/env", ["python3", "-c", script], stdin: try JSONSerialization.data(withJSONObject: samples))
        #expect(result.status == 0, "\(result.stderr)")
        let expected = try #require(try JSONSerialization.jsonObject(with: result.stdoutData) as? [[String]])
        let vocabulary = Set(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "oh", "yes", "no", "stop", "go",
                              "start", "cancel", "repeat", "next", "back", "up", "down", "left", "right", "on", "off", "status", "help",
                              "confirm", "forward", "backward", "meters"])
        for (text, pair) in zip(samples, expected) {
            #expect(Transcript.normalise(text) == pair[0], "\(text)")
            #expect(Transcript.commandLabel(text, vocabulary: vocabulary) == pair[1], "\(text)")
        }
    }
}
