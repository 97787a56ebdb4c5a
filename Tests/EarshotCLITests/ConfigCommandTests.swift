import EarshotTestSupport
import Foundation
import Testing

/// The config file as `earshot run` and `earshot config check` read it: file < environment < flags.
@Suite("earshot config", .serialized)
struct ConfigCommandTests {
    @Test func checkPrintsTheSettingsOrEveryProblemWithItsLine() throws {
        let directory = Fixtures.temporaryDirectory("cli-config")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "cloud:\n  url: http://127.0.0.1:9/v1/audio/transcriptions\n  token: s3cret\nautomation:\n  level: assist\n".write(toFile: directory + "/good.yaml", atomically: true, encoding: .utf8)
        let good = try Programs.earshot(["config", "check", directory + "/good.yaml"])
        #expect(good.status == 0 && good.stdout.contains("\"automation\" : \"assist\"") && !good.stdout.contains("s3cret"), "\(good.stdout)\(good.stderr)")
        try "input:\n  device: default\nclod:\n  url: x\nautomation:\n  accept_at: 2\n".write(toFile: directory + "/bad.yaml", atomically: true, encoding: .utf8)
        let bad = try Programs.earshot(["config", "check", directory + "/bad.yaml"])
        #expect(bad.status == 65 && bad.stderr.contains("bad.yaml:3:1: unknown section \"clod\"") && bad.stderr.contains("bad.yaml:6:14: automation.accept_at: 2.0 is outside"), "\(bad.stderr)")
        #expect(try Programs.earshot(["config", "check", directory + "/missing.yaml"]).status == 66)
        let environment = try Programs.earshot(["config", "check", directory + "/good.yaml"], environment: ["EARSHOT_QUEUE": "lots"])
        #expect(environment.status == 65 && environment.stderr.contains("EARSHOT_QUEUE"))
        #expect(try Programs.earshot(["run", "--audio", "x.wav", "--config", directory + "/bad.yaml"]).status == 65)
    }

    /// The file points at a cloud with cloud-first; the environment turns it off; a flag turns it back on.
    @Test func runLayersFileEnvironmentAndFlags() throws {
        let directory = Fixtures.temporaryDirectory("cli-config-run")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try TranscriptionServer("say", text: "stop")
        try "cloud:\n  url: \(server.url.absoluteString)\n  policy: cloud-first\n  format: json\n  budget_ms: 60000\n  timeout_ms: 30000\n".write(toFile: directory + "/earshot.yaml", atomically: true, encoding: .utf8)
        let path = try TranscribeCommandTests.recording(["stop", "seven"], in: directory)
        func sources(_ result: ProcessResult) -> [String] {
            result.stdout.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["source"] as? String }
        }
        let file = try Programs.earshot(["run", "--audio", path, "--config", directory + "/earshot.yaml"])
        #expect(file.status == 0 && sources(file) == ["cloud", "cloud"], "\(file.stderr)")
        let env = try Programs.earshot(["run", "--audio", path], environment: ["EARSHOT_CONFIG": directory + "/earshot.yaml", "EARSHOT_POLICY": "local-only"])
        #expect(env.status == 0 && sources(env) == ["local", "local"], "\(env.stderr)")
        let flag = try Programs.earshot(["run", "--audio", path, "--policy", "cloud-first"],
                                        environment: ["EARSHOT_CONFIG": directory + "/earshot.yaml", "EARSHOT_POLICY": "local-only"])
        #expect(flag.status == 0 && sources(flag) == ["cloud", "cloud"], "\(flag.stderr)")
    }
}
