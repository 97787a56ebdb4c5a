import EarshotAudio
import EarshotTestSupport
import Foundation
import Testing

/// The real `earshot` binary, run as a technician or a script would run it.
@Suite("earshot end to end")
struct EndToEndTests {
    static let speech = Fixtures.path("pocketsphinx/goforward.raw")

    static func json(_ result: ProcessResult) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: result.stdoutData) as? [String: Any])
    }

    @Test func devicesJSONListsNullDefaultAndConfiguredPCMs() throws {
        let directory = Fixtures.temporaryDirectory("cli-devices")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = try Fixtures.alsaFilePCM(name: "bench_mic", infile: Self.speech, in: directory)
        let result = try Programs.earshot(["devices", "--json", "--alsa-config", config])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try Self.json(result)
        #expect(object["default"] as? String == "default")
        let names = (object["pcms"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(names.contains("null") && names.contains("default") && names.contains("bench_mic"))
        #expect(object["cards"] is [Any])
        let text = try Programs.earshot(["devices"], environment: ["EARSHOT_ALSA_CONFIG": config])
        #expect(text.stdout.contains("* default"))
        #expect(text.stdout.contains("bench_mic"))
    }

    @Test func recordThroughAFilePCMWritesTheFixtureExactly() throws {
        let expected = try Fixtures.int16Samples(rawFile: Self.speech)
        let directory = Fixtures.temporaryDirectory("cli-record")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = try Fixtures.alsaFilePCM(name: "bench_mic", infile: Self.speech, in: directory)
        let out = directory + "/mic.wav"
        let seconds = String(Double(expected.count) / 16_000)
        let result = try Programs.earshot(["record", "--alsa-config", config, "--device", "bench_mic",
                                           "--seconds", seconds, "--out", out, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("recording"), "progress lines when stderr is not a terminal")
        let summary = try Self.json(result)
        #expect(summary["path"] as? String == out)
        let capture = try #require(summary["capture"] as? [String: Any])
        #expect(capture["device_overruns"] as? Int == 0)
        let reader = try AudioFileReader(path: out)
        var floats = [Float](repeating: 0, count: expected.count + 100)
        let frames = try floats.withUnsafeMutableBufferPointer { try reader.read(into: $0.baseAddress!, frames: $0.count) }
        #expect(frames == expected.count)
        #expect(firstDifference(floats[0..<frames].map { Int16($0 * 32_768) }, expected) == nil)
    }

    @Test func recordOnATerminalDrawsALiveMeter() throws {
        try #require(Programs.available("script"), "util-linux `script` provides the pseudo-terminal")
        let directory = Fixtures.temporaryDirectory("cli-tty")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = try Fixtures.alsaFilePCM(name: "bench_mic", infile: Self.speech, in: directory)
        let command = "\(Programs.earshot) record --alsa-config \(config) --device bench_mic --seconds 2 --out \(directory)/tty.flac"
        let result = try Programs.run("/usr/bin/script", ["-qec", command, "/dev/null"])
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.contains("\r["), "a redrawn bar")
        #expect(result.stdout.contains("dBFS"))
        #expect(FileManager.default.fileExists(atPath: directory + "/tty.flac"))
    }

    @Test func recordFromAMissingDeviceExits69AndListsDevices() throws {
        let result = try Programs.earshot(["record", "--device", "hw:9,9", "--seconds", "1", "--out", "/tmp/earshot-never.wav"])
        #expect(result.status == 69)
        #expect(result.stderr.contains("hw:9,9") && result.stderr.contains("null"))
        #expect(result.stderr.split(separator: "\n").count == 1, "one line")
    }

    @Test func infoMatchesSoxOnARealRecording() throws {
        try #require(Programs.available("sox"))
        let path = Fixtures.path("pocketsphinx/sense_and_sensibility_01_austen_64kb-0930.wav")
        let ours = try Self.json(try Programs.earshot(["info", path, "--json"]))
        let sox = try Programs.run("/usr/bin/sox", [path, "-n", "stats"])
        func soxValue(_ key: String) -> Double? {
            sox.stderr.split(separator: "\n").first { $0.hasPrefix(key) }.flatMap { Double($0.split(separator: " ").last ?? "") }
        }
        #expect(ours["sample_rate"] as? Int == 16_000)
        #expect(ours["channels"] as? Int == 1)
        let rms = try #require(ours["rms_dbfs"] as? Double), peak = try #require(ours["peak_dbfs"] as? Double)
        #expect(abs(rms - (soxValue("RMS lev dB") ?? 0)) < 0.02)
        #expect(abs(peak - (soxValue("Pk lev dB") ?? 0)) < 0.02)
        #expect(abs((ours["dc_offset"] as? Double ?? 1) - (soxValue("DC offset") ?? 0)) < 1e-4)
        #expect(abs((ours["duration"] as? Double ?? 0) - (soxValue("Length s") ?? 0)) < 1e-3)
        let snr = try #require(ours["snr_db"] as? Double)
        #expect(snr > 10 && snr < 80, "read speech has a plausible SNR: \(snr)")
    }

    @Test func infoReadsRawPCMFromStdin() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.speech))
        let result = try Programs.earshot(["info", "-", "--raw", "s16le:16000:1", "--json"], stdin: bytes)
        #expect(result.status == 0, "\(result.stderr)")
        let object = try Self.json(result)
        #expect(object["frames"] as? Int == bytes.count / 2)
        let file = try Self.json(try Programs.earshot(["info", Fixtures.path("tflm-micro-speech/yes_1000ms.wav"), "--json"]))
        #expect(file["container"] as? String == "WAV (Microsoft)")
    }

    @Test(arguments: [
        ("missing", 66), ("empty", 65), ("garbage", 79), ("truncated", 65), ("directory", 79),
    ])
    func infoFailuresExitWithDistinctCodesAndOneLine(kind: String, status: Int32) throws {
        let directory = Fixtures.temporaryDirectory("cli-bad")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path: String
        switch kind {
        case "missing": path = directory + "/nothing.wav"
        case "empty": path = directory + "/empty.wav"; try Data().write(to: URL(fileURLWithPath: path))
        case "garbage": path = directory + "/notes.wav"; try Data(String(repeating: "not audio ", count: 200).utf8).write(to: URL(fileURLWithPath: path))
        case "truncated":
            path = directory + "/cut.wav"
            let whole = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tflm-micro-speech/yes_1000ms.wav")))
            try whole.prefix(10_000).write(to: URL(fileURLWithPath: path))
        default: path = directory
        }
        let result = try Programs.earshot(["info", path])
        #expect(result.status == status, "\(kind): \(result.stderr)")
        #expect(result.stderr.hasPrefix("earshot: error: "))
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stdout.isEmpty)
    }

    @Test func stdinEndingInsideAFrameExits65() throws {
        let result = try Programs.earshot(["info", "-", "--raw", "s16le:16000:2"], stdin: Data([1, 2, 3, 4, 5]))
        #expect(result.status == 65)
        #expect(result.stderr.contains("stray"))
    }
}
