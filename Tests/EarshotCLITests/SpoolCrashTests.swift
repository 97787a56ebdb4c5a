import EarshotTestSupport
import Foundation
import Glibc
import Testing

/// The spool under kill -9: a writer (`earshot spool bench`) prints its durable watermark as commits land and is
/// killed at random moments. After every kill, every record it called durable is there, sequence numbers are
/// contiguous with no duplicates, and the next writer carries on in the same epoch. `EARSHOT_CRASH_ITERATIONS` sets
/// the count (100 in `make test`; `make soak-spool` runs thousands).
@Suite("spool under kill -9")
struct SpoolCrashTests {
    @Test func everyDurableRecordSurvivesKillNine() throws {
        let iterations = Int(ProcessInfo.processInfo.environment["EARSHOT_CRASH_ITERATIONS"] ?? "") ?? 100
        let directory = Fixtures.temporaryDirectory("spool-kill")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var generator = SeededGenerator(seed: 2_026)
        var promised: Int64 = 0
        var kills = 0
        for _ in 0..<iterations {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Programs.earshot)
            process.arguments = ["spool", "bench", "--spool", directory, "--records", "1000000", "--bytes", "200", "--batch", String(Int.random(in: 1...300, using: &generator))]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(UInt32(Int.random(in: 20_000...250_000, using: &generator)))
            _ = Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            kills += process.terminationReason == .uncaughtSignal ? 1 : 0
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let watermark = text.split(separator: "\n").compactMap { $0.hasPrefix("committed ") ? Int64($0.dropFirst(10)) : nil }.max() ?? 0
            promised = max(promised, watermark)
            // Reopen as the next boot would and compare with what was promised.
            let status = try Programs.earshot(["spool", "status", "--spool", directory, "--json"])
            try #require(status.status == 0, "\(status.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: status.stdoutData) as? [String: Any])
            let records = (object["records"] as? NSNumber)?.int64Value ?? -1
            let committed = (object["committed_sequence"] as? NSNumber)?.int64Value ?? -1
            try #require(committed >= promised, "promised \(promised), found \(committed)")
            try #require(records == committed, "records \(records) vs sequence \(committed): a gap or a duplicate")
            try #require((object["corrupt"] as? NSNumber)?.intValue == 0 && (object["epoch"] as? NSNumber)?.intValue == 1)
            promised = committed
        }
        #expect(kills == iterations)
        #expect(promised > 0)
    }
}
