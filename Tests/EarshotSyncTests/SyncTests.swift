import EarshotSpool
import EarshotSync
import EarshotTestSupport
import Foundation
import Testing

/// Sync against a real HTTP collector on 127.0.0.1 (scripts/test/collector_stub.py, the contract of docs/SYNC.md):
/// batches, acknowledgements, a collector that is down, connections cut after the write, and refusals.
@Suite("sync", .serialized)
struct SyncTests {
    static func spool(_ directory: String, records: Int) throws -> Spool {
        let spool = try Spool(Spool.Configuration(directory: directory + "/spool"))
        for i in 1...records {
            spool.append(Data("{\"schema\":1,\"decision\":{\"id\":\"r-\(i)\",\"text\":\"stop\",\"confidence\":0.9}}".utf8), waitIfFull: true)
        }
        spool.flush()
        return spool
    }

    @Test func theBacklogArrivesInBatchesAndIsAcknowledged() throws {
        let directory = Fixtures.temporaryDirectory("sync-basic")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try Self.spool(directory, records: 2_500)
        defer { spool.close() }
        let collector = try CollectorStub(database: directory + "/collector.sqlite")
        let client = SyncClient(spool: spool, collector: collector.url, token: "device-token")
        var reports: [Int] = []
        let progress = try client.drain { reports.append($0.records) }
        #expect(progress.batches == 3 && progress.records == 2_500 && progress.acknowledged == 2_500 && reports == [1_000, 2_000, 2_500])
        #expect(progress.wireBytes * 5 < progress.jsonBytes, "gzip: \(progress.wireBytes) of \(progress.jsonBytes) bytes")
        let status = try spool.status()
        #expect(status.backlog == 0 && status.acknowledgedSequence == 2_500 && status.lastSync != nil)
        #expect(try collector.devices()[spool.deviceID]?.records == 2_500)
        #expect(try client.drain().records == 0)      // nothing left to send
    }

    /// The collector is down for a while: nothing is lost or acknowledged; when it is back (same port and database),
    /// everything arrives exactly once, including what arrived while a connection was cut after the write.
    @Test func aDownOrCutCollectorGetsEverythingExactlyOnce() throws {
        let directory = Fixtures.temporaryDirectory("sync-down")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try Self.spool(directory, records: 3_200)
        defer { spool.close() }
        let database = directory + "/collector.sqlite"
        let first = try CollectorStub(database: database)
        let port = first.port
        first.kill()
        let client = SyncClient(spool: spool, collector: first.url, token: "device-token")
        client.timeout = 2
        do { try client.drain(); Issue.record("a dead collector acknowledged") } catch { #expect(error.kind == .transient) }
        #expect(try spool.status().backlog == 3_200)
        // Back, but every second answer is lost after the batch was stored.
        let cutting = try CollectorStub(database: database, port: port, mode: "cut")
        var attempts = 0, failures = 0
        while try spool.status().backlog > 0 && attempts < 20 {
            attempts += 1
            do { try client.drain() } catch { failures += 1; #expect(error.kind == .transient) }
        }
        let backlog = try spool.status().backlog
        #expect(failures > 0 && backlog == 0)
        let stored = try #require(try cutting.devices()[spool.deviceID])
        #expect(stored.records == 3_200 && stored.duplicates > 0, "\(stored)")    // resent batches were not stored twice
    }

    /// A network that cuts the first three uploads half-way through the body (a proxy between device and collector):
    /// those attempts fail, nothing half-sent is stored or acknowledged, and the retries deliver everything once.
    @Test func uploadsCutMidBatchAreSentAgainAndStoredOnce() throws {
        let directory = Fixtures.temporaryDirectory("sync-proxy")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try Self.spool(directory, records: 2_500)
        defer { spool.close() }
        let collector = try CollectorStub(database: directory + "/collector.sqlite")
        let proxy = try LoopbackServer(script: "cutting_proxy.py", arguments: ["--target", String(collector.port), "--after", "3000", "--cuts", "3"])
        let client = SyncClient(spool: spool, collector: URL(string: "http://127.0.0.1:\(proxy.port)")!, token: "device-token")
        client.timeout = 5
        var failures = 0, attempts = 0
        while try spool.status().backlog > 0 && attempts < 10 {
            attempts += 1
            do { try client.drain() } catch { failures += 1; #expect(error.kind == .transient, "\(error)") }
        }
        #expect(failures == 3)
        let stored = try #require(try collector.devices()[spool.deviceID])
        #expect(stored.records == 2_500 && stored.duplicates == 0, "\(stored)")
    }

    @Test func permanentRefusalsGoToTheDeadLetterTable() throws {
        let directory = Fixtures.temporaryDirectory("sync-reject")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try Self.spool(directory, records: 1_200)
        defer { spool.close() }
        let collector = try CollectorStub(database: directory + "/collector.sqlite", token: "right")
        let wrongToken = SyncClient(spool: spool, collector: collector.url, token: "wrong")
        let progress = try wrongToken.drain()
        #expect(progress.deadLettered == 1_200 && progress.acknowledged == 1_200)
        let status = try spool.status()
        #expect(status.deadLetter == 1_200 && status.backlog == 0)
        #expect(try collector.devices().isEmpty)
    }
}
