import EarshotMonitoring
import EarshotSpool
import EarshotTestSupport
import Foundation
import Glibc
import Testing

/// The real programs end to end: `earshot-collector serve` on 127.0.0.1 over each storage engine, devices registered
/// with `earshot-collector devices add`, and a device's spool uploaded by `earshot sync --now`, through a collector
/// killed with SIGKILL in the middle and started again.
@Suite("collector processes", .serialized)
struct CollectorProcessTests {
    static func collector(_ arguments: [String]) throws -> ProcessResult { try Programs.run(Programs.collector, arguments) }

    /// A spool holding `count` decision records shaped as `earshot run` writes them.
    static func spool(_ directory: String, count: Int) throws -> String {
        let path = directory + "/spool"
        let spool = try Spool(Spool.Configuration(directory: path))
        for i in 1...count {
            let record = try JSONSerialization.data(withJSONObject: Batches.record(i)["record"]!)
            spool.append(record, waitIfFull: true)
        }
        spool.flush()
        spool.close()
        return path
    }

    static func devices(_ db: String) throws -> [[String: Any]] {
        let list = try collector(["devices", "list", "--db", db, "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: list.stdoutData) as? [[String: Any]])
    }

    @Test(arguments: Engines.all)
    func aDeviceSyncsThroughACollectorKilledMidway(_ engine: String) throws {
        let directory = Fixtures.temporaryDirectory("collector-e2e-\(engine)")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let db = Engines.url(engine, directory: directory)
        let added = try Self.collector(["devices", "add", "van-7", "--db", db, "--site", "north"])
        #expect(added.status == 0, "\(added.stderr)")
        let token = try #require(added.stdout.split(separator: "\n").last.map(String.init))
        #expect(token.hasPrefix("esd_") && token.count > 40)
        #expect(try Self.collector(["devices", "add", "van-7", "--db", db]).status == 64)      // names are unique
        let spool = try Self.spool(directory, count: 6_000)

        // The collector dies (SIGKILL) while the device is uploading; what it acknowledged is stored, the rest is not.
        var server = try ServeProcess(["--db", db], program: Programs.collector)
        let syncing = Process()
        syncing.executableURL = URL(fileURLWithPath: Programs.earshot)
        syncing.arguments = ["sync", "--now", "--spool", spool, "--collector", server.base, "--token", token, "--timeout", "1"]
        syncing.standardError = FileHandle.nullDevice
        try syncing.run()
        usleep(150_000)
        _ = Glibc.kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
        syncing.waitUntilExit()
        let partial = try Self.devices(db).first?["records"] as? Int ?? 0
        #expect(partial < 6_000, "the collector was killed after everything arrived; the test proves nothing")

        // Back on a new port: the rest arrives, nothing twice.
        server = try ServeProcess(["--db", db], program: Programs.collector)
        let sync = try Programs.earshot(["sync", "--now", "--spool", spool, "--collector", server.base, "--token", token])
        #expect(sync.status == 0, "\(sync.stderr)")
        let device = try #require(try Self.devices(db).first)
        #expect(device["name"] as? String == "van-7" && device["records"] as? Int == 6_000 && device["site"] as? String == "north")
        #expect((device["device_id"] as? String)?.isEmpty == false)
        let status = try Programs.earshot(["spool", "status", "--spool", spool, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: status.stdoutData) as? [String: Any])
        #expect(object["backlog"] as? Int == 0, "\(status.stdout)")
        // The collector's own metrics count what it stored.
        let metrics = String(decoding: try server.request("/metrics").body, as: UTF8.self)
        #expect(metrics.contains("earshot_collector_records_stored_total"))

        // Revoked: the next upload is refused for good (exit 0 with the batch dead-lettered is the device's contract).
        #expect(try Self.collector(["devices", "revoke", "van-7", "--db", db]).status == 0)
        let refused = try server.request("/v1/ingest", method: "POST", headers: ["Authorization": "Bearer \(token)"], body: Data("{}".utf8))
        #expect(refused.status == 401)
        #expect(server.terminate() == 0)
    }

    /// A device whose spool overflowed before it could sync: the records it dropped arrive as hourly roll-ups with the
    /// next batch, so the collector still counts them (and knows what they said), on both engines.
    @Test(arguments: Engines.all)
    func droppedRecordsArriveAsRollups(_ engine: String) throws {
        let directory = Fixtures.temporaryDirectory("collector-rollups-\(engine)")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = Spool.Configuration(directory: directory + "/spool")
        configuration.maximumBytes = 200_000
        configuration.batchSize = 50
        let spool = try Spool(configuration)
        for i in 1...600 {
            spool.append(try JSONSerialization.data(withJSONObject: Batches.record(i)["record"]!), waitIfFull: true)
        }
        spool.flush()
        let dropped = try spool.status().dropped
        let rolled = try spool.rollups().reduce(0) { $0 + $1.records }
        spool.close()
        try #require(dropped > 0 && rolled == dropped, "the spool should have dropped and rolled up records: \(dropped), \(rolled)")
        let db = Engines.url(engine, directory: directory)
        let token = try #require(try Self.collector(["devices", "add", "full-box", "--db", db]).stdout.split(separator: "\n").last.map(String.init))
        let server = try ServeProcess(["--db", db], program: Programs.collector)
        for round in 0..<2 {   // twice: the roll-ups go again with the second sync's first batch, and still count once
            if round == 1 {
                let again = try Spool(configuration)
                for i in 601...605 { again.append(try JSONSerialization.data(withJSONObject: Batches.record(i)["record"]!), waitIfFull: true) }
                again.flush()
                again.close()
            }
            let sync = try Programs.earshot(["sync", "--now", "--spool", directory + "/spool", "--collector", server.base, "--token", token])
            #expect(sync.status == 0, "\(sync.stderr)")
        }
        let device = try #require(try Self.devices(db).first)
        #expect(device["rolled_up"] as? Int == Int(dropped) && device["dropped"] as? Int == Int(dropped))
        #expect(device["records"] as? Int == 605 - Int(dropped))
        #expect(server.terminate() == 0)
    }

    /// Two stateless collectors in front of one PostgreSQL database, one device's batches sent to both at once (a
    /// resend through the other collector, as a load balancer would route it): every record once, both answers agree.
    @Test func twoCollectorsShareOnePostgres() throws {
        let directory = Fixtures.temporaryDirectory("collector-pair")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let db = Engines.url("postgres", directory: directory)
        let token = try #require(try Self.collector(["devices", "add", "pair-box", "--db", db]).stdout.split(separator: "\n").last.map(String.init))
        let first = try ServeProcess(["--db", db], program: Programs.collector)
        let second = try ServeProcess(["--db", db], program: Programs.collector)
        let batches = (0..<20).map { k in Batches.gzip(device: "pair-dev", (k * 100 + 1)...(k * 100 + 100)) }
        final class Answers: @unchecked Sendable { let lock = NSLock(); var list: [(Int, [String: Any])] = [] }
        let answers = Answers()
        DispatchQueue.concurrentPerform(iterations: 40) { i in
            let server = i % 2 == 0 ? first : second
            let reply = try? server.request("/v1/ingest", method: "POST", headers: ["Authorization": "Bearer \(token)", "Content-Encoding": "gzip"],
                                            body: batches[i / 2])
            let object = reply.flatMap { try? JSONSerialization.jsonObject(with: $0.body) as? [String: Any] } ?? [:]
            answers.lock.lock(); answers.list.append((reply?.status ?? 0, object)); answers.lock.unlock()
        }
        let failures = answers.list.filter { $0.0 != 200 }.map { "\($0.0) \($0.1)" }
        #expect(failures.isEmpty, "\(failures.prefix(2))")
        let stored = answers.list.reduce(0) { $0 + ($1.1["stored"] as? Int ?? 0) }
        let duplicates = answers.list.reduce(0) { $0 + ($1.1["duplicates"] as? Int ?? 0) }
        #expect(stored == 2_000 && duplicates == 2_000)
        let device = try #require(try Self.devices(db).first)
        #expect(device["records"] as? Int == 2_000 && device["duplicates"] as? Int == 2_000)
        #expect(first.terminate() == 0 && second.terminate() == 0)
    }

    /// HTTPS with a certificate and key: plain HTTP is refused, a device that does not trust the certificate keeps its
    /// backlog (exit 75), and one that does (the certificate as its system trust store, bind-mounted in a private mount
    /// namespace so the host is untouched) uploads everything.
    @Test func tlsIsServedAndVerified() throws {
        let directory = Fixtures.temporaryDirectory("collector-tls")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let made = try Programs.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", directory + "/key.pem",
                                                         "-out", directory + "/cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1",
                                                         "-addext", "subjectAltName=IP:127.0.0.1"])
        try #require(made.status == 0, "openssl: \(made.stderr)")
        let db = "sqlite:\(directory)/c.db"
        let token = try #require(try Self.collector(["devices", "add", "tls-box", "--db", db]).stdout.split(separator: "\n").last.map(String.init))
        let spool = try Self.spool(directory, count: 300)
        let server = try ServeProcess(["--db", db, "--tls-cert", directory + "/cert.pem", "--tls-key", directory + "/key.pem"], program: Programs.collector)
        #expect(server.banner.contains("https://127.0.0.1:"))
        let https = "https://127.0.0.1:\(server.port)"
        #expect(try Programs.run("/usr/bin/curl", ["-sf", "--cacert", directory + "/cert.pem", https + "/healthz"]).stdout.contains("ok"))
        #expect(try Programs.run("/usr/bin/curl", ["-sf", "http://127.0.0.1:\(server.port)/healthz"]).status != 0)
        let untrusted = try Programs.earshot(["sync", "--now", "--spool", spool, "--collector", https, "--token", token, "--timeout", "1"])
        #expect(untrusted.status == 75 && untrusted.stderr.contains("certificate"), "\(untrusted.stderr)")
        let trusted = try Programs.run("/usr/bin/unshare", ["-m", "/bin/sh", "-c",
            "mount --bind \"$0\" /etc/ssl/certs/ca-certificates.crt && exec \"$1\" sync --now --spool \"$2\" --collector \"$3\" --token \"$4\"",
            directory + "/cert.pem", Programs.earshot, spool, https, token])
        #expect(trusted.status == 0, "\(trusted.stderr)")
        #expect(try Self.devices(db).first?["records"] as? Int == 300)
        let badKey = try Self.collector(["serve", "--port", "0", "--db", db, "--tls-cert", directory + "/cert.pem", "--tls-key", directory + "/none.pem"])
        #expect(badKey.status == 64 && badKey.stderr.contains("TLS key"))
        #expect(server.terminate() == 0)
    }

    @Test func badDatabasesAndNamesAreClearErrors() throws {
        let unreachable = try Self.collector(["devices", "list", "--db", "postgres://x:y@127.0.0.1:1/none"])
        #expect(unreachable.status == 69 && unreachable.stderr.contains("cannot use PostgreSQL") && unreachable.stderr.contains("refused"))
        let wrong = try Self.collector(["devices", "list", "--db", "mysql://h/db"])
        #expect(wrong.status == 64 && wrong.stderr.contains("sqlite:PATH or postgres://"))
        let directory = Fixtures.temporaryDirectory("collector-cli")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let badName = try Self.collector(["devices", "add", "no spaces", "--db", "sqlite:\(directory)/c.db"])
        #expect(badName.status == 64 && badName.stderr.contains("device name"))
        try Data("not a database, just text that is long enough to look like a header".utf8).write(to: URL(fileURLWithPath: directory + "/junk.db"))
        let junk = try Self.collector(["devices", "list", "--db", "sqlite:\(directory)/junk.db"])
        #expect(junk.status == 69 && junk.stderr.contains("junk.db"), "\(junk.stderr)")
    }

    /// `drift --json` prints one object: per column its statistics by name and a boolean `drifted`.
    @Test func driftOnTwoCSVFiles() throws {
        let directory = Fixtures.temporaryDirectory("collector-drift")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var generator = SeededGenerator(seed: 7)
        func gaussian(_ mean: Double, _ sd: Double) -> Double {
            let u1 = Double.random(in: 0.000001..<1, using: &generator), u2 = Double.random(in: 0..<1, using: &generator)
            return mean + sd * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
        }
        func csv(rows: Int, shift: Double, nullRate: Double) -> String {
            var text = "rms_dbfs,snr_db,label,site\n"
            for i in 0..<rows {
                let label = Double.random(in: 0..<1, using: &generator) < nullRate ? "" : ["yes", "no", "stop"][i % 3]
                text += String(format: "%.2f,%.2f,%@,%@\n", gaussian(-32 + shift, 5), gaussian(18, 6), label, "north")
            }
            return text
        }
        try csv(rows: 3_000, shift: 0, nullRate: 0.05).write(toFile: directory + "/a.csv", atomically: true, encoding: .utf8)
        try csv(rows: 3_000, shift: 3, nullRate: 0.05).write(toFile: directory + "/b.csv", atomically: true, encoding: .utf8)
        let result = try Self.collector(["drift", "--reference", directory + "/a.csv", "--current", directory + "/b.csv", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: result.stdoutData) as? [String: Any])
        let columns = try #require(report["columns"] as? [String: [String: Any]])
        #expect(columns["rms_dbfs"]?["drifted"] as? Bool == true && columns["rms_dbfs"]?["type"] as? String == "numeric")
        #expect(columns["snr_db"]?["drifted"] as? Bool == false)
        #expect(columns["label"]?["type"] as? String == "categorical" && columns["label"]?["drifted"] as? Bool == false)
        #expect(columns["label"]?["current_missing"] as? Int ?? 0 > 50)
        for key in ["ks_statistic", "ks_pvalue", "wasserstein", "wasserstein_normed", "psi", "jensenshannon", "p_value_adjusted"] {
            #expect(columns["rms_dbfs"]?[key] is Double, "\(key) missing")
        }
        #expect(columns["site"]?["chi2_pvalue"] as? Double == 1)
        #expect(report["drifted"] as? Bool == true && report["drifted_columns"] as? [String] == ["rms_dbfs"])
        // Forcing a type, and the exit code for scripts that want one.
        let forced = try Self.collector(["drift", "--reference", directory + "/a.csv", "--current", directory + "/b.csv",
                                         "--categorical", "site", "--columns", "rms_dbfs,site", "--fail-on-drift"])
        #expect(forced.status == 1 && forced.stdout.contains("DRIFT rms_dbfs"))
        let missing = try Self.collector(["drift", "--reference", directory + "/none.csv", "--current", directory + "/b.csv"])
        #expect(missing.status == 66)
        try "a,b\n1\n".write(toFile: directory + "/bad.csv", atomically: true, encoding: .utf8)
        let bad = try Self.collector(["drift", "--reference", directory + "/bad.csv", "--current", directory + "/b.csv"])
        #expect(bad.status == 65 && bad.stderr.contains("data row 1"))
    }
}
