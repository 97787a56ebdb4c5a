@testable import EarshotCollector
import EarshotMonitoring
@testable import EarshotSync
import EarshotTestSupport
import Foundation
import Testing

/// The storage engines every behaviour is checked on: one SQLite file, and a real PostgreSQL server
/// (scripts/test/start-postgres.sh; `$EARSHOT_TEST_POSTGRES` names another), each test in a schema of its own.
enum Engines {
    static let all = ["sqlite", "postgres"]
    static var postgres: String { ProcessInfo.processInfo.environment["EARSHOT_TEST_POSTGRES"] ?? "postgres://earshot:earshot@127.0.0.1:5432/earshot_test" }

    static func url(_ engine: String, directory: String) -> String {
        engine == "sqlite" ? "sqlite:\(directory)/collector.db"
            : postgres + "?schema=t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
    }

    static func open(_ engine: String, directory: String) async throws -> (any CollectorStore, String) {
        let url = url(engine, directory: directory)
        do { return (try await openCollectorStore(DatabaseLocation(url)), url) } catch {
            throw CollectorError(error.status, "\(error.message) (start PostgreSQL with scripts/test/start-postgres.sh)")
        }
    }
}

/// Batches as a device sends them (docs/SYNC.md), with decision records shaped like `earshot run`'s.
enum Batches {
    static func record(_ seq: Int, text: String = "stop", rms: Double? = nil) -> [String: Any] {
        let loudness: Double = rms ?? (-30 - Double(seq % 7))
        let decision: [String: Any] = [
            "id": "u-\(seq)", "text": text, "confidence": 0.9, "source": "local", "accepted": true, "latency_ms": 4.5, "offline": false,
            "models": ["active": "command-en@1.0.0"],
            "input": ["duration_s": 0.8, "rms_dbfs": loudness, "peak_dbfs": -6.0, "snr_db": 21.5, "speech_ratio": 0.6,
                      "spectral_tilt_db_per_octave": -4.2, "vad_segments": 1],
            "local": ["agrees": true], "quick_repeat": false, "candidate_error": false,
            "software": ["cpu_ms": 3.5, "rss_mb": 31.0, "queue_depth": 0, "dropped_utterances": 0, "capture_overruns": 0, "dropped_samples": 0],
        ]
        return ["seq": seq, "wall": 1_795_800_000.0 + Double(seq), "kind": "decision",
                "record": ["schema": 1, "boot_id": "boot", "monotonic_ns": seq * 1_000, "decision": decision]]
    }

    static func json(device: String, epoch: Int = 1, records: [[String: Any]], schema: Int = 1) -> Data {
        try! JSONSerialization.data(withJSONObject: ["schema": schema, "device_id": device, "epoch": epoch,
                                                     "counters": ["dropped": 0, "corrupt": 0], "records": records])
    }

    static func gzip(device: String, epoch: Int = 1, _ seqs: ClosedRange<Int>, text: String = "stop") -> Data {
        try! SyncClient.gzip(json(device: device, epoch: epoch, records: seqs.map { record($0, text: text) }))
    }
}

@Suite("collector ingest")
struct IngestTests {
    /// A store, a server over it and one registered device with its token.
    struct Rig {
        let store: any CollectorStore
        let server: CollectorServer
        let token: String
        let directory: String
        let url: String

        init(_ engine: String, limits: IngestLimits = IngestLimits()) async throws {
            directory = Fixtures.temporaryDirectory("collector-\(engine)")
            (store, url) = try await Engines.open(engine, directory: directory)
            var configuration = CollectorConfiguration()
            configuration.limits = limits
            server = CollectorServer(store: store, configuration: configuration)
            token = DeviceToken.generate()
            _ = try await store.addDevice(name: "box-1", tokenHash: DeviceToken.hash(token), deviceID: nil, site: "depot", hardware: "pi4")
        }

        func send(_ body: Data, token: String? = nil, encoding: String? = "gzip") async -> (Int, [String: Any]) {
            let answer = await server.ingest(authorization: "Bearer \(token ?? self.token)", encoding: encoding, body: body)
            return (answer.status, (try? JSONSerialization.jsonObject(with: answer.body)) as? [String: Any] ?? [:])
        }

        func close() async {
            await store.close()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// The local model's own confidence is kept whoever answered (the cloud's answer replaces `confidence`), and the
    /// shadow model's agreement with the cloud is a column: the output-drift alarm and the gate's teacher comparison.
    @Test func localConfidenceAndTheShadowsAgreementWithTheCloudAreColumns() throws {
        var cloud = Batches.record(1)
        var decision = (cloud["record"] as! [String: Any])["decision"] as! [String: Any]
        decision["source"] = "cloud"; decision["confidence"] = 0.95
        decision["local"] = ["text": "go", "confidence": 0.41, "recognised": true, "agrees": false]
        decision["shadow"] = ["model": "command-en@0.2.0", "text": "stop", "confidence": 0.9, "recognised": true, "agrees": false, "agrees_cloud": true, "ms": 3]
        cloud["record"] = ["schema": 1, "boot_id": "boot", "monotonic_ns": 1_000, "decision": decision]
        let batch = try IngestBatch(body: Batches.json(device: "d", records: [cloud, Batches.record(2)]), encoding: nil, limits: IngestLimits())
        let (answered, local) = (batch.records[0].row, batch.records[1].row)
        #expect(answered.confidence == 0.95 && answered.localConfidence == 0.41 && answered.cloudAgrees == false && answered.shadowAgreesCloud == true)
        #expect(local.localConfidence == 0.9 && local.shadowAgreesCloud == nil)
        let columns = UtteranceRow.numericColumns + UtteranceRow.flagColumns
        #expect(columns.contains("local_confidence") && columns.contains("shadow_agrees_cloud"))
    }

    @Test(arguments: Engines.all)
    func eachRecordIsStoredOnceAndAcknowledged(_ engine: String) async throws {
        let rig = try await Rig(engine)
        let first = await rig.send(Batches.gzip(device: "dev-a", 1...10))
        #expect(first.0 == 200 && first.1["acked_seq"] as? Int == 10 && first.1["stored"] as? Int == 10 && first.1["duplicates"] as? Int == 0)
        #expect(first.1["device_id"] as? String == "dev-a" && first.1["epoch"] as? Int == 1)
        // The same batch again (its answer was lost): nothing new, the same acknowledgement.
        let again = await rig.send(Batches.gzip(device: "dev-a", 1...10))
        #expect(again.0 == 200 && again.1["acked_seq"] as? Int == 10 && again.1["stored"] as? Int == 0 && again.1["duplicates"] as? Int == 10)
        // Overlapping: only the new half is stored.
        let overlap = await rig.send(Batches.gzip(device: "dev-a", 6...15))
        #expect(overlap.1["acked_seq"] as? Int == 15 && overlap.1["stored"] as? Int == 5 && overlap.1["duplicates"] as? Int == 5)
        // A new epoch (the device's spool started again) is its own sequence space.
        let epoch2 = await rig.send(Batches.gzip(device: "dev-a", epoch: 2, 1...3))
        #expect(epoch2.1["acked_seq"] as? Int == 3 && epoch2.1["stored"] as? Int == 3)
        let device = try #require(try await rig.store.devices().first)
        #expect(device.name == "box-1" && device.deviceID == "dev-a" && device.records == 18 && device.duplicates == 15 && device.skipped == 0)
        #expect(device.lastSeen != nil && device.site == "depot")
        await rig.close()
    }

    @Test(arguments: Engines.all)
    func aGapIsAcknowledgedAndCounted(_ engine: String) async throws {
        let rig = try await Rig(engine)
        _ = await rig.send(Batches.gzip(device: "dev-a", 1...4))
        // The device lost 5–9 (its bounds dropped them); the collector stores what came and says how many were skipped.
        let after = await rig.send(Batches.gzip(device: "dev-a", 10...12))
        #expect(after.0 == 200 && after.1["acked_seq"] as? Int == 12)
        #expect(try await rig.store.devices().first?.skipped == 5)
        await rig.close()
    }

    @Test(arguments: Engines.all)
    func tokensAreCheckedAndBoundToOneDevice(_ engine: String) async throws {
        let rig = try await Rig(engine)
        let body = Batches.gzip(device: "dev-a", 1...2)
        let none = await rig.server.ingest(authorization: nil, encoding: "gzip", body: body)
        #expect(none.status == 401 && String(decoding: none.body, as: UTF8.self).contains("missing bearer token"))
        #expect(await rig.send(body, token: "esd_not-a-token").0 == 401)
        #expect(await rig.send(body).0 == 200)
        // The token is now bound to dev-a: another spool id with it is refused, and nothing of that batch is stored.
        let other = await rig.send(Batches.gzip(device: "dev-b", 1...2))
        #expect(other.0 == 403 && (other.1["error"] as? String ?? "").contains("belongs to device box-1"))
        // A second device cannot claim dev-a's id either.
        let token2 = DeviceToken.generate()
        _ = try await rig.store.addDevice(name: "box-2", tokenHash: DeviceToken.hash(token2), deviceID: nil, site: nil, hardware: nil)
        #expect(await rig.send(Batches.gzip(device: "dev-a", 3...4), token: token2).0 == 403)
        #expect(try await rig.store.revokeDevice(name: "box-1"))
        let revoked = await rig.send(Batches.gzip(device: "dev-a", 3...4))
        #expect(revoked.0 == 401 && (revoked.1["error"] as? String ?? "").contains("revoked"))
        #expect(try await !rig.store.revokeDevice(name: "nobody"))
        let devices = try await rig.store.devices()
        #expect(devices.map(\.records) == [2, 0] && devices[0].revokedAt != nil)
        await rig.close()
    }

    @Test(arguments: Engines.all)
    func badBatchesGetTheirStatusAndStoreNothing(_ engine: String) async throws {
        var limits = IngestLimits()
        limits.maximumRecords = 50
        limits.maximumJSONBytes = 200_000
        let rig = try await Rig(engine, limits: limits)
        let cases: [(String, Data, String?, Int, String)] = [
            ("not gzip", Data("hello".utf8), "gzip", 400, "not valid gzip"),
            ("truncated gzip", Batches.gzip(device: "dev-a", 1...3).prefix(20), "gzip", 400, "gzip"),
            ("not JSON", Data("{\"schema\": 1,".utf8), nil, 400, "not JSON"),
            ("an array", Data("[]".utf8), nil, 400, "JSON object"),
            ("future schema", Batches.json(device: "dev-a", records: [Batches.record(1)], schema: 2), nil, 409, "schema 2"),
            ("no records", Batches.json(device: "dev-a", records: []), nil, 400, "empty"),
            ("too many records", Batches.json(device: "dev-a", records: (1...51).map { Batches.record($0) }), nil, 413, "51 records"),
            ("descending", Batches.json(device: "dev-a", records: [Batches.record(2), Batches.record(1)]), nil, 400, "ascend"),
            ("zero seq", Batches.json(device: "dev-a", records: [Batches.record(0)]), nil, 400, "positive"),
            ("bad device id", Batches.json(device: "has space", records: [Batches.record(1)]), nil, 400, "device_id"),
            ("unknown encoding", Batches.json(device: "dev-a", records: [Batches.record(1)]), "br", 400, "br"),
            ("gzip bomb", try SyncClient.gzip(Data(repeating: 0x20, count: 5_000_000)), "gzip", 413, "inflates past"),
        ]
        for (name, body, encoding, status, message) in cases {
            let (got, answer) = await rig.send(body, encoding: encoding)
            #expect(got == status, "\(name): \(got) \(answer)")
            #expect((answer["error"] as? String ?? "").contains(message), "\(name): \(answer)")
        }
        var record = Batches.record(1)
        record["wall"] = "yesterday"
        #expect(await rig.send(Batches.json(device: "dev-a", records: [record]), encoding: nil).0 == 400)
        #expect(try await rig.store.devices().first?.records == 0)
        await rig.close()
    }

    /// A resend must be the record stored before; other content under the same identity is refused whole.
    @Test(arguments: Engines.all)
    func aConflictingResendIsRefusedWhole(_ engine: String) async throws {
        let rig = try await Rig(engine)
        #expect(await rig.send(Batches.gzip(device: "dev-a", 1...5)).0 == 200)
        let conflicting = await rig.send(Batches.gzip(device: "dev-a", 4...8, text: "go"))
        #expect(conflicting.0 == 409 && (conflicting.1["error"] as? String ?? "").contains("new epoch"))
        let device = try #require(try await rig.store.devices().first)
        #expect(device.records == 5)          // 6–8 were not stored either: the batch is one transaction
        await rig.close()
    }

    @Test(arguments: Engines.all)
    func decisionColumnsComeBackAsAWindow(_ engine: String) async throws {
        let rig = try await Rig(engine)
        let labels = try SyncClient.gzip(Batches.json(device: "dev-a", records: [
            Batches.record(1, rms: -20), Batches.record(2, rms: -25),
            ["seq": 3, "wall": 1_795_800_003.0, "kind": "label", "record": ["schema": 1, "utterance_id": "u-1", "verdict": "correction", "label": "go"]],
            Batches.record(4, text: "", rms: -40),
        ]))
        #expect(await rig.send(labels).0 == 200)
        let window = try await rig.store.window(device: "box-1", model: nil, since: nil, limit: 100)
        #expect(window.count == 3)
        #expect(window.numeric["rms_dbfs"] == [-20, -25, -40])
        #expect(window.categorical["label"] == ["stop", "stop", ""] && window.categorical["null_result"] == ["false", "false", "true"])
        #expect(window.categorical["model"] == ["command-en@1.0.0", "command-en@1.0.0", "command-en@1.0.0"])
        #expect(window.numeric["cpu_ms"] == [3.5, 3.5, 3.5] && window.numeric["vad_segments"] == [1, 1, 1] && window.numeric["rss_mb"] == [31, 31, 31])
        #expect(window.categorical["quick_repeat"] == ["false", "false", "false"] && window.numeric["capture_overruns"] == [0, 0, 0])
        #expect(window.categorical["candidate_error"] == ["false", "false", "false"])
        let recent = try await rig.store.window(device: nil, model: "command-en@1.0.0", since: 1_795_800_002, limit: 1)
        #expect(recent.numeric["rms_dbfs"] == [-40])
        #expect(try await rig.store.window(device: "nobody", model: nil, since: nil, limit: 10).count == 0)
        await rig.close()
    }

    /// `drift --window N` compares the fleet's latest N decisions with the N before: a device whose input got 8 dB
    /// louder drifts on loudness and nowhere else.
    @Test(arguments: Engines.all)
    func theCollectorsOwnWindowsDrift(_ engine: String) async throws {
        let rig = try await Rig(engine)
        var generator = SeededGenerator(seed: 11)
        var records: [[String: Any]] = []
        for seq in 1...400 {
            var record = Batches.record(seq, rms: Double.random(in: -40 ... -28, using: &generator) + (seq > 200 ? 8 : 0))
            var body = record["record"] as! [String: Any], decision = body["decision"] as! [String: Any]
            var input = decision["input"] as! [String: Any]
            input["snr_db"] = Double.random(in: 15...25, using: &generator)
            decision["input"] = input
            body["decision"] = decision
            record["record"] = body
            records.append(record)
        }
        #expect(await rig.send(try SyncClient.gzip(Batches.json(device: "dev-a", records: records))).0 == 200)
        let url = rig.url
        let result = try await offPool { try Programs.run(Programs.collector, ["drift", "--db", url, "--window", "200", "--device", "box-1", "--json"]) }
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: result.stdoutData) as? [String: Any])
        let columns = try #require(report["columns"] as? [String: [String: Any]])
        #expect(report["drifted_columns"] as? [String] == ["rms_dbfs"], "\(report["drifted_columns"] ?? "")")
        #expect(columns["rms_dbfs"]?["current_n"] as? Int == 200 && columns["rms_dbfs"]?["reference_n"] as? Int == 200)
        #expect(columns["snr_db"]?["drifted"] as? Bool == false && columns["label"]?["type"] as? String == "categorical")
        // Columns no record carries have no decision and say so.
        #expect(columns["noise_floor_dbfs"]?["decided"] as? Bool == false)
        // The device's cohort (its site tag) sees the same change; a cohort with no devices has no decision.
        let cohort = try await offPool { try Programs.run(Programs.collector, ["drift", "--db", url, "--window", "200", "--site", "depot", "--json"]) }
        let cohortReport = try #require(try JSONSerialization.jsonObject(with: cohort.stdoutData) as? [String: Any])
        #expect(cohortReport["drifted_columns"] as? [String] == ["rms_dbfs"] && (cohortReport["current"] as? String ?? "").contains("site depot"))
        let empty = try await offPool { try Programs.run(Programs.collector, ["drift", "--db", url, "--window", "200", "--hardware", "x86", "--json"]) }
        #expect((try JSONSerialization.jsonObject(with: empty.stdoutData) as? [String: Any])?["drifted"] as? Bool == false)
        let usage = try await offPool { try Programs.run(Programs.collector, ["drift", "--db", url, "--window", "200", "--reference", "a.csv"]) }
        #expect(usage.status == 64)
        await rig.close()
    }

    /// `drift --hours H`: the last H hours against the H before, whatever the number of decisions in each.
    @Test(arguments: Engines.all)
    func timeWindowsDrift(_ engine: String) async throws {
        let rig = try await Rig(engine)
        let now = Date().timeIntervalSince1970
        var generator = SeededGenerator(seed: 31)
        var records: [[String: Any]] = []
        for seq in 1...500 {
            let recent = seq > 200                                       // 200 decisions an hour ago, 300 in the last hour
            var record = Batches.record(seq, rms: Double.random(in: -40 ... -28, using: &generator) + (recent ? 6 : 0))
            record["wall"] = recent ? now - 3_500 + Double(seq - 200) * 10 : now - 7_100 + Double(seq) * 10
            records.append(record)
        }
        #expect(await rig.send(try SyncClient.gzip(Batches.json(device: "dev-a", records: records))).0 == 200)
        let url = rig.url
        let result = try await offPool { try Programs.run(Programs.collector, ["drift", "--db", url, "--hours", "1", "--json"]) }
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: result.stdoutData) as? [String: Any])
        #expect(report["reference_rows"] as? Int == 200 && report["current_rows"] as? Int == 300)
        #expect(report["drifted_columns"] as? [String] == ["rms_dbfs"], "\(report["drifted_columns"] ?? "")")
        #expect((report["current"] as? String ?? "").contains("last 1 h"))
        await rig.close()
    }

    /// `export` streams records as CSV with the decision columns, the kept audio's name and the JSON; the file reads
    /// back with the drift command's own CSV reader.
    @Test(arguments: Engines.all)
    func recordsExportAsCSV(_ engine: String) async throws {
        let rig = try await Rig(engine)
        var withAudio = Batches.record(2, text: "say \"go\", then stop")
        var body = withAudio["record"] as! [String: Any], decision = body["decision"] as! [String: Any]
        decision["audio"] = "audio/2026-11-27/u-2.flac"
        body["decision"] = decision
        withAudio["record"] = body
        let records: [[String: Any]] = [Batches.record(1), withAudio,
            ["seq": 3, "wall": 1_795_800_003.0, "kind": "label", "record": ["schema": 1, "utterance_id": "u-2", "verdict": "correction", "label": "go", "model": "command-en@1.0.0"]]]
        #expect(await rig.send(try SyncClient.gzip(Batches.json(device: "dev-a", records: records))).0 == 200)
        let url = rig.url, out = rig.directory + "/export.csv"
        let all = try await offPool { try Programs.run(Programs.collector, ["export", "--db", url, "--out", out]) }
        #expect(all.status == 0 && all.stderr.contains("exported 3 records"), "\(all.stderr)")
        let table = try DriftTable(csv: String(contentsOfFile: out, encoding: .utf8))
        #expect(table.rowCount == 3 && table.header.prefix(7) == ["device", "device_id", "epoch", "seq", "kind", "time", "wall"])
        func column(_ name: String) -> [String] { table.columns[table.header.firstIndex(of: name)!] }
        #expect(column("device") == ["box-1", "box-1", "box-1"] && column("kind") == ["decision", "decision", "label"])
        #expect(column("label") == ["stop", "say \"go\", then stop", "go"] && column("audio") == ["", "audio/2026-11-27/u-2.flac", ""])
        #expect(column("rms_dbfs")[0] == "-31.0" && column("source")[2] == "correction" && column("time")[0].hasPrefix("2026-11-27T"))
        let json = try JSONSerialization.jsonObject(with: Data(column("record")[1].utf8)) as? [String: Any]
        #expect((json?["decision"] as? [String: Any])?["audio"] as? String == "audio/2026-11-27/u-2.flac")
        let some = try await offPool {
            try Programs.run(Programs.collector, ["export", "--db", url, "--kind", "decision", "--since", "1795800002", "--no-record"])
        }
        let lines = some.stdout.split(separator: "\n")
        #expect(lines.count == 2 && !lines[0].contains("record") && lines[1].contains("u-2.flac"), "\(some.stdout)")
        let bad = try await offPool { try Programs.run(Programs.collector, ["export", "--db", url, "--since", "yesterday"]) }
        #expect(bad.status == 64)
        await rig.close()
    }

    /// Training–serving skew: live decisions against the shipped command-en bundle's own baseline. Decisions drawn like
    /// the baseline show none; a deployment where most utterances land in `unknown` at low confidence shows both.
    @Test(arguments: Engines.all)
    func decisionsAreComparedWithTheBundlesBaseline(_ engine: String) async throws {
        let rig = try await Rig(engine)
        let manifest = Fixtures.packageRoot + "/Models/command/command-en/manifest.json"
        let reference = try BaselineReference(manifestAt: manifest)
        var generator = SeededGenerator(seed: 21)
        func draw(_ weights: [Double]) -> Int {
            var x = Double.random(in: 0..<weights.reduce(0, +), using: &generator)
            for (k, w) in weights.enumerated() { if x < w { return k }; x -= w }
            return weights.count - 1
        }
        var records: [[String: Any]] = []
        for seq in 1...800 {
            let skewed = seq > 400
            let label = skewed && seq % 5 != 0 ? "unknown" : reference.labels[draw(reference.labelShare)]
            var record = Batches.record(seq, text: label == "silence" ? "" : label)
            var body = record["record"] as! [String: Any], decision = body["decision"] as! [String: Any]
            let bin = skewed ? Int.random(in: 2...4, using: &generator) : draw(reference.confidenceHistogram.map(Double.init))
            decision["confidence"] = (Double(bin) + Double.random(in: 0.01..<0.99, using: &generator)) / 10
            body["decision"] = decision
            record["record"] = body
            records.append(record)
        }
        #expect(await rig.send(try SyncClient.gzip(Batches.json(device: "dev-a", records: Array(records[..<400])))).0 == 200)
        let url = rig.url
        func skew() async throws -> [String: Any] {
            let result = try await offPool {
                try Programs.run(Programs.collector, ["drift", "--db", url, "--window", "400", "--baseline", manifest, "--model", "command-en@1.0.0", "--json"])
            }
            #expect(result.status == 0, "\(result.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: result.stdoutData) as? [String: Any])
        }
        let healthy = try await skew()
        #expect(healthy["drifted"] as? Bool == false, "\(healthy["columns"] ?? "")")
        #expect((healthy["reference"] as? String ?? "").contains("training baseline"))
        #expect(await rig.send(try SyncClient.gzip(Batches.json(device: "dev-a", records: Array(records[400...])))).0 == 200)
        let skewed = try await skew()
        #expect(Set(skewed["drifted_columns"] as? [String] ?? []) == ["confidence_bin", "label"])
        await rig.close()
    }

    @Test func databaseLocationsParse() throws {
        #expect(try DatabaseLocation("sqlite:/tmp/a.db") == .sqlite(path: "/tmp/a.db"))
        #expect(try DatabaseLocation("postgres://u:p@db.example:6543/fleet?schema=s1")
            == .postgres(host: "db.example", port: 6543, user: "u", password: "p", database: "fleet", schema: "s1"))
        #expect(throws: CollectorError.self) { try DatabaseLocation("mysql://x") }
        #expect(throws: CollectorError.self) { try DatabaseLocation("sqlite:") }
        #expect(throws: CollectorError.self) { try DatabaseLocation("postgres://u@h/db?schema=a;drop") }
    }
}
