import EarshotMonitoring
import EarshotSpool
import EarshotTestSupport
import Foundation
import Glibc
import Testing

/// The spool on real SQLite files: group commit, paging, acknowledgements, bounds, and damaged files.
@Suite("spool")
struct SpoolTests {
    static func body(_ i: Int, bytes: Int = 200) -> Data {
        Data(("{\"i\":\(i),\"decision\":{\"confidence\":0.5,\"automation\":\"reject\",\"latency_ms\":2,\"input\":{\"rms_dbfs\":-30}},\"pad\":\""
              + String(repeating: "p", count: bytes) + "\"}").utf8)
    }

    @Test func recordsCommitInOrderAndPageThroughTheBacklog() throws {
        let directory = Fixtures.temporaryDirectory("spool-basic")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = Spool.Configuration(directory: directory)
        configuration.batchSize = 64
        let spool = try Spool(configuration)
        for i in 1...1_000 { #expect(spool.append(Self.body(i), waitIfFull: true)) }
        #expect(spool.flush())
        #expect(spool.committedSequence == 1_000)
        var seen: [Int64] = []
        var last: Int64 = 0
        while true {
            let page = try spool.records(after: last, limit: 300)
            guard let tail = page.last else { break }
            seen += page.map(\.sequence)
            last = tail.sequence
            #expect(page.allSatisfy { $0.epoch == 1 && $0.kind == "decision" })
        }
        #expect(seen == Array(1...1_000))
        #expect(try spool.records(after: 41, limit: 1).first?.body == Self.body(42))
        try spool.acknowledge(through: 600)
        let status = try spool.status()
        #expect(status.records == 1_000 && status.backlog == 400 && status.acknowledgedSequence == 600 && status.dropped == 0 && status.lastSync != nil)
        spool.close()
        // Reopened: the same device, epoch and sequence go on.
        let again = try Spool(configuration)
        #expect(again.deviceID == spool.deviceID && again.epoch == 1 && again.committedSequence == 1_000)
        again.append(Self.body(1_001))
        again.flush()
        #expect(try again.latest(1).first?.sequence == 1_001)
        again.close()
        #expect(throws: SpoolError.self) { try again.status() }      // an error, not a trap
        #expect(!again.append(Self.body(0)))
    }

    /// Over its byte bound the spool first removes acknowledged records, then the oldest unacknowledged ones,
    /// counted as dropped; sequence numbers are never reused.
    @Test func boundsRemoveAcknowledgedRecordsFirstAndCountWhatIsLost() throws {
        let directory = Fixtures.temporaryDirectory("spool-bounds")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = Spool.Configuration(directory: directory)
        configuration.maximumBytes = 100 * 1_000
        configuration.batchSize = 50
        let spool = try Spool(configuration)
        for i in 1...80 { spool.append(Self.body(i, bytes: 980), waitIfFull: true) }     // ~1 kB each: 80 kB, under the bound
        spool.flush()
        try spool.acknowledge(through: 50)
        for i in 81...130 { spool.append(Self.body(i, bytes: 980), waitIfFull: true) }   // 130 kB: over by ~30 kB
        spool.flush()
        var status = try spool.status()
        #expect(status.dropped == 0, "acknowledged records should have made the room")
        let firstKept = try spool.records(after: 0, limit: 1).first?.sequence
        #expect(status.records == 80 && firstKept == 51)
        for i in 131...200 { spool.append(Self.body(i, bytes: 980), waitIfFull: true) }
        spool.flush()
        status = try spool.status()
        #expect(status.bytes <= configuration.maximumBytes && status.dropped > 0, "\(status)")
        #expect(status.records + status.dropped + 50 == 200, "\(status)")
        let newest = try spool.latest(1).first?.sequence
        #expect(status.committedSequence == 200 && newest == 200)
        // What the dropped records said survives as hourly sums.
        let rollups = try spool.rollups()
        let n = rollups.reduce(0) { $0 + $1.records }
        #expect(n == status.dropped && rollups.allSatisfy { $0.kind == "decision" })
        #expect(rollups.reduce(0) { $0 + $1.confidenceSum } == 0.5 * Double(n) && rollups.reduce(0) { $0 + $1.nullResults } == n)
        #expect(rollups.reduce(0) { $0 + $1.latencyMsSum } == 2 * Double(n) && rollups.reduce(0) { $0 + $1.rmsDBFSSum } == -30 * Double(n))
        spool.close()
    }

    /// A database that is not a database, or one whose pages are damaged, is moved aside and counted; a new epoch
    /// starts, the device id stays, and nothing crashes.
    @Test(arguments: ["garbage", "flipped", "truncated-wal"])
    func damagedDatabasesAreQuarantined(damage: String) throws {
        let directory = Fixtures.temporaryDirectory("spool-corrupt")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = Spool.Configuration(directory: directory)
        configuration.batchSize = 500
        let first = try Spool(configuration)
        for i in 1...3_000 { first.append(Self.body(i), waitIfFull: true) }
        first.flush()
        let device = first.deviceID
        if damage == "truncated-wal" {
            // As a power cut leaves it: the files copied while the database is open, the WAL cut short.
            let crashed = directory + "/crashed"
            try FileManager.default.createDirectory(atPath: crashed, withIntermediateDirectories: true)
            for name in ["spool.sqlite", "spool.sqlite-wal", "device-id"] {
                try FileManager.default.copyItem(atPath: directory + "/" + name, toPath: crashed + "/" + name)
            }
            first.close()
            let wal = try Data(contentsOf: URL(fileURLWithPath: crashed + "/spool.sqlite-wal"))
            #expect(wal.count > 100_000)
            try wal.prefix(wal.count / 3).write(to: URL(fileURLWithPath: crashed + "/spool.sqlite-wal"))
            let recovered = try Spool(Spool.Configuration(directory: crashed))
            defer { recovered.close() }
            let status = try recovered.status()
            // SQLite keeps the WAL frames whose checksums hold: a prefix of the committed records, all intact.
            #expect(status.corrupt == 0 && status.records < 3_000 && recovered.deviceID == device, "\(status)")
            let kept = try recovered.records(after: 0, limit: 5_000)
            #expect(kept.map(\.sequence) == Array(1...Int64(kept.count)) && kept.enumerated().allSatisfy { $0.element.body == Self.body($0.offset + 1) })
            recovered.append(Self.body(0))
            #expect(recovered.flush() && recovered.committedSequence == Int64(kept.count) + 1)
            return
        }
        first.close()
        let path = directory + "/spool.sqlite"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        switch damage {
        case "garbage": bytes = Data(repeating: 0x5A, count: bytes.count)
        case "flipped":
            var generator = SeededGenerator(seed: 3)
            // Flip bytes across the b-tree pages (past the 100-byte header).
            for _ in 0..<400 { let i = Int.random(in: 4_096..<bytes.count, using: &generator); bytes[i] ^= 0xFF }
        default: break
        }
        try bytes.write(to: URL(fileURLWithPath: path))
        let reopened = try Spool(configuration)
        defer { reopened.close() }
        let status = try reopened.status()
        #expect(status.corrupt == 1 && reopened.epoch == 2 && status.records == 0, "\(status)")
        #expect(reopened.drainNotes().contains { $0.contains("moved to") })
        let quarantine = try FileManager.default.contentsOfDirectory(atPath: directory + "/quarantine")
        #expect(quarantine.count == 1)
        #expect(reopened.deviceID == device)
        reopened.append(Self.body(1))
        #expect(reopened.flush())
    }
}

/// A full disk, on a real 4 MB tmpfs: the spool keeps running, loses (and counts) only what it must, and carries on
/// normally when space comes back. Needs root for the mount (CI runs as root).
@Suite("spool on a full disk", .serialized)
struct SpoolFullDiskTests {
    @Test func aFullDiskCostsCountedRecordsNotTheProcess() throws {
        let directory = Fixtures.temporaryDirectory("spool-full")
        defer { _ = try? Programs.run("/bin/umount", [directory]); try? FileManager.default.removeItem(atPath: directory) }
        let mount = try Programs.run("/bin/mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", directory])
        try #require(mount.status == 0, "mounting a tmpfs needs root: \(mount.stderr)")
        var configuration = Spool.Configuration(directory: directory + "/spool")
        configuration.reserveBytes = 128 * 1_024
        configuration.ballastBytes = 512 * 1_024
        configuration.batchSize = 100
        let spool = try Spool(configuration)
        defer { spool.close() }
        #expect(FileManager.default.fileExists(atPath: directory + "/spool/ballast"))
        for i in 1...1_500 { spool.append(SpoolTests.body(i, bytes: 900), waitIfFull: true) }
        spool.flush()
        #expect(try spool.status().dropped == 0)
        // Another program fills the disk.
        let filler = directory + "/filler"
        let fd = open(filler, O_CREAT | O_WRONLY, 0o600)
        let block = [UInt8](repeating: 7, count: 65_536)
        while write(fd, block, block.count) > 0 {}
        close(fd)
        for i in 1_501...3_000 { spool.append(SpoolTests.body(i, bytes: 900), waitIfFull: true) }
        #expect(spool.flush(timeout: 60))
        let full = try spool.status()
        #expect(full.dropped > 0 && full.committedSequence >= 1_500, "\(full)")
        #expect(full.records + full.dropped == 3_000, "every record is stored or counted: \(full)")
        // Space returns: new records commit without further loss, and the ballast is back.
        try FileManager.default.removeItem(atPath: filler)
        let before = try spool.status()
        for i in 3_001...3_100 { spool.append(SpoolTests.body(i, bytes: 900), waitIfFull: true) }
        spool.flush()
        let after = try spool.status()
        #expect(after.dropped == before.dropped && after.committedSequence == before.committedSequence + 100, "\(before) → \(after)")
        #expect(try spool.latest(1).first?.body == SpoolTests.body(3_100, bytes: 900))
        #expect(FileManager.default.fileExists(atPath: directory + "/spool/ballast"))
    }
}
