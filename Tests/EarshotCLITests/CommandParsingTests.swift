import ArgumentParser
import EarshotAudio
@testable import earshot
import Testing

@Suite("Command parsing")
struct CommandParsingTests {
    @Test func recordParsesEveryCaptureSetting() throws {
        let command = try #require(try Earshot.parseAsRoot([
            "record", "--device", "plughw:1,0", "--seconds", "2.5", "--out", "mic.flac", "--format", "S32_LE",
            "--rate", "48000", "--channels", "4", "--channel", "2", "--period", "480", "--buffer", "4800",
            "--resampler-quality", "best", "--alsa-config", "/tmp/x.conf",
        ]) as? Earshot.Record)
        let configuration = command.captureConfiguration
        #expect(configuration.device == "plughw:1,0")
        #expect(configuration.format == .s32le)
        #expect(configuration.sampleRate == 48_000 && configuration.channels == 4)
        #expect(configuration.channelSelection == .channel(2))
        #expect(configuration.periodFrames == 480 && configuration.bufferFrames == 4_800)
        #expect(configuration.resamplerQuality == .best)
        #expect(configuration.configurationFile == "/tmp/x.conf")
        #expect(command.seconds == 2.5)
    }

    @Test(arguments: [
        ["record", "--out", "x.mp3"],
        ["record", "--out", "x.wav", "--seconds", "-1"],
        ["record", "--out", "x.wav", "--format", "U8"],
        ["record", "--out", "x.wav", "--channel", "left"],
        ["record", "--out", "x.wav", "--resampler-quality", "ultra"],
        ["record"],
        ["info"],
        ["info", "-"],
    ])
    func badArgumentsFailValidation(arguments: [String]) {
        #expect(throws: (any Error).self) { try Earshot.parseAsRoot(arguments) }
    }

    @Test func infoAndDevicesParse() throws {
        let info = try #require(try Earshot.parseAsRoot(["info", "a.wav", "--json"]) as? Earshot.Info)
        #expect(info.path == "a.wav" && info.json)
        let raw = try #require(try Earshot.parseAsRoot(["info", "-", "--raw", "s16le:16000:1"]) as? Earshot.Info)
        #expect(raw.raw == "s16le:16000:1")
        let devices = try #require(try Earshot.parseAsRoot(["devices", "--json"]) as? Earshot.Devices)
        #expect(devices.json)
    }

    @Test func exitStatusesAreDistinctAndStable() {
        let values = ExitStatus.allCases.map(\.rawValue)
        #expect(Set(values).count == values.count)
        #expect(ExitStatus.inputMissing.rawValue == 66 && ExitStatus.deviceMissing.rawValue == 69)
        #expect(ExitStatus.deviceBusy.rawValue == 75 && ExitStatus.corruptInput.rawValue == 65)
        #expect(ExitStatus.unsupportedFormat.rawValue == 79)
    }
}
