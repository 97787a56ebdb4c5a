@testable import EarshotCollector
@testable import EarshotSync
import EarshotMonitoring
import EarshotTestSupport
import Foundation
import Testing

/// Alarm rules over stored records, on both engines: state changes only after `for` evaluations agree, every change
/// is logged and delivered to a real webhook on 127.0.0.1 (with retries, and logged as undelivered when it is down),
/// and hold-rollout holds the model involved while the alarm fires.
@Suite("collector alarms", .serialized)
struct AlarmTests {
    static let yaml = """
        alarms:
          webhook: WEBHOOK
          attempts: 2
          rules:
            - name: loud-input
              metric: drift
              column: rms_dbfs
              scope: device
              window: 100
              action: hold-rollout
            - name: nothing-recognised
              metric: share
              column: null_result
              value: "true"
              above: 0.3
              scope: model
              window: 100
              for: 2
            - name: slow
              metric: mean
              column: latency_ms
              above: 100
            - name: site-loudness
              metric: drift
              column: rms_dbfs
              scope: site
              window: 100
        """

    /// `count` decisions from `first` on: loudness around −34 dBFS (+`shift`), empty text when `silent`.
    static func batch(_ first: Int, _ count: Int, shift: Double = 0, silent: Bool = false, _ generator: inout SeededGenerator) throws -> Data {
        let records = (first..<first + count).map { seq in
            Batches.record(seq, text: silent ? "" : "stop", rms: -34 + shift + Double.random(in: -4...4, using: &generator))
        }
        return try SyncClient.gzip(Batches.json(device: "dev-a", records: records))
    }

    @Test(arguments: Engines.all)
    func rulesFireAndResolveWithWebhooksAndHolds(_ engine: String) async throws {
        let rig = try await IngestTests.Rig(engine)
        let hook = try await offPool { try TranscriptionServer("webhook") }
        let configuration = try AlarmConfiguration(yaml: Self.yaml.replacingOccurrences(of: "WEBHOOK", with: "http://127.0.0.1:\(hook.port)/hook"))
        let alarms = AlarmEngine(store: rig.store, configuration: configuration)
        var generator = SeededGenerator(seed: 5)
        #expect(await rig.send(try Self.batch(1, 200, &generator)).0 == 200)
        #expect(try await alarms.evaluate().isEmpty)

        // Louder and mostly unrecognised: the drift rule fires at once, the share rule only on its second evaluation.
        #expect(await rig.send(try Self.batch(201, 100, shift: 10, silent: true, &generator)).0 == 200)
        let first = try await alarms.evaluate(now: 1_000)
        #expect(first.map(\.rule) == ["loud-input", "site-loudness"] && first[0].state == "firing" && first[0].subject == "box-1" && first[0].delivered)
        #expect(first[1].scope == "site" && first[1].subject == "depot")
        #expect(first[0].reason.contains("rms_dbfs") && first[0].reason.contains("drifted"))
        #expect(try await rig.store.holds().map(\.model) == ["command-en@1.0.0"])
        let second = try await alarms.evaluate(now: 1_060)
        #expect(second.map(\.rule) == ["nothing-recognised"] && second[0].subject == "command-en@1.0.0" && second[0].value == 1)

        // Back to normal: loudness resolves at once (and lifts its hold), the share after two good evaluations.
        #expect(await rig.send(try Self.batch(301, 200, &generator)).0 == 200)
        let third = try await alarms.evaluate(now: 1_120)
        #expect(third.map(\.rule) == ["loud-input", "site-loudness"] && third[0].state == "resolved")
        #expect(try await rig.store.holds().isEmpty)
        let fourth = try await alarms.evaluate(now: 1_180)
        #expect(fourth.map(\.rule) == ["nothing-recognised"] && fourth[0].state == "resolved")

        // A restarted engine reads the states back from the log: nothing fires twice.
        #expect(try await AlarmEngine(store: rig.store, configuration: configuration).evaluate().isEmpty)
        let log = try await rig.store.alarmLog(limit: 10)
        #expect(log.map(\.state) == ["resolved", "resolved", "resolved", "firing", "firing", "firing"] && log.allSatisfy { $0.delivered && $0.attempts == 1 })
        let port = hook.port
        let bodies = try await offPool { try Data(contentsOf: URL(string: "http://127.0.0.1:\(port)/received")!) }
        let received = try JSONSerialization.jsonObject(with: bodies) as? [Any]
        #expect(received?.count == 6)

        // The webhook is gone: the change is logged as undelivered after the configured attempts.
        hook.kill()
        #expect(await rig.send(try Self.batch(501, 100, shift: 12, &generator)).0 == 200)
        let undelivered = try await alarms.evaluate(now: 1_240)
        #expect(undelivered.first?.delivered == false && undelivered.first?.attempts == 2)
        #expect(try await rig.store.alarmLog(limit: 1).first?.delivered == false)

        let url = rig.url
        let listed = try await offPool { try Programs.run(Programs.collector, ["alarms", "list", "--db", url, "--json"]) }
        let report = try #require(try JSONSerialization.jsonObject(with: listed.stdoutData) as? [String: Any])
        #expect((report["log"] as? [Any])?.count == 8 && (report["holds"] as? [Any])?.count == 1)
        await rig.close()
    }

    /// A flag the device did not know (the cloud was not asked) is not a value: asking the cloud more often must not
    /// look like concept drift. Numbers and the other categorical columns are split as they are.
    @Test func unknownFlagsAreLeftOutOfDriftWindows() throws {
        var w = UtteranceWindow()
        w.count = 200
        // Reference: the cloud asked on 20 of 100 utterances; current: on 80 of 100; agreement 70 % in both.
        func flags(asked: Int) -> [String] { (0..<100).map { $0 < asked ? ($0 % 10 < 7 ? "true" : "false") : "" } }
        w.categorical["cloud_agrees"] = flags(asked: 20) + flags(asked: 80)
        w.categorical["label"] = Array(repeating: "", count: 100) + Array(repeating: "go", count: 100)
        let (reference, current) = w.split(currentCount: 100)
        guard case .categorical(let r)? = reference.first(where: { $0.0 == "cloud_agrees" })?.1, case .categorical(let c)? = current["cloud_agrees"],
              case .categorical(let labels)? = reference.first(where: { $0.0 == "label" })?.1 else { Issue.record("columns missing"); return }
        #expect(r.count == 20 && c.count == 80 && !r.contains("") && !c.contains(""))
        #expect(labels.count == 100)
        var policy = DriftPolicy()
        policy.minimumSamples = 10
        let result = DriftDetector(policy: policy).compare(reference: [("cloud_agrees", .categorical(r))], current: ["cloud_agrees": .categorical(c)])
        #expect(result.first?.drifted == false, "\(String(describing: result.first?.reason))")
    }

    @Test func configProblemsAreNamed() throws {
        let cases: [(String, String)] = [
            ("alarms:\n  rules:\n    - name: a\n      metric: drift\n      column: volume\n", "`column` must be one of"),
            ("alarms:\n  rules:\n    - name: a\n      metric: mean\n      column: rms_dbfs\n", "give `above`"),
            ("alarms:\n  rules:\n    - name: a\n      metric: drift\n      column: rms_dbfs\n      above: 3\n", "calibrated"),
            ("alarms:\n  rules:\n    - name: a\n      metric: share\n      column: rms_dbfs\n      above: 0.1\n", "categorical column"),
            ("alarms:\n  webhook: ftp://x\n", "alarms.webhook"),
            ("alarms:\n  rules:\n    - name: a\n      metric: drift\n      column: rms_dbfs\n    - name: a\n      metric: drift\n      column: snr_db\n", "used twice"),
            ("alarms:\n  rules:\n    - name: a\n      metric: drift\n      column: rms_dbfs\n      windw: 5\n", "unknown key `windw`"),
            ("alerts: {}\n", "unknown section"),
        ]
        for (text, message) in cases {
            #expect(throws: CollectorError.self) { try AlarmConfiguration(yaml: text) }
            do { _ = try AlarmConfiguration(yaml: text) } catch { #expect(error.message.contains(message), "\(error.message)") }
        }
        let good = try AlarmConfiguration(yaml: "alarms:\n  interval_seconds: 30\n  rules:\n    - name: a\n      metric: drift\n      column: rms_dbfs\n      scope: model\n      for: 3\n")
        #expect(good.interval == 30 && good.rules.first?.holdFor == 3 && good.rules.first?.scope == .model)
        // The shipped example stays valid.
        let example = try AlarmConfiguration(yaml: String(contentsOfFile: Fixtures.packageRoot + "/Deploy/collector.yaml", encoding: .utf8))
        #expect(example.rules.count == 5 && example.webhook != nil && example.rules.contains { $0.action == .holdRollout })
    }
}
