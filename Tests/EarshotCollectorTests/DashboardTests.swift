@testable import EarshotCollector
@testable import EarshotSync
import EarshotTestSupport
import Foundation
import Testing

/// The dashboard served by a real `earshot-collector serve`, rendered by headless Chromium (Debian's `chromium`), and
/// checked for what a person would see: the fleet's cards, a heat map whose drifted cell is the device that changed,
/// the firing alarm and the held model, a device page with reference/current histograms, and the token guard.
@Suite("collector dashboard", .serialized)
struct DashboardTests {
    static func chromium(_ arguments: [String], directory: String) async throws -> ProcessResult {
        try await offPool {
            try Programs.run("/usr/bin/chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                                   "--user-data-dir=\(directory)/chromium-profile"] + arguments, timeout: 90)
        }
    }

    @Test func pagesShowTheFleetInABrowser() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium"),
                     "Debian's chromium is missing: scripts/install-deps.sh test installs it")
        let rig = try await IngestTests.Rig("sqlite")
        defer { try? FileManager.default.removeItem(atPath: rig.directory) }
        var generator = SeededGenerator(seed: 9)
        // Three devices; van-2's input gets 9 dB louder halfway.
        for (index, name) in ["van-0", "van-1", "van-2"].enumerated() {
            let token = DeviceToken.generate()
            _ = try await rig.store.addDevice(name: name, tokenHash: DeviceToken.hash(token), deviceID: nil, site: index < 2 ? "north" : "south", hardware: "pi4")
            let records = (1...400).map { seq in
                Batches.record(seq, rms: -34 + Double.random(in: -4...4, using: &generator) + (index == 2 && seq > 200 ? 9 : 0))
            }
            #expect(await rig.send(try SyncClient.gzip(Batches.json(device: "dev-\(index)", records: records)), token: token).0 == 200)
        }
        let rules = try AlarmConfiguration(yaml: "alarms:\n  rules:\n    - name: loud-input\n      metric: drift\n      column: rms_dbfs\n      scope: device\n      action: hold-rollout\n")
        #expect(try await AlarmEngine(store: rig.store, configuration: rules).evaluate().map(\.subject) == ["van-2"])
        await rig.store.close()

        let url = rig.url
        let server = try await offPool { try ServeProcess(["--db", url, "--dashboard-token", "s3cret"], program: Programs.collector) }
        #expect(try await offPool { try server.request("/") }.status == 401)
        #expect(try await offPool { try server.request("/", headers: ["Authorization": "Bearer s3cret"]) }.status == 200)
        #expect(try await offPool { try server.request("/devices/nobody?token=s3cret") }.status == 404)

        let fleet = try await Self.chromium(["--dump-dom", server.base + "/?token=s3cret"], directory: rig.directory)
        #expect(fleet.status == 0, "\(fleet.stderr.suffix(500))")
        let dom = fleet.stdout
        #expect(dom.contains("<h1>Fleet</h1>") && dom.contains("van-0") && dom.contains("van-1") && dom.contains("van-2"))
        // Two drifted cells: van-2's loudness, and that of its cohort (site south, where van-2 is alone).
        #expect(dom.components(separatedBy: "class=\"cell drifted\"").count - 1 == 2)
        #expect(dom.contains("site: south · rms_dbfs: DRIFT") && !dom.contains("site: north · rms_dbfs: DRIFT"))
        #expect(dom.contains("van-2 · rms_dbfs: DRIFT") && !dom.contains("van-0 · rms_dbfs: DRIFT"))
        #expect(dom.contains("loud-input") && dom.contains(">firing<") && dom.contains("Held: <a href=\"/models/command-en@1.0.0\""))
        #expect(dom.contains("1 firing") && dom.contains("<svg") && dom.contains("aria-label=\"latency\""))
        #expect(dom.contains(">site: north<") && dom.contains(">site: south<") && dom.contains(">hardware: pi4<"))

        let device = try await Self.chromium(["--dump-dom", server.base + "/devices/van-2?token=s3cret"], directory: rig.directory)
        // Histograms for the columns these records carry (loudness, SNR, confidence, latency); the others say so.
        #expect(device.stdout.components(separatedBy: "class=\"histogram\"").count - 1 == 4 && device.stdout.contains("aria-label=\"rms_dbfs\""))
        #expect(device.stdout.contains("not enough values"))
        #expect(device.stdout.contains("<strong class=\"bad\">DRIFT</strong>"))
        let model = try await Self.chromium(["--dump-dom", server.base + "/models/command-en@1.0.0?token=s3cret"], directory: rig.directory)
        #expect(model.stdout.contains("Held from rollouts by alarm loud-input"))

        // The page really paints: a screenshot with content, not a blank sheet.
        let shot = rig.directory + "/fleet.png"
        _ = try await Self.chromium(["--window-size=1400,1600", "--screenshot=\(shot)", server.base + "/?token=s3cret"], directory: rig.directory)
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 30_000, "\(png.count) bytes")
        let metrics = String(decoding: try await offPool { try server.request("/metrics") }.body, as: UTF8.self)
        #expect(metrics.contains("earshot_collector_page_seconds_count"))
        #expect(try await offPool { server.terminate() } == 0)
    }
}
