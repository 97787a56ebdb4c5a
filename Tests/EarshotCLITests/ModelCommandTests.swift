import EarshotAudio
import EarshotTestSupport
import Foundation
import Testing

/// `earshot model inspect` and `earshot classify`, run as a user would.
@Suite("earshot model and classify")
struct ModelCommandTests {
    static let model = Fixtures.path("tflm-micro-speech/micro_speech_quantized.tflite")

    static func json(_ result: ProcessResult) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: result.stdoutData) as? [String: Any])
    }

    @Test func inspectReportsOperatorsArenaAndMACs() throws {
        let result = try Programs.earshot(["model", "inspect", Self.model, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try Self.json(result)
        let ops = (object["operators"] as? [[String: Any]] ?? []).compactMap { $0["op"] as? String }
        #expect(ops == ["RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"])
        #expect((object["macs"] as? Int ?? 0) == 25 * 20 * 8 * 10 * 8 + 4 * 4000)
        #expect((object["arena_bytes"] as? Int ?? 0) > 0)
        let input = try #require((object["inputs"] as? [[String: Any]])?.first)
        #expect(input["type"] as? String == "INT8" && input["shape"] as? [Int] == [1, 1960])
        let text = try Programs.earshot(["model", "inspect", Self.model])
        #expect(text.stdout.contains("DEPTHWISE_CONV_2D") && text.stdout.contains("multiply-accumulates"))
    }

    @Test(arguments: [("yes", "yes"), ("no", "no"), ("silence", "silence")])
    func classifyAOneSecondClipGivesExactlyOneWindow(word: String, top: String) throws {
        let result = try Programs.earshot(["classify", "--model", Self.model, "--audio", Fixtures.path("tflm-micro-speech/\(word)_1000ms.wav"),
                                           "--labels", "silence,unknown,yes,no", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try Self.json(result)
        #expect(object["labels"] as? [String] == ["silence", "unknown", "yes", "no"])
        let windows = try #require(object["windows"] as? [[String: Any]])
        #expect(windows.count == 1)
        #expect(windows[0]["top"] as? String == top)
        #expect((windows[0]["raw"] as? [Int])?.count == 4)
        #expect((windows[0]["scores"] as? [Double])?.count == 4)
        #expect(windows[0]["start"] as? Double == 0)
    }

    @Test func aLongerClipGivesOverlappingWindows() throws {
        let result = try Programs.earshot(["classify", "--model", Self.model, "--audio",
                                           Fixtures.path("pocketsphinx/sense_and_sensibility_01_austen_64kb-0930.wav"), "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let windows = try #require(try Self.json(result)["windows"] as? [[String: Any]])
        #expect(windows.count > 3)
        #expect((windows[1]["start"] as? Double ?? 0) == 0.5)
    }

    /// Builds a bundle directory around the micro_speech model with the given manifest hash.
    static func bundle(hash: String?) throws -> String {
        let directory = Fixtures.temporaryDirectory("bundle")
        let data = try Data(contentsOf: URL(fileURLWithPath: model))
        try data.write(to: URL(fileURLWithPath: directory + "/model.tflite"))
        let sha = try Programs.run("/usr/bin/sha256sum", [directory + "/model.tflite"]).stdout.split(separator: " ")[0]
        let manifest: [String: Any] = ["name": "micro_speech", "version": "tflm-90b983c", "labels": ["silence", "unknown", "yes", "no"],
                                       "model_sha256": hash ?? String(sha), "frontend": ["stride_ms": 20, "tables": "signalLibrary"],
                                       "window_frames": 49, "hop_frames": 25]
        try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: directory + "/manifest.json"))
        return directory
    }

    @Test func aVerifiedBundleSuppliesLabelsAndFrontend() throws {
        let directory = try Self.bundle(hash: nil)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try Programs.earshot(["classify", "--model", directory, "--audio", Fixtures.path("tflm-micro-speech/yes_1000ms.wav"), "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let windows = try #require(try Self.json(result)["windows"] as? [[String: Any]])
        #expect(windows.first?["top"] as? String == "yes")
    }

    @Test func aBundleWhoseModelDoesNotMatchItsHashIsRefused() throws {
        let directory = try Self.bundle(hash: String(repeating: "0", count: 64))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try Programs.earshot(["classify", "--model", directory, "--audio", Fixtures.path("tflm-micro-speech/yes_1000ms.wav")])
        #expect(result.status == 80)
        #expect(result.stderr.contains("SHA-256") && result.stdout.isEmpty)
    }

    @Test func brokenAndUnsupportedModelsFailWithTheirExitCodes() throws {
        let directory = Fixtures.temporaryDirectory("badmodel")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let truncated = directory + "/cut.tflite"
        try Data(try Data(contentsOf: URL(fileURLWithPath: Self.model)).prefix(4_000)).write(to: URL(fileURLWithPath: truncated))
        let cut = try Programs.earshot(["model", "inspect", truncated])
        #expect(cut.status == 65 && cut.stderr.hasPrefix("earshot: error: "))
        let custom = try Programs.earshot(["model", "inspect", Fixtures.path("tflm-micro-speech/audio_preprocessor_int8.tflite")])
        #expect(custom.status == 79 && custom.stderr.contains("SignalWindow"))
        let missing = try Programs.earshot(["model", "inspect", directory + "/none.tflite"])
        #expect(missing.status == 66)
    }
}

/// `earshot features`, the training pipelines' door to the exact frontend.
@Suite("earshot features")
struct FeaturesCommandTests {
    @Test func rawFeaturesEqualTheTFLMPreprocessorAfterInt8Scaling() throws {
        let result = try Programs.earshot(["features", Fixtures.path("tflm-micro-speech/yes_1000ms.wav"), "--format", "raw"])
        #expect(result.status == 0, "\(result.stderr)")
        let values = result.stdoutData.withUnsafeBytes { bytes in
            (0..<(bytes.count / 2)).map { Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) }
        }
        #expect(values.count == 49 * 40)
        let vectors = Fixtures.packageRoot + "/Tests/EarshotDSPTests/Vectors/frontend_signal_preprocessor_int8.json"
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: vectors))) as! [String: Any]
        let expected = ((object["frames"] as! [String: [[Int]]])["speech_commands_yes"]!).flatMap { $0 }
        let scaled = values.map { max(-128, min(127, ($0 * 256 + 333) / 666 - 128)) }
        #expect(scaled == expected)
        let json = try Programs.earshot(["features", Fixtures.path("tflm-micro-speech/yes_1000ms.wav"), "--stride-ms", "10", "--tables", "microFrontend"])
        let frames = try #require(try JSONSerialization.jsonObject(with: json.stdoutData) as? [[Int]])
        #expect(frames.count == 98 && frames.allSatisfy { $0.count == 40 })
    }

    /// `--clip-samples`: back-to-back clips, the frontend reset at each, so every clip's frames equal its own run.
    @Test func clipSamplesResetsTheFrontendPerClip() throws {
        let directory = Fixtures.temporaryDirectory("cli-features-clips")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let speech = try Fixtures.int16Samples(rawFile: Fixtures.path("pocketsphinx/goforward.raw"))
        let clip = Array(speech.prefix(16_000))
        let path = directory + "/two.wav"
        let writer = try AudioFileWriter(path: path, sampleRate: 16_000)
        try writer.write(clip + clip)
        try writer.close()
        let single = directory + "/one.wav"
        let one = try AudioFileWriter(path: single, sampleRate: 16_000)
        try one.write(clip)
        try one.close()
        let both = try Programs.earshot(["features", path, "--clip-samples", "16000", "--format", "raw"])
        let alone = try Programs.earshot(["features", single, "--format", "raw"])
        #expect(both.status == 0 && alone.status == 0, "\(both.stderr)")
        #expect(both.stdoutData.count == 2 * 49 * 40 * 2)
        #expect(both.stdoutData.prefix(alone.stdoutData.count) == alone.stdoutData)
        #expect(both.stdoutData.suffix(alone.stdoutData.count) == alone.stdoutData)
        // Without the reset, the second clip would start from the first one's noise estimate.
        let streamed = try Programs.earshot(["features", path, "--format", "raw"])
        #expect(streamed.stdoutData.suffix(alone.stdoutData.count) != alone.stdoutData)
        let ragged = try Programs.earshot(["features", path, "--clip-samples", "15000"])
        #expect(ragged.status == 79 && ragged.stderr.contains("whole number"))
    }
}

/// `earshot vad` as scripts use it.
@Suite("earshot vad")
struct VADCommandTests {
    static let speech = Fixtures.path("pocketsphinx/sense_and_sensibility_01_austen_64kb-0880.wav")

    @Test func framesPrintsExactlyOneProbabilityPer10msAndNothingElse() throws {
        let result = try Programs.earshot(["vad", Self.speech, "--format", "frames"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 47_840 / 160)
        #expect(lines.allSatisfy { Double($0).map { (0...1).contains($0) } ?? false })
    }

    @Test func segmentsCoverTheSpeechAndJSONCarriesBoth() throws {
        let segments = try Programs.earshot(["vad", Self.speech])
        let pairs = segments.stdout.split(separator: "\n").map { $0.split(separator: " ").compactMap { Double($0) } }
        #expect(pairs.count == 1 && pairs[0].count == 2)
        // The .lab file says speech runs 0.25–2.77 s; the segment adds pre- and post-roll.
        #expect(pairs[0][0] <= 0.25 && pairs[0][1] >= 2.7)
        let json = try Programs.earshot(["vad", Self.speech, "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: json.stdoutData) as? [String: Any])
        #expect((object["probabilities"] as? [Double])?.count == 299)
        #expect((object["segments"] as? [[String: Double]])?.count == 1)
        #expect(object["frame_ms"] as? Int == 10)
    }

    @Test func eightKilohertzInputIsResampledAndStillDetected() throws {
        try #require(Programs.available("sox"))
        let directory = Fixtures.temporaryDirectory("vad8k")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let narrow = directory + "/speech-8k.wav"
        #expect(try Programs.run("/usr/bin/sox", [Self.speech, "-r", "8000", narrow]).status == 0)
        let result = try Programs.earshot(["vad", narrow])
        #expect(result.status == 0, "\(result.stderr)")
        let pairs = result.stdout.split(separator: "\n").map { $0.split(separator: " ").compactMap { Double($0) } }
        #expect(!pairs.isEmpty && pairs[0][0] <= 0.3 && pairs.last![1] >= 2.6)
    }

    @Test func liveCaptureFromAnALSAFilePCMFindsTheSpeech() throws {
        let directory = Fixtures.temporaryDirectory("vadlive")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let raw = directory + "/speech.raw"
        try Data(try Data(contentsOf: URL(fileURLWithPath: Self.speech)).dropFirst(44)).write(to: URL(fileURLWithPath: raw))
        let config = try Fixtures.alsaFilePCM(name: "vad_mic", infile: raw, in: directory)
        let result = try Programs.earshot(["vad", "--device", "vad_mic", "--alsa-config", config, "--seconds", "2.99"])
        #expect(result.status == 0, "\(result.stderr)")
        let pairs = result.stdout.split(separator: "\n").map { $0.split(separator: " ").compactMap { Double($0) } }
        #expect(pairs.count == 1 && pairs[0][0] <= 0.25 && pairs[0][1] >= 2.7, "\(result.stdout)")
    }

    @Test func silenceGivesNoSegmentsAndBadArgumentsAreRefused() throws {
        let quiet = try Programs.earshot(["vad", Fixtures.path("tflm-micro-speech/silence_1000ms.wav")])
        #expect(quiet.status == 0 && quiet.stdout.isEmpty)
        #expect(try Programs.earshot(["vad", Self.speech, "--format", "xml"]).status == 64)
        #expect(try Programs.earshot(["vad"]).status == 64)
        #expect(try Programs.earshot(["vad", "/nonexistent.wav"]).status == 66)
        #expect(try Programs.earshot(["vad", Self.speech, "--level-floor", "loud"]).status == 64)
        #expect(try Programs.earshot(["vad", Self.speech, "--level-floor", "6"]).status == 64)
    }

    /// Speech 60 dB down (about −85 dBFS): the default level gate gives no speech, `--level-floor off` lets the
    /// level-normalised model score it.
    @Test func theLevelFloorFlagControlsTheGate() throws {
        try #require(Programs.available("sox"))
        let directory = Fixtures.temporaryDirectory("vadquiet")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let quiet = directory + "/quiet.wav"
        let source = Fixtures.path("pocketsphinx/sense_and_sensibility_01_austen_64kb-0880.wav")
        #expect(try Programs.run("/usr/bin/sox", [source, quiet, "vol", "0.001"]).status == 0)
        func speechFrames(_ extra: [String]) throws -> Int {
            let result = try Programs.earshot(["vad", quiet, "--format", "frames"] + extra)
            #expect(result.status == 0, "\(result.stderr)")
            return result.stdout.split(separator: "\n").compactMap { Double($0) }.filter { $0 >= 0.5 }.count
        }
        #expect(try speechFrames([]) == 0)
        #expect(try speechFrames(["--level-floor=-60"]) == 0)   // "=" because a bare -60 reads as a flag
        #expect(try speechFrames(["--level-floor", "off"]) > 0)
    }
}
