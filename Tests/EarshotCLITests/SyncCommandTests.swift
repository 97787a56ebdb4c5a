import EarshotTestSupport
import Foundation
import Testing

/// `earshot run --spool` then `earshot sync --now` to a real collector on 127.0.0.1, as a device's timer would.
@Suite("earshot sync")
struct SyncCommandTests {
    @Test func runThenSyncDeliversEveryDecisionAndAFailedSyncKeepsTheBacklog() throws {
        let directory = Fixtures.temporaryDirectory("cli-sync")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = directory + "/spool"
        let path = try TranscribeCommandTests.recording(["stop", "seven", "forward"], in: directory)
        #expect(try Programs.earshot(["run", "--audio", path, "--spool", spool]).status == 0)
        // No collector yet: exit 75 after the timeout, nothing lost.
        let dead = try CollectorStub(database: directory + "/collector.sqlite")
        let port = dead.port
        dead.kill()
        let failed = try Programs.earshot(["sync", "--now", "--spool", spool, "--collector", "http://127.0.0.1:\(port)", "--token", "device-token", "--timeout", "2"])
        #expect(failed.status == 75 && failed.stderr.contains("the backlog is kept"), "\(failed.stderr)")
        let collector = try CollectorStub(database: directory + "/collector.sqlite", port: port)
        let synced = try Programs.earshot(["sync", "--now", "--spool", spool, "--collector", collector.url.absoluteString],
                                          environment: ["EARSHOT_TOKEN": "device-token"])
        #expect(synced.status == 0 && synced.stdout.contains("synced 3 records") && synced.stdout.contains("backlog 0"), "\(synced.stdout)\(synced.stderr)")
        let status = try Programs.earshot(["spool", "status", "--spool", spool, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: status.stdoutData) as? [String: Any])
        #expect((object["backlog"] as? Int) == 0 && (object["records"] as? Int) == 3)
        #expect(try collector.devices().values.map(\.records) == [3])
        #expect(try Programs.earshot(["sync", "--spool", spool]).status == 64)
    }
}
