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

    /// With a cloud URL the default policy is local-first: the cloud answers what the local model is unsure of
    /// (here everything, --ask-below 1), and its text is written as a label.
    @Test func aReachableCloudAnswersTheUncertainUtterances() throws {
        let directory = Fixtures.temporaryDirectory("cli-run-cloud")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try TranscribeCommandTests.recording(["stop", "seven"], in: directory)
        let server = try TranscriptionServer("say", text: "Go back!")
        let result = try Programs.earshot(["run", "--audio", path, "--cloud-url", server.url.absoluteString, "--ask-below", "1",
                                           "--cloud-format", "json", "--budget-ms", "60000", "--cloud-timeout-ms", "30000"])
        #expect(result.status == 0, "\(result.stderr)")
        let objects = try result.stdout.split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(objects.count == 2)
        for object in objects {
            #expect(object["source"] as? String == "cloud" && object["offline"] as? Bool == false && object["text"] as? String == "unknown")
            #expect((object["cloud"] as? [String: Any])?["text"] as? String == "Go back!")
            #expect(object["automation"] as? String == "reject")     // two commands said at once is not a command
        }
        #expect(result.stderr.contains("routing local-first: 2 answered by the cloud"))
    }

    /// A cloud that is not there: the local answers stand, flagged offline, and the run still ends with exit 0.
    @Test func anUnreachableCloudLeavesLocalAnswersFlaggedOffline() throws {
        let directory = Fixtures.temporaryDirectory("cli-run-offline")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try TranscribeCommandTests.recording(["stop", "seven", "forward", "left"], in: directory)
        let dead = try TranscriptionServer("say")
        let url = dead.url.absoluteString
        dead.kill()
        let result = try Programs.earshot(["run", "--audio", path, "--cloud-url", url, "--policy", "cloud-first", "--breaker-failures", "2",
                                           "--breaker-backoff", "60"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 4 && lines.allSatisfy { $0.contains(#""offline":true"#) && $0.contains(#""source":"local""#) })
        #expect(lines.map { $0.contains(#""status":"circuit-open""#) } == [false, false, true, true])
        #expect(result.stderr.contains("2 cloud failures, 2 not asked") && result.stderr.contains("circuit open"))
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
        ["run", "--audio", "a.wav", "--policy", "cloud-first"],
        ["run", "--audio", "a.wav", "--cloud-url", "ftp://example/v1"],
        ["run", "--audio", "a.wav", "--cloud-url", "http://127.0.0.1:9/v1/audio/transcriptions", "--budget-ms", "0"],
        ["run", "--audio", "a.wav", "--cloud-url", "http://127.0.0.1:9/v1/audio/transcriptions", "--cloud-format", "srt"],
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
