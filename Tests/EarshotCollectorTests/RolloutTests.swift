import EarshotCollector
import EarshotMonitoring
import EarshotTestSupport
import Foundation
import Testing

/// Rollout plans without processes: step parsing, deterministic and monotone step membership with pins and
/// exclusions, the quality gate's verdicts on synthetic windows, and the registry, plans (optimistic updates), log and
/// device reports on both engines.
@Suite("rollout plans and gate")
struct RolloutTests {
    static func plan(_ steps: String, devices: Int = 20, pinned: [String] = [], excluded: [String] = []) throws -> RolloutPlan {
        RolloutPlan(id: "r", model: "command-en@0.2.0", baseline: "command-en@0.1.0", group: "g",
                    steps: try steps.split(separator: ",").map { try RolloutStep(parsing: String($0)) }, interval: 60, utteranceShare: 0.5,
                    minimumSamples: 30, minimumAgreement: 0.7, holdAfter: 600, pinned: pinned, excluded: excluded, stepStartedAt: 1_000, createdAt: 1_000)
    }

    static let fleet = (1...20).map { String(format: "van-%02d", $0) }

    @Test func stepsParseAndBadOnesAreRefused() throws {
        #expect(try RolloutStep(parsing: "shadow") == RolloutStep(mode: .shadow, percent: 100))
        #expect(try RolloutStep(parsing: "shadow:25") == RolloutStep(mode: .shadow, percent: 25))
        #expect(try RolloutStep(parsing: "5%") == RolloutStep(mode: .canary, percent: 5))
        #expect(try RolloutStep(parsing: "100").isSwitch)
        for bad in ["0", "101", "-5", "canary:5", "shadow:x", "", "five"] {
            #expect(throws: CollectorError.self, "\(bad)") { try RolloutStep(parsing: bad) }
        }
        #expect(try parseDuration("1h") == 3_600 && parseDuration("30m") == 1_800 && parseDuration("45") == 45 && parseDuration("2d") == 172_800)
        #expect(throws: CollectorError.self) { try parseDuration("soon") }
    }

    @Test func membershipIsDeterministicMonotoneAndHonoursPinsAndExclusions() throws {
        var plan = try Self.plan("5,25,50,100")
        let sizes = (0..<4).map { plan.members(of: Self.fleet, step: $0).count }
        #expect(sizes == [1, 5, 10, 20])
        for step in 0..<3 {
            #expect(Set(plan.members(of: Self.fleet, step: step)).isSubset(of: Set(plan.members(of: Self.fleet, step: step + 1))))
        }
        // The same inputs give the same devices; the group's order does not matter; another model orders them otherwise.
        #expect(plan.members(of: Self.fleet, step: 1) == plan.members(of: Self.fleet.reversed(), step: 1))
        var other = plan
        other.model = "command-en@0.3.0"
        #expect(other.members(of: Self.fleet, step: 2) != plan.members(of: Self.fleet, step: 2))
        // Pinned devices lead from the first step; excluded ones are never in, not even at 100 %.
        plan = try Self.plan("5,25,50,100", pinned: ["van-07", "van-13"], excluded: ["van-01"])
        #expect(Array(plan.members(of: Self.fleet, step: 0).prefix(2)) == ["van-07", "van-13"])
        #expect(plan.members(of: Self.fleet, step: 3).count == 19 && !plan.members(of: Self.fleet, step: 3).contains("van-01"))
        #expect(plan.assignment(for: "van-01", group: Self.fleet).action == .none)
        #expect(plan.assignment(for: "van-07", group: Self.fleet).action == .canary)
        #expect(plan.assignment(for: "stranger", group: Self.fleet).action == .none)
        // Finished plans tell every device of the group what to do, in or out of the last step.
        plan.state = .rolledBack
        #expect(Self.fleet.dropFirst().allSatisfy { plan.assignment(for: $0, group: Self.fleet).action == .rollback })
        plan.state = .completed
        #expect(plan.assignment(for: "van-20", group: Self.fleet).action == .activate)
        plan.state = .running
        plan.step = 3
        #expect(plan.assignment(for: "van-20", group: Self.fleet).action == .activate)
        let shadow = try Self.plan("shadow,50")
        #expect(Self.fleet.allSatisfy { shadow.assignment(for: $0, group: Self.fleet).action == .shadow })
    }

    /// A window of `n` decisions: confidence around `confidence`, a share of null results and of agreement.
    static func window(_ n: Int, confidence: Double, nulls: Double, agreement: Double?, latency: Double = 5, seed: UInt64) -> UtteranceWindow {
        var generator = SeededGenerator(seed: seed)
        var w = UtteranceWindow()
        w.count = n
        w.numeric["confidence"] = (0..<n).map { _ in min(1, max(0, confidence + Double.random(in: -0.08...0.08, using: &generator))) }
        w.numeric["latency_ms"] = (0..<n).map { _ in latency + Double.random(in: 0...2, using: &generator) }
        w.categorical["null_result"] = (0..<n).map { _ in Double.random(in: 0..<1, using: &generator) < nulls ? "true" : "false" }
        w.categorical["shadow_agrees"] = (0..<n).map { _ in agreement.map { Double.random(in: 0..<1, using: &generator) < $0 ? "true" : "false" } ?? "" }
        w.categorical["cloud_agrees"] = Array(repeating: "", count: n)
        w.categorical["quick_repeat"] = Array(repeating: "false", count: n)
        return w
    }

    @Test func theGatePromotesWaitsHoldsAndRollsBack() throws {
        let plan = try Self.plan("5,25,50,100")
        let baseline = Self.window(400, confidence: 0.9, nulls: 0.05, agreement: 0.95, seed: 1)
        let good = Self.window(120, confidence: 0.9, nulls: 0.05, agreement: 0.95, seed: 2)
        // Healthy but the step is young: wait; after the interval: promote.
        var v = RolloutGate.evaluate(plan, candidate: good, baseline: baseline, paired: true, localRollbacks: [], refusals: [], now: 1_030)
        #expect(v.outcome == .wait && v.reason.contains("at least 60 s"), "\(v.reason)")
        v = RolloutGate.evaluate(plan, candidate: good, baseline: baseline, paired: true, localRollbacks: [], refusals: [], now: 1_061)
        #expect(v.outcome == .promote, "\(v.reason)")
        #expect(Set(v.metrics.map(\.name)).isSuperset(of: ["agreement_with_active", "candidate_errors", "confidence", "latency_ms", "null_result",
                                                           "quick_repeat"]), "\(v.metrics.map(\.name))")
        // A candidate that disagrees with the active model (shuffled labels): rolled back at once, interval or not.
        let shuffled = Self.window(60, confidence: 0.9, nulls: 0.05, agreement: 0.1, seed: 3)
        v = RolloutGate.evaluate(plan, candidate: shuffled, baseline: baseline, paired: true, localRollbacks: [], refusals: [], now: 1_001)
        #expect(v.outcome == .rollback && v.reason.contains("agreement with the active model"), "\(v.reason)")
        // Less confident and more often without an answer: worse by the drift tests, rolled back.
        let unsure = Self.window(200, confidence: 0.6, nulls: 0.3, agreement: 0.9, seed: 4)
        v = RolloutGate.evaluate(plan, candidate: unsure, baseline: baseline, paired: true, localRollbacks: [], refusals: [], now: 2_000)
        #expect(v.outcome == .rollback && v.reason.contains("confidence") && v.reason.contains("null_result"), "\(v.reason)")
        // More confident than the baseline is a change, not a regression: promoted.
        let surer = Self.window(200, confidence: 0.97, nulls: 0.01, agreement: 0.9, seed: 5)
        v = RolloutGate.evaluate(plan, candidate: surer, baseline: baseline, paired: true, localRollbacks: [], refusals: [], now: 2_000)
        #expect(v.outcome == .promote, "\(v.reason)")
        // Slower only counts against a paired baseline (canary devices run both models; others run one).
        let slow = Self.window(200, confidence: 0.9, nulls: 0.05, agreement: 0.95, latency: 12, seed: 6)
        #expect(RolloutGate.evaluate(plan, candidate: slow, baseline: baseline, paired: true, localRollbacks: [], refusals: [], now: 2_000).outcome == .rollback)
        #expect(RolloutGate.evaluate(plan, candidate: slow, baseline: baseline, paired: false, localRollbacks: [], refusals: [], now: 2_000).outcome == .promote)
        // Technicians correct the candidate's answers far more often than the baseline's: rolled back.
        var corrected = good, confirmed = baseline
        corrected.categorical["correction"] = Array(repeating: "true", count: 20) + Array(repeating: "false", count: 20)
        confirmed.categorical["correction"] = Array(repeating: "true", count: 2) + Array(repeating: "false", count: 38)
        v = RolloutGate.evaluate(plan, candidate: corrected, baseline: confirmed, paired: true, localRollbacks: [], refusals: [], now: 2_000)
        #expect(v.outcome == .rollback && v.reason.contains("correction"), "\(v.reason)")
        // A candidate whose interpreter fails on 10 % of utterances (the active model answered those): rolled back.
        let failing = Array(repeating: "true", count: 6) + Array(repeating: "false", count: 54)
        v = RolloutGate.evaluate(plan, candidate: good, baseline: baseline, paired: true, errors: failing, localRollbacks: [], refusals: [], now: 2_000)
        #expect(v.outcome == .rollback && v.reason.contains("the candidate failed on 0.100 of 60"), "\(v.reason)")
        let rare = Array(repeating: "true", count: 1) + Array(repeating: "false", count: 59)
        #expect(RolloutGate.evaluate(plan, candidate: good, baseline: baseline, paired: true, errors: rare, localRollbacks: [], refusals: [],
                                     now: 2_000).outcome == .promote)
        // Too little evidence: wait, then hold for a human once the step is old.
        let few = Self.window(12, confidence: 0.9, nulls: 0.05, agreement: 0.95, seed: 7)
        #expect(RolloutGate.evaluate(plan, candidate: few, baseline: baseline, localRollbacks: [], refusals: [], now: 1_100).outcome == .wait)
        v = RolloutGate.evaluate(plan, candidate: few, baseline: baseline, localRollbacks: [], refusals: [], now: 1_700)
        #expect(v.outcome == .hold && v.reason.contains("inconclusive"), "\(v.reason)")
        // A device's own rollback vetoes; a refused bundle holds.
        v = RolloutGate.evaluate(plan, candidate: good, baseline: baseline, localRollbacks: ["van-3: agreement 0.2 < 0.7"], refusals: [], now: 2_000)
        #expect(v.outcome == .rollback && v.reason.contains("van-3"))
        v = RolloutGate.evaluate(plan, candidate: good, baseline: baseline, localRollbacks: [], refusals: ["van-4: signature"], now: 2_000)
        #expect(v.outcome == .hold && v.reason.contains("refused"))
    }

    /// The gate is not fooled by noise: identical candidate and baseline distributions at the minimum sample size
    /// promote (almost) always; the drift engine's corrected tests keep false rollbacks rare.
    /// Paired teacher evidence: in a shadow step the active model's agreement with the cloud is `cloud_agrees` and the
    /// candidate's `shadow_agrees_cloud`; on canary utterances the roles swap. A retrained candidate that disagrees
    /// with the active model because the active model is wrong is promoted; one the teacher finds worse is rolled
    /// back; `require_teacher_gain` waits for a significant gain.
    @Test func theTeacherDecidesBetweenCandidateAndActiveModel() throws {
        #expect(abs(DriftStatistics.mcNemar(0, 6) - 2.0 / 64) < 1e-12 && DriftStatistics.mcNemar(3, 3) == 1 && DriftStatistics.mcNemar(0, 0) == 1)
        #expect(abs(DriftStatistics.mcNemar(2, 10) - 0.03857421875) < 1e-9)      // 2 · Σ_{i≤2} C(12, i) / 4096
        var plan = try Self.plan("shadow,50,100")
        func shadowWindow(_ pairs: [(active: String, candidate: String)], agreement: Double) -> UtteranceWindow {
            var w = Self.window(pairs.count, confidence: 0.9, nulls: 0.05, agreement: agreement, seed: 7)
            w.categorical["cloud_agrees"] = pairs.map(\.active)
            w.categorical["shadow_agrees_cloud"] = pairs.map(\.candidate)
            return w
        }
        let fixes = Array(repeating: (active: "false", candidate: "true"), count: 30) + Array(repeating: (active: "true", candidate: "true"), count: 50)
            + Array(repeating: (active: "true", candidate: "false"), count: 5) + Array(repeating: (active: "", candidate: ""), count: 40)
        let baseline = Self.window(400, confidence: 0.9, nulls: 0.05, agreement: nil, seed: 1)
        var v = RolloutGate.evaluate(plan, candidate: shadowWindow(fixes, agreement: 0.6), baseline: baseline, localRollbacks: [], refusals: [], now: 2_000)
        let teacher = try #require(v.metrics.first { $0.name == "teacher_agreement" })
        #expect(teacher.candidateCount == 85 && abs((teacher.candidate ?? 0) - 80.0 / 85) < 1e-9 && abs((teacher.baseline ?? 0) - 55.0 / 85) < 1e-9)
        #expect(v.outcome == .promote && (teacher.pValue ?? 1) < 1e-4, "\(v.reason)")
        #expect(v.metrics.first { $0.name == "agreement_with_active" }?.note.contains("agrees with the teacher more often") == true)
        // The same disagreement without teacher evidence is a rollback.
        v = RolloutGate.evaluate(plan, candidate: Self.window(125, confidence: 0.9, nulls: 0.05, agreement: 0.6, seed: 8), baseline: baseline,
                                 localRollbacks: [], refusals: [], now: 2_000)
        #expect(v.outcome == .rollback && v.reason.contains("agreement with the active model"), "\(v.reason)")
        // The teacher siding with the active model: rolled back even at high agreement.
        let breaks = fixes.map { (active: $0.candidate, candidate: $0.active) }
        v = RolloutGate.evaluate(plan, candidate: shadowWindow(breaks, agreement: 0.9), baseline: baseline, localRollbacks: [], refusals: [], now: 2_000)
        #expect(v.outcome == .rollback && v.reason.contains("cloud teacher"), "\(v.reason)")
        // Asking for a gain: an even split waits, a significant gain promotes.
        plan.requireTeacherGain = true
        let even = Array(repeating: (active: "false", candidate: "true"), count: 6) + Array(repeating: (active: "true", candidate: "false"), count: 5)
            + Array(repeating: (active: "true", candidate: "true"), count: 40)
        v = RolloutGate.evaluate(plan, candidate: shadowWindow(even, agreement: 0.9), baseline: baseline, localRollbacks: [], refusals: [], now: 1_100)
        #expect(v.outcome == .wait && v.reason.contains("no significant gain"), "\(v.reason)")
        v = RolloutGate.evaluate(plan, candidate: shadowWindow(fixes, agreement: 0.6), baseline: baseline, localRollbacks: [], refusals: [], now: 2_000)
        #expect(v.outcome == .promote && v.reason.contains("agrees with the teacher more often"), "\(v.reason)")
        // On a canary step the candidate answered: its agreement is cloud_agrees, the active model's shadow_agrees_cloud.
        plan.step = 1
        var canary = shadowWindow(fixes.map { (active: $0.candidate, candidate: $0.active) }, agreement: 0.6)
        canary.count = fixes.count
        v = RolloutGate.evaluate(plan, candidate: canary, baseline: baseline, localRollbacks: [], refusals: [], now: 2_000)
        #expect(v.metrics.first { $0.name == "teacher_agreement" }.map { ($0.candidate ?? 0) > ($0.baseline ?? 1) } == true)
    }

    /// At the switch, a decision's `confidence` is partly the cloud's (it moves with routing); the gate compares the
    /// models' own `local_confidence` when devices report it, and no confidence at all across different calibrations.
    @Test func theGateComparesTheModelsOwnConfidenceOnOneScale() throws {
        var plan = try Self.plan("shadow,50,100")
        plan.step = 2
        let baseline = Self.window(300, confidence: 0.95, nulls: 0.05, agreement: nil, seed: 11)
        var candidate = Self.window(200, confidence: 0.7, nulls: 0.05, agreement: nil, seed: 12)
        var v = RolloutGate.evaluate(plan, candidate: candidate, baseline: baseline, localRollbacks: [], refusals: [], now: 2_000)
        #expect(v.outcome == .rollback && v.reason.contains("confidence"), "\(v.reason)")
        // The same decisions, but the models' own confidence says the candidate is the surer one: promoted.
        var withOwn = baseline
        withOwn.numeric["local_confidence"] = (0..<300).map { Double($0 % 10) / 20 + 0.3 }
        candidate.numeric["local_confidence"] = (0..<200).map { Double($0 % 10) / 40 + 0.75 }
        v = RolloutGate.evaluate(plan, candidate: candidate, baseline: withOwn, localRollbacks: [], refusals: [], now: 2_000)
        #expect(v.outcome == .promote && v.metrics.contains { $0.name == "local_confidence" } && !v.metrics.contains { $0.name == "confidence" },
                "\(v.reason)")
        // Different calibrations: no confidence comparison at all, and the verdict says so.
        v = RolloutGate.evaluate(plan, candidate: Self.window(200, confidence: 0.7, nulls: 0.05, agreement: nil, seed: 12), baseline: baseline,
                                 localRollbacks: [], refusals: [], now: 2_000, calibrationDiffers: true)
        #expect(v.outcome == .promote && v.metrics.first { $0.name == "confidence" }?.note.contains("calibrations") == true, "\(v.reason)")
    }

    @Test func noFalseRollbacksWithoutADifference() throws {
        let plan = try Self.plan("5,100")
        var rollbacks = 0
        for seed in 0..<100 as Range<UInt64> {
            let b = Self.window(60, confidence: 0.85, nulls: 0.1, agreement: 0.9, seed: 1_000 + seed)
            let c = Self.window(30, confidence: 0.85, nulls: 0.1, agreement: 0.9, seed: 5_000 + seed)
            if RolloutGate.evaluate(plan, candidate: c, baseline: b, paired: true, localRollbacks: [], refusals: [], now: 5_000).outcome == .rollback { rollbacks += 1 }
        }
        #expect(rollbacks <= 3, "\(rollbacks) false rollbacks in 100")
    }

    @Test(arguments: Engines.all)
    func registryPlansAndReportsOnBothEngines(_ engine: String) async throws {
        let directory = Fixtures.temporaryDirectory("rollout-store-\(engine)")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (store, _) = try await Engines.open(engine, directory: directory)
        defer { Task { await store.close() } }
        let archive = Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let model = RegisteredModel(id: "command-en@0.2.0", name: "command-en", version: "0.2.0", kind: "command", modelSha256: "aa",
                                    archiveSha256: "bb", archiveBytes: archive.count, signed: true, manifest: "{\"x\":1}", pushedAt: 5)
        let added = try await store.register(model, archive: archive)
        let again = try await store.register(model, archive: archive)            // the same again: a no-op
        #expect(added && !again)
        var changed = model
        changed.modelSha256 = "cc"
        await #expect(throws: CollectorError.self) { try await store.register(changed, archive: archive) }
        #expect(try await store.registeredModels() == [model])
        #expect(try await store.modelArchive("command-en@0.2.0") == archive)
        #expect(try await store.modelArchive("nope@1") == nil)

        var entries: [String: DeviceEntry] = [:]
        for name in ["a", "b", "c"] {
            entries[name] = try await store.addDevice(name: name, tokenHash: "h-\(name)", deviceID: "id-\(name)", site: nil, hardware: nil)
        }
        // Technicians' verdicts on each model's answers, counted by model, device and time.
        let labels: [[String: Any]] = [("correction", "command-en@0.2.0"), ("confirmation", "command-en@0.2.0"), ("correction", "command-en@0.2.0"),
                                       ("confirmation", "command-en@0.1.0")].enumerated().map { k, v in
            ["seq": k + 1, "wall": 100.0 + Double(k), "kind": "label",
             "record": ["schema": 1, "utterance_id": "u-\(k)", "verdict": v.0, "label": "go", "model": v.1]]
        }
        let batch = try IngestBatch(body: Batches.json(device: "id-a", records: labels), encoding: nil, limits: IngestLimits())
        _ = try await store.ingest(batch, device: entries["a"]!, receivedAt: 200)
        #expect(try await store.corrections(model: "command-en@0.2.0", devices: ["a", "b"], since: 0).sorted() == ["false", "true", "true"])
        #expect(try await store.corrections(model: "command-en@0.2.0", devices: ["a"], since: 101.5) == ["true"])
        #expect(try await store.corrections(model: "command-en@0.2.0", devices: ["b"], since: 0).isEmpty)
        #expect(try await store.corrections(model: "command-en@0.1.0", devices: ["a"], since: 0) == ["false"])
        let a = try await store.setGroup(device: "a", group: "g"), b = try await store.setGroup(device: "b", group: "g")
        let missing = try await store.setGroup(device: "zz", group: "g")
        #expect(a && b && !missing)
        #expect(try await store.groupDevices("g") == ["a", "b"])
        #expect(try await store.devices().first { $0.name == "a" }?.group == "g")

        var plan = try Self.plan("shadow,50,100")
        plan.id = "r-1"
        try await store.createRollout(plan)
        var second = plan
        second.id = "r-2"
        await #expect(throws: CollectorError.self) { try await store.createRollout(second) }     // the group is busy
        let read = try #require(try await store.rollout("r-1"))
        #expect(read.revision == 1 && read.steps == plan.steps)
        // Two collectors read the same revision; only the first update lands.
        var first = read, late = read
        first.step = 1
        late.state = .rolledBack
        let firstSaved = try await store.saveRollout(first)
        let lateSaved = try await store.saveRollout(late)
        #expect(firstSaved && !lateSaved)
        let saved = try await store.rollout("r-1")
        #expect(saved?.step == 1 && saved?.revision == 2)

        try await store.logRollout(RolloutLogEntry(rollout: "r-1", step: 1, action: "start", reason: "go", at: 10))
        try await store.logRollout(RolloutLogEntry(rollout: "r-1", step: 2, action: "promote", reason: "fine", evidence: "{\"n\":3}", at: 11))
        #expect(try await store.rolloutLog("r-1").map(\.action) == ["promote", "start"])

        let event = DeviceRolloutReport.Event(time: 20, event: "auto-rollback", bundle: "command-en@0.2.0", reason: "agreement 0.1", rollout: "r-1")
        let report = DeviceRolloutReport(deviceID: "d-a", active: "command-en@0.1.0", previous: nil, candidate: nil, mode: nil, share: nil,
                                         rollout: "r-1", step: 2, events: [event])
        try await store.saveReport(device: "a", report, at: 30)
        try await store.saveReport(device: "a", report, at: 31)                  // the same event twice is stored once
        let events = try await store.deviceEvents(bundle: "command-en@0.2.0", since: 0)
        #expect(events.count == 1 && events.first?.device == "a" && events.first?.event.reason == "agreement 0.1")
        #expect(try await store.deviceReports()["a"]?.step == 2)
    }
}

/// Operators' actions and alarm holds through the controller, on both engines: pause stops the gate, resume restarts
/// the step's evidence, promote advances without the gate, abort rolls back every device, a held model cannot start
/// and stops a running rollout, and every action is logged.
@Suite("rollout operations")
struct RolloutOperationTests {
    @Test(arguments: Engines.all)
    func operatorsAndAlarmHoldsDriveThePlan(_ engine: String) async throws {
        let directory = Fixtures.temporaryDirectory("rollout-ops-\(engine)")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (store, _) = try await Engines.open(engine, directory: directory)
        defer { Task { await store.close() } }
        let controller = RolloutController(store: store)
        let model = RegisteredModel(id: "command-en@0.2.0", name: "command-en", version: "0.2.0", kind: "command", modelSha256: "aa",
                                    archiveSha256: "bb", archiveBytes: 3, signed: false, manifest: "{}", pushedAt: 1)
        _ = try await store.register(model, archive: Data([1, 2, 3]))
        var request = RolloutController.Request(model: model.id, group: "g", steps: [RolloutStep(mode: .shadow, percent: 100), RolloutStep(mode: .canary, percent: 50),
                                                                                     RolloutStep(mode: .canary, percent: 100)], interval: 60)
        // Refused: an empty group, an unknown model, descending steps.
        await #expect(throws: CollectorError.self) { try await controller.start(request) }
        for name in ["a", "b", "c", "d"] {
            _ = try await store.addDevice(name: name, tokenHash: "h-\(name)", deviceID: "id-\(name)", site: nil, hardware: nil)
            _ = try await store.setGroup(device: name, group: "g")
        }
        var unknown = request
        unknown.model = "nope@1"
        await #expect(throws: CollectorError.self) { try await controller.start(unknown) }
        var descending = request
        descending.steps = [RolloutStep(mode: .canary, percent: 50), RolloutStep(mode: .canary, percent: 5)]
        await #expect(throws: CollectorError.self) { try await controller.start(descending) }
        request.id = "ops"
        request.baseline = "command-en@0.1.0"
        var plan = try await controller.start(request, now: 1_000)
        #expect(plan.state == .running && plan.revision == 1)
        let device = try #require(try await store.device(tokenHash: "h-a"))
        var assignment = try await controller.assignment(for: device)
        #expect(assignment.action == .shadow && assignment.bundleURL == "v1/models/command-en@0.2.0/bundle" && assignment.archiveSha256 == "bb")

        plan = try await controller.operate("ops", .pause, reason: "night shift", now: 1_010)
        #expect(plan.state == .paused)
        #expect(try await controller.evaluate(now: 5_000).isEmpty, "a paused plan is not evaluated")
        await #expect(throws: CollectorError.self) { try await controller.operate("ops", .pause) }
        plan = try await controller.operate("ops", .resume, now: 1_020)
        #expect(plan.state == .running && plan.stepStartedAt == 1_020)
        plan = try await controller.operate("ops", .promote, reason: "looked fine", now: 1_030)
        #expect(plan.step == 1 && plan.state == .running)
        // With no decisions at all, the gate waits, then holds for a human once the step is old.
        var verdicts = try await controller.evaluate(now: 1_040)
        #expect(verdicts.first?.1.outcome == .wait)
        verdicts = try await controller.evaluate(now: 1_030 + plan.holdAfter + 1)
        #expect(verdicts.first?.1.outcome == .hold && verdicts.first?.0.state == .held, "\(String(describing: verdicts.first?.1.reason))")
        plan = try await controller.operate("ops", .resume, now: 2_000)
        // An alarm holds the model: the gate holds the rollout, and a new rollout of it cannot start.
        try await store.hold(ModelHold(model: model.id, rule: "confidence-drop", reason: "mean confidence fell", since: 2_001))
        verdicts = try await controller.evaluate(now: 2_002)
        #expect(verdicts.first?.0.state == .held && verdicts.first?.1.reason.contains("confidence-drop") == true)
        try await store.release(model: model.id, rule: nil)
        plan = try await controller.operate("ops", .abort, reason: "enough", now: 2_010)
        #expect(plan.state == .rolledBack)
        assignment = try await controller.assignment(for: device)
        #expect(assignment.action == .rollback && assignment.bundleURL == nil)
        await #expect(throws: CollectorError.self) { try await controller.operate("ops", .resume) }
        let log = try await store.rolloutLog("ops").reversed().map(\.action)
        #expect(log == ["start", "pause", "resume", "promote", "hold", "resume", "hold", "abort"], "\(log)")
        // A finished rollout frees the group for the next one.
        request.id = "next"
        #expect(try await controller.start(request, now: 3_000).state == .running)
    }
}
