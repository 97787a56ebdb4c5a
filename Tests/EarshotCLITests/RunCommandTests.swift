import EarshotAudio
import EarshotTestSupport
import Foundation
import Testing

/// `earshot run` as scripts use it: JSON lines on stdout, one per decision, the summary on stderr.
@Suite("earshot run")
struct RunCommandTests {
    static let requiredKeys = ["id", "start", "end", "text", "confidence", "source", "offline", "automation", "latency_ms"]

    @Test func audioFileGivesOneJSONLinePerUtteranceAndExitsZeroAtItsEnd() throws {
        let directory = Fixtures.temporaryDirectory("cli-run")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try TranscribeCommandTests.recording(["stop", "seven", "forward"], in: directory)
        let result = try Programs.earshot(["run", "--audio", path])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        var ids = Set<String>()
        for (line, word) in zip(lines, ["stop", "seven", "forward"]) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
            for key in Self.requiredKeys { #expect(object[key] != nil, "missing \(key)") }
            #expect(object["text"] as? String == word)
            #expect(object["source"] as? String == "local" && object["offline"] as? Bool == false)
            #expect(["accept", "confirm", "reject"].contains(object["automation"] as? String ?? ""))
            #expect((object["latency_ms"] as? Double).map { $0 >= 0 } == true)
            ids.insert(object["id"] as? String ?? "")
        }
        #expect(ids.count == 3)
        #expect(result.stderr.contains("3 utterances, 3 decisions, 0 dropped"))
        // The automation level changes the action, not the answer.
        let shadow = try Programs.earshot(["run", "--audio", path, "--automation", "shadow"])
        #expect(shadow.stdout.split(separator: "\n").allSatisfy { $0.contains(#""automation":"reject""#) && $0.contains(#""automation_level":"shadow""#) })
    }

    @Test func rawPCMOnStdinWorksToo() throws {
        let directory = Fixtures.temporaryDirectory("cli-run-stdin")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try TranscribeCommandTests.recording(["status"], in: directory)
        let source = try ConvertingSource(try AudioFileReader(path: path))
        var samples: [Int16] = []
        while try source.read(appendingTo: &samples, maximum: 16_000) {}
        let raw = samples.withUnsafeBufferPointer { Data(buffer: $0) }
        let result = try Programs.earshot(["run", "--stdin", "--raw", "s16le:16000:1"], stdin: raw)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(#""text":"status""#))
    }

    @Test(arguments: [
        ["run"],
        ["run", "--audio", "a.wav", "--stdin"],
        ["run", "--audio", "a.wav", "--policy", "sometimes"],
        ["run", "--audio", "a.wav", "--automation", "maybe"],
        ["run", "--audio", "a.wav", "--confirm-at", "0.9", "--accept-at", "0.5"],
    ])
    func badUsageExits64(arguments: [String]) throws {
        let result = try Programs.earshot(arguments)
        #expect(result.status == 64 && result.stdout.isEmpty, "\(arguments): \(result.stderr)")
    }

    @Test func missingFileAndTamperedModelKeepTheirExitCodes() throws {
        #expect(try Programs.earshot(["run", "--audio", "/nonexistent.wav"]).status == 66)
        let directory = Fixtures.temporaryDirectory("cli-run-bad")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bundle = try Fixtures.tamperedCommandBundle(in: directory) { _ in 100 }
        let result = try Programs.earshot(["run", "--audio", Fixtures.path("tflm-micro-speech/yes_1000ms.wav"), "--model", bundle])
        #expect(result.status == 80 && result.stdout.isEmpty)
    }
}
