import EarshotTestSupport
import Foundation
import Testing

/// Deploy/systemd/earshot.service: systemd itself accepts it (with the built binary in ExecStart), and it keeps the
/// properties the runtime relies on.
@Suite("systemd unit")
struct DeployTests {
    @Test func systemdAcceptsTheUnitAndItKeepsItsPromises() throws {
        let unit = try String(contentsOfFile: Fixtures.packageRoot + "/Deploy/systemd/earshot.service", encoding: .utf8)
        for line in ["Type=notify", "NotifyAccess=main", "WatchdogSec=", "Restart=on-failure", "StartLimitIntervalSec=", "StartLimitBurst=",
                     "DeviceAllow=char-alsa rw", "SupplementaryGroups=audio", "ProtectSystem=strict", "--metrics-port"] {
            #expect(unit.contains(line), "missing \(line)")
        }
        #expect(!unit.contains("PrivateDevices=yes"), "PrivateDevices hides the sound devices")
        let directory = Fixtures.temporaryDirectory("unit")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let copy = directory + "/earshot.service"
        try unit.replacingOccurrences(of: "/usr/local/bin/earshot", with: Programs.earshot).write(toFile: copy, atomically: true, encoding: .utf8)
        let result = try Programs.run("/usr/bin/systemd-analyze", ["verify", copy])
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result.stderr)")
    }
}
