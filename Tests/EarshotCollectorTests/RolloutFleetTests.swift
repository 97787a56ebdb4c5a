import EarshotAudio
import EarshotEdge
import EarshotTestSupport
import Foundation
import Glibc
import Testing

/// A simulated fleet: a real `earshot-collector serve` on 127.0.0.1 and device processes (`earshot run` replaying
/// recorded utterances into a spool with a model store, then `earshot sync --now`, which uploads and polls for the
/// rollout assignment), with the quality gate run by `earshot-collector rollout evaluate` between rounds.
final class Fleet: @unchecked Sendable {
    struct Device {
        var name: String
        var directory: String
        var store: String { directory + "/store" }
        var spool: String { directory + "/spool" }
        var token: String
        var audio: String
        var keys: [String] = []
    }

    /// Release binaries when `make test` built them first (`$EARSHOT_FLEET_BIN_DIR`): a device replays tens of
    /// utterances per round and debug builds run the interpreter ~20× slower. Otherwise the binaries under test.
    static var binaries: String { ProcessInfo.processInfo.environment["EARSHOT_FLEET_BIN_DIR"] ?? Programs.productsDirectory }
    static var earshot: String { binaries + "/earshot" }
    static var collector: String { binaries + "/earshot-collector" }

    let directory: String
    let db: String
    var server: ServeProcess
    var devices: [Device] = []

    init(_ label: String, engine: String, count: Int, group: String = "field", words: Int = 12) throws {
        directory = Fixtures.temporaryDirectory(label)
        db = Engines.url(engine, directory: directory)
        #expect(try Programs.run(Self.collector, ["migrate", "--db", db]).status == 0)
        let clips = try Self.clips()
        let labels = clips.keys.sorted()
        for i in 0..<count {
            let name = String(format: "van-%02d", i + 1)
            let added = try Programs.run(Self.collector, ["devices", "add", name, "--group", group, "--db", db])
            #expect(added.status == 0, "\(added.stderr)")
            let token = try #require(added.stdout.split(separator: "\n").last.map(String.init))
            let home = directory + "/" + name
            // Each device hears its own selection of commands, in its own order.
            let chosen = (0..<words).map { labels[(i * 5 + $0 * 7) % labels.count] }
            let audio = try Self.recording(chosen, clips: clips, path: home + "/heard.wav")
            let device = Device(name: name, directory: home, token: token, audio: audio)
            let installed = try Programs.run(Self.earshot, ["models", "install", Fixtures.packageRoot + "/Models/command/command-en", "--activate", "--store", device.store])
            #expect(installed.status == 0, "\(installed.stderr)")
            devices.append(device)
        }
        server = try ServeProcess(["--db", db, "--rollout-check", "0"], program: Self.collector)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    static func clips() throws -> [String: [Int16]] {
        var clips: [String: [Int16]] = [:]
        for clip in try HeldOutCommands.load() where clip.cleanAndRight && clips[clip.label] == nil && clip.label != "unknown" { clips[clip.label] = clip.samples }
        return clips
    }

    static func recording(_ words: [String], clips: [String: [Int16]], path: String) throws -> String {
        var generator = SeededGenerator(seed: UInt64(words.count))
        func quiet(_ n: Int) -> [Int16] { (0..<n).map { _ in Int16.random(in: -4...4, using: &generator) } }
        var audio = quiet(8_000)
        for w in words { audio += (clips[w] ?? []) + quiet(12_000) }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let writer = try AudioFileWriter(path: path, sampleRate: 16_000)
        try writer.write(audio)
        try writer.close()
        return path
    }

    func collector(_ arguments: [String]) throws -> ProcessResult { try Programs.run(Self.collector, arguments) }

    func run(_ device: Device) throws -> ProcessResult {
        try Programs.run(Self.earshot, ["run", "--audio", device.audio, "--store", device.store, "--spool", device.spool]
                         + device.keys.flatMap { ["--trusted-key", $0] })
    }

    func sync(_ device: Device, extra: [String] = []) throws -> ProcessResult {
        try Programs.run(Self.earshot, ["sync", "--now", "--spool", device.spool, "--store", device.store, "--collector", server.base,
                                        "--token", device.token, "--timeout", "20"] + device.keys.flatMap { ["--trusted-key", $0] } + extra)
    }

    /// Runs `body` for every device, two at a time (the machine's cores), and returns the results in device order.
    func each(_ chosen: [Device]? = nil, _ body: @escaping @Sendable (Device) throws -> ProcessResult) -> [ProcessResult] {
        let list = chosen ?? devices
        final class Results: @unchecked Sendable { var items: [ProcessResult?]; let lock = NSLock(); init(_ n: Int) { items = Array(repeating: nil, count: n) } }
        let results = Results(list.count)
        DispatchQueue.concurrentPerform(iterations: list.count) { k in
            let r = (try? body(list[k])) ?? ProcessResult(status: -1, stdout: "", stderr: "could not start", stdoutData: Data())
            results.lock.lock(); results.items[k] = r; results.lock.unlock()
        }
        return results.items.map { $0! }
    }

    /// One round: every device replays its recording, then syncs (upload, then poll).
    @discardableResult
    func round(_ chosen: [Device]? = nil) -> [ProcessResult] {
        let runs = each(chosen) { try self.run($0) }
        for (d, r) in zip(chosen ?? devices, runs) { #expect(r.status == 0, "\(d.name) run: \(r.stderr.suffix(400))") }
        return syncAll(chosen)
    }

    @discardableResult
    func syncAll(_ chosen: [Device]? = nil) -> [ProcessResult] {
        let syncs = each(chosen) { try self.sync($0) }
        for (d, r) in zip(chosen ?? devices, syncs) { #expect(r.status == 0, "\(d.name) sync: \(r.stderr.suffix(400))") }
        return syncs
    }

    /// One pass of the gate; the JSON verdicts.
    func evaluate() throws -> [[String: Any]] {
        let r = try collector(["rollout", "evaluate", "--db", db, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        return try JSONSerialization.jsonObject(with: r.stdoutData) as? [[String: Any]] ?? []
    }

    func show(_ id: String) throws -> [String: Any] {
        let r = try collector(["rollout", "show", id, "--db", db, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        return try JSONSerialization.jsonObject(with: r.stdoutData) as? [String: Any] ?? [:]
    }

    func slots(_ device: Device) throws -> SlotState? { try ModelStore(directory: device.store).state() }

    /// A bundle of the shipped command network under another name or version, optionally with its labels scrambled
    /// (a deliberately bad model: the same confidences, the wrong words).
    func variant(version: String, name: String = "command-en", scrambled: Bool = false) throws -> String {
        try Fixtures.commandBundleVariant(at: directory + "/bundles/\(name)-\(version)") { m in
            m["version"] = version
            m["name"] = name
            if scrambled, let labels = m["labels"] as? [String] { m["labels"] = Array(labels.prefix(2)) + labels.dropFirst(2).reversed() }
        }
    }

    func push(_ bundle: String, keys: [String] = []) throws -> String {
        let r = try collector(["models", "push", bundle, "--db", db] + keys.flatMap { ["--trusted-key", $0] })
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

@Suite("fleet rollout", .serialized)
struct RolloutFleetTests {
    /// A good candidate (the same network as version 0.2.0) goes through shadow, 10 %, 50 % and the switch on a
    /// 20-device fleet; every step is promoted by the gate with its evidence logged, and every device ends on it.
    @Test func aGoodCandidateIsPromotedThroughEveryStep() throws {
        let fleet = try Fleet("fleet-good", engine: "sqlite", count: 20)
        fleet.round()                                                   // the fleet's history on the baseline model
        let model = try fleet.push(try fleet.variant(version: "0.2.0"))
        #expect(model == "command-en@0.2.0")
        let start = try fleet.collector(["rollout", "start", model, "--group", "field", "--steps", "shadow,10,50,100", "--interval", "0s",
                                         "--min-samples", "20", "--db", fleet.db, "--id", "good"])
        #expect(start.status == 0 && start.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "good", "\(start.stderr)")
        #expect(start.stderr.contains("baseline command-en@0.1.0"))
        fleet.syncAll()                                                 // every device learns its assignment
        var state = "running", rounds = 0
        while state == "running" && rounds < 8 {
            fleet.round()
            let verdict = try #require(try fleet.evaluate().first)
            state = verdict["state"] as? String ?? "?"
            #expect(((verdict["verdict"] as? [String: Any])?["outcome"] as? String).map { ["promote", "wait"].contains($0) } == true, "\(verdict)")
            fleet.syncAll()
            rounds += 1
        }
        let shown = try fleet.show("good")
        let plan = try #require(shown["plan"] as? [String: Any])
        #expect(plan["state"] as? String == "completed", "\(plan)")
        let log = (shown["log"] as? [[String: Any]] ?? []).reversed().map { $0["action"] as? String ?? "" }
        #expect(log == ["start", "promote", "promote", "promote", "complete"], "\(log)")
        #expect(rounds <= 6, "\(rounds) rounds")
        // Every promotion carries its evidence: decisions counted and metrics compared.
        for entry in (shown["log"] as? [[String: Any]] ?? []) where entry["action"] as? String != "start" {
            let evidence = try JSONSerialization.jsonObject(with: Data((entry["evidence"] as? String ?? "{}").utf8)) as? [String: Any]
            #expect((evidence?["candidate_decisions"] as? Int ?? 0) >= 20, "\(entry)")
            #expect((evidence?["metrics"] as? [[String: Any]])?.isEmpty == false)
        }
        for device in fleet.devices {
            let slots = try #require(try fleet.slots(device))
            #expect(slots.active == model && slots.previous == "command-en@0.1.0" && slots.candidate == nil, "\(device.name): \(slots)")
        }
        // The device says which plan and step it follows.
        let listed = try Programs.run(Fleet.earshot, ["models", "list", "--store", fleet.devices[0].store, "--json"])
        let rollout = (try JSONSerialization.jsonObject(with: listed.stdoutData) as? [String: Any])?["rollout"] as? [String: Any]
        #expect(rollout?["rollout"] as? String == "good" && rollout?["step"] as? Int == 4 && rollout?["plan_state"] as? String == "completed", "\(listed.stdout)")
        let text = try Programs.run(Fleet.earshot, ["models", "list", "--store", fleet.devices[0].store])
        #expect(text.stdout.contains("rollout: good — command-en@0.2.0, step 4 of 4"), "\(text.stdout)")
        // The registry keeps the pushed manifest: live decisions are checked against its training baseline.
        let skew = try fleet.collector(["drift", "--window", "100", "--baseline", model, "--db", fleet.db, "--json"])
        #expect([0, 1].contains(skew.status) && skew.stdout.contains("confidence_bin"), "\(skew.stderr)")
        // The dashboard shows the rollout and its decisions.
        let page = String(decoding: try fleet.server.request("/rollouts/good").body, as: UTF8.self)
        #expect(page.contains("completed") && page.contains("promote") && page.contains("agreement_with_active"))
        #expect(fleet.server.terminate() == 0)
    }

    /// A candidate with shuffled labels is stopped at its first canary step, on PostgreSQL: the gate (or the devices'
    /// own thresholds) rolls it back, and after their next sync no device runs it.
    @Test func aBadCandidateIsStoppedAtTheFirstStepAndRolledBackEverywhere() throws {
        let fleet = try Fleet("fleet-bad", engine: "postgres", count: 20)
        fleet.round()
        let model = try fleet.push(try fleet.variant(version: "0.1.0", name: "command-scrambled", scrambled: true))
        let start = try fleet.collector(["rollout", "start", model, "--group", "field", "--steps", "10,50,100", "--interval", "0s",
                                         "--min-samples", "20", "--db", fleet.db, "--id", "bad"])
        #expect(start.status == 0, "\(start.stderr)")
        fleet.syncAll()
        let members = try #require(fleet.show("bad")["members"] as? [String])
        #expect(members.count == 2)
        for device in fleet.devices {
            #expect(try fleet.slots(device)?.candidate?.bundle == (members.contains(device.name) ? model : nil), "\(device.name)")
        }
        var state = "running", rounds = 0
        while state == "running" && rounds < 5 {
            fleet.round(fleet.devices.filter { members.contains($0.name) })
            state = try fleet.evaluate().first?["state"] as? String ?? "?"
            rounds += 1
        }
        #expect(state == "rolled-back")
        // The gate saw it first (20 canary decisions come within two rounds; the devices' own limit is 30 each).
        #expect(rounds <= 3, "\(rounds) rounds")
        let shown = try fleet.show("bad")
        #expect((shown["plan"] as? [String: Any])?["step"] as? Int == 0, "stopped at the first step")
        let rollback = try #require((shown["log"] as? [[String: Any]] ?? []).first { $0["action"] as? String == "rollback" })
        let reason = rollback["reason"] as? String ?? ""
        #expect(reason.contains("agreement with the active model"), "\(rollback)")
        let evidence = try JSONSerialization.jsonObject(with: Data((rollback["evidence"] as? String ?? "{}").utf8)) as? [String: Any]
        let agreement = (evidence?["metrics"] as? [[String: Any]])?.first { $0["name"] as? String == "agreement_with_active" }
        #expect((agreement?["candidate"] as? Double ?? 1) < 0.5 && agreement?["worse"] as? Bool == true, "\(String(describing: agreement))")
        fleet.syncAll()
        for device in fleet.devices {
            let slots = try #require(try fleet.slots(device))
            #expect(slots.active == "command-en@0.1.0" && slots.candidate == nil, "\(device.name): \(slots)")
            // Devices outside the first step never downloaded the bad model.
            #expect(FileManager.default.fileExists(atPath: device.store + "/bundles/\(model)") == members.contains(device.name))
        }
        #expect(fleet.server.terminate() == 0)
    }

    /// Bundles are checked on the device: one signed by a key the devices do not trust is refused and reported (the
    /// gate holds the rollout for a human); a download cut by the per-run byte limit resumes where it stopped.
    @Test func badSignaturesAreRefusedAndDownloadsResume() throws {
        let fleet = try Fleet("fleet-integrity", engine: "sqlite", count: 2, words: 4)
        let keys = fleet.directory + "/keys"
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        for name in ["fleet", "rogue"] { #expect(try Programs.run(Fleet.earshot, ["models", "keygen", keys + "/" + name]).status == 0) }
        // van-01 trusts the fleet key only; van-02 trusts the rogue key too.
        fleet.devices[0].keys = [keys + "/fleet.pub"]
        fleet.devices[1].keys = [keys + "/fleet.pub", keys + "/rogue.pub"]
        let bundle = try fleet.variant(version: "0.3.0")
        #expect(try Programs.run(Fleet.earshot, ["models", "sign", bundle, "--key", keys + "/rogue.key"]).status == 0)
        // The collector refuses what its keys do not verify.
        let refused = try fleet.collector(["models", "push", bundle, "--db", fleet.db, "--trusted-key", keys + "/fleet.pub"])
        #expect(refused.status == 65 && refused.stderr.contains("signature"), "\(refused.stderr)")
        let model = try fleet.push(bundle, keys: [keys + "/rogue.pub"])
        let size = try #require((try JSONSerialization.jsonObject(with: try fleet.collector(["models", "list", "--db", fleet.db, "--json"]).stdoutData)
                                 as? [[String: Any]])?.first?["archive_bytes"] as? Int)
        #expect(try fleet.collector(["rollout", "start", model, "--group", "field", "--steps", "shadow", "--interval", "0s", "--db", fleet.db,
                                     "--id", "signed"]).status == 0)
        // A metered link: 20 000 bytes per run, resumed with ranges until the archive is whole.
        var runs = 0, finished = false
        while !finished && runs < 10 {
            let r = try fleet.sync(fleet.devices[1], extra: ["--download-limit", "20000"])
            #expect(r.status == 0, "\(r.stderr)")
            finished = r.stdout.contains("candidate \(model) in shadow")
            runs += 1
        }
        #expect(finished && runs == (size + 19_999) / 20_000, "\(runs) runs for \(size) bytes")
        let metrics = String(decoding: try fleet.server.request("/metrics").body, as: UTF8.self)
        #expect(metrics.contains("earshot_collector_bundle_bytes_total \(size)"), "every byte served once: \(metrics.split(separator: "\n").filter { $0.contains("bundle_bytes") })")
        #expect(try fleet.slots(fleet.devices[1])?.candidate?.bundle == model)
        // van-01 downloads it too, and refuses it: not installed, reported, not fetched again.
        let first = try fleet.sync(fleet.devices[0])
        #expect(first.status == 0 && first.stdout.contains("rollout: refused") && first.stdout.contains("signature"), "\(first.stdout)")
        #expect(try fleet.slots(fleet.devices[0])?.candidate == nil && !ModelStore(directory: fleet.devices[0].store).installed().contains(model))
        let again = try fleet.sync(fleet.devices[0])
        #expect(again.stdout.contains("not downloaded again"), "\(again.stdout)")
        let verdict = try #require(try fleet.evaluate().first)
        #expect(verdict["state"] as? String == "held", "\(verdict)")
        let reason = (verdict["verdict"] as? [String: Any])?["reason"] as? String
        #expect(reason?.contains("van-01") == true, "\(verdict)")
        #expect(fleet.server.terminate() == 0)
    }

    /// A device in a bad canary loses its collector; its own thresholds roll the candidate back while offline, the
    /// decisions stay in its spool, and on reconnecting it reports the rollback, which stops the rollout fleet-wide.
    @Test func anOfflineDeviceRollsBackOnItsOwnAndReportsItLater() throws {
        let fleet = try Fleet("fleet-offline", engine: "sqlite", count: 3)
        fleet.round()
        let model = try fleet.push(try fleet.variant(version: "0.1.0", name: "command-scrambled", scrambled: true))
        #expect(try fleet.collector(["rollout", "start", model, "--group", "field", "--steps", "30,100", "--interval", "1h", "--utterance-share", "1",
                                     "--pin", "van-02", "--db", fleet.db, "--id", "offline"]).status == 0)
        let device = fleet.devices[1]
        #expect(try fleet.sync(device).stdout.contains("candidate \(model) in canary"))
        try ModelStore(directory: device.store).update { $0?.health.minimumSamples = 5 }
        // The collector goes away; the device keeps deciding, and rolls the canary back on its own.
        #expect(fleet.server.terminate() == 0)
        let offline = try fleet.run(device)
        #expect(offline.status == 0 && offline.stderr.contains("automatic rollback of \(model)"), "\(offline.stderr.suffix(500))")
        #expect(try fleet.slots(device)?.candidate == nil)
        let failed = try Programs.run(Fleet.earshot, ["sync", "--now", "--spool", device.spool, "--store", device.store, "--collector",
                                                      fleet.server.base, "--token", device.token, "--timeout", "1"])
        #expect(failed.status == 75, "\(failed.stderr)")
        // Back online: the report carries the rollback; the gate stops the rollout for every device.
        fleet.server = try ServeProcess(["--db", fleet.db, "--rollout-check", "0"], program: Fleet.collector)
        let back = try fleet.sync(device)
        #expect(back.status == 0, "\(back.stderr)")
        let verdict = try #require(try fleet.evaluate().first)
        #expect(verdict["state"] as? String == "rolled-back", "\(verdict)")
        let reason = (verdict["verdict"] as? [String: Any])?["reason"] as? String
        #expect(reason?.contains("van-02") == true, "\(verdict)")
        let status = try Programs.run(Fleet.earshot, ["spool", "status", "--spool", device.spool, "--json"])
        #expect((try JSONSerialization.jsonObject(with: status.stdoutData) as? [String: Any])?["backlog"] as? Int == 0)
        #expect(fleet.server.terminate() == 0)
    }
}
