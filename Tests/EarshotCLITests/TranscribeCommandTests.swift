import EarshotAudio
import EarshotTestSupport
import Foundation
import Testing

/// `earshot transcribe` as scripts use it: VAD, endpointer and command-en over a whole recording.
@Suite("earshot transcribe")
struct TranscribeCommandTests {
    /// Held-out clips by index, labelled only where the clip is clean and the shipped model gets it right ("" otherwise).
    static func heldOutClips() throws -> (labels: [String], clips: [[Int16]]) {
        let clips = try HeldOutCommands.load()
        return (clips.map { $0.cleanAndRight ? $0.label : "" }, clips.map(\.samples))
    }

    /// A recording of three clean held-out commands separated by quiet room tone.
    static func recording(_ words: [String], in directory: String) throws -> String {
        let (labels, clips) = try heldOutClips()
        var generator = SeededGenerator(seed: 42)
        func roomTone(_ count: Int) -> [Int16] { (0..<count).map { _ in Int16.random(in: -3...3, using: &generator) } }
        var audio = roomTone(8_000)
        for word in words {
            let index = try #require(labels.firstIndex(of: word))
            audio += clips[index] + roomTone(12_000)
        }
        let path = directory + "/commands.wav"
        let writer = try AudioFileWriter(path: path, sampleRate: 16_000)
        try writer.write(audio)
        try writer.close()
        return path
    }

    @Test func jsonHasOneUtteranceAndLabelPerCommandWithTimes() throws {
        let directory = Fixtures.temporaryDirectory("cli-transcribe")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try Self.recording(["stop", "seven", "forward"], in: directory)
        let result = try Programs.earshot(["transcribe", path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: result.stdoutData) as? [String: Any])
        #expect((object["model"] as? String)?.hasPrefix("command-en@") == true)
        let utterances = try #require(object["utterances"] as? [[String: Any]])
        #expect(utterances.map { $0["text"] as? String ?? "" } == ["stop", "seven", "forward"])
        for (k, u) in utterances.enumerated() {
            let start = try #require(u["start"] as? Double), end = try #require(u["end"] as? Double)
            // Clip k occupies 0.5 + 1.75·k … +1 s of the recording.
            let clipStart = 0.5 + 1.75 * Double(k)
            #expect(start >= clipStart - 0.05 && end <= clipStart + 1.05 && end > start, "utterance \(k): \(start)–\(end)")
            #expect(u["accepted"] as? Bool == true)
            #expect((u["confidence"] as? Double).map { (0...1).contains($0) } == true)
            #expect((u["words"] as? [[String: Any]])?.count == 1)
        }
        let text = try Programs.earshot(["transcribe", path])
        #expect(text.stdout.split(separator: "\n").map { $0.split(separator: " ")[2] } == ["stop", "seven", "forward"])
    }

    @Test func outOfVocabularySpeechIsUnknownAndNotAccepted() throws {
        let directory = Fixtures.temporaryDirectory("cli-transcribe-oov")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (labels, _) = try Self.heldOutClips()
        #expect(labels.contains("unknown"))
        let path = try Self.recording(["unknown"], in: directory)
        let result = try Programs.earshot(["transcribe", path, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: result.stdoutData) as? [String: Any])
        let utterances = try #require(object["utterances"] as? [[String: Any]])
        #expect(utterances.allSatisfy { $0["accepted"] as? Bool == false && $0["text"] as? String == "unknown" })
    }

    @Test func errorsExitWithTheDocumentedCodes() throws {
        let missing = try Programs.earshot(["transcribe", "/nonexistent/clip.wav"])
        #expect(missing.status == 66 && !missing.stderr.isEmpty)
        let grammar = try Programs.earshot(["transcribe", Fixtures.path("tflm-micro-speech/yes_1000ms.wav"), "--grammar",
                                            Fixtures.path("pocketsphinx/goforward.gram"),
                                            "--model", Fixtures.packageRoot + "/Models/command/command-en"])
        #expect(grammar.status == 64 && grammar.stderr.contains("phrase model"))
        let directory = Fixtures.temporaryDirectory("cli-transcribe-bad")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bundle = try Fixtures.tamperedCommandBundle(in: directory) { $0 / 2 }
        let tampered = try Programs.earshot(["transcribe", Fixtures.path("tflm-micro-speech/yes_1000ms.wav"), "--model", bundle])
        #expect(tampered.status == 80 && tampered.stderr.contains("SHA-256"))
    }
}
