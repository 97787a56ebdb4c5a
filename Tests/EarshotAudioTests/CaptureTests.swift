@testable import EarshotAudio
import EarshotTestSupport
import Foundation
import Glibc
import Testing

/// Real ALSA capture through `file` PCMs whose `infile` is a raw fixture, and through the `null` PCM.
@Suite("Capture")
struct CaptureTests {
    static let speech = Fixtures.path("pocketsphinx/goforward.raw")

    /// Captures everything from `configuration` until `frames` device frames were read.
    static func capture(_ configuration: CaptureConfiguration, frames: Int) throws -> (samples: [Int16], session: CaptureSession) {
        let session = try CaptureSession(configuration)
        session.start(frameLimit: UInt64(frames))
        return (try drain(session), session)
    }

    /// Reads the session's ring until capture ends, in `chunk`-sample reads.
    static func drain(_ session: CaptureSession, chunk: Int = 2_048, between: () -> Void = {}) throws -> [Int16] {
        var samples: [Int16] = []
        var buffer = [Int16](repeating: 0, count: chunk)
        while let got = try buffer.withUnsafeMutableBufferPointer({ try session.ring.read(into: $0, timeout: 5) }) {
            samples += buffer[0..<got]
            between()
        }
        return samples
    }

    /// Writes `bytes` to a raw file and an ALSA configuration defining `pcm.NAME` over it; `capture` reads that PCM
    /// (16 kHz S16 mono unless changed, 10 s ring).
    static func filePCM(_ bytes: Data, name: String = "fixture") throws -> (config: String, directory: String, capture: CaptureConfiguration) {
        let directory = Fixtures.temporaryDirectory("capture")
        let raw = directory + "/in.raw"
        try bytes.write(to: URL(fileURLWithPath: raw))
        let config = try Fixtures.alsaFilePCM(name: name, infile: raw, in: directory)
        var capture = CaptureConfiguration(device: name)
        capture.configurationFile = config
        capture.ringSeconds = 10
        return (config, directory, capture)
    }

    @Test func s16MonoCaptureEqualsTheFixtureByteForByte() throws {
        let expected = try Fixtures.int16Samples(rawFile: Self.speech)
        let pcm = try Self.filePCM(try Data(contentsOf: URL(fileURLWithPath: Self.speech)))
        defer { try? FileManager.default.removeItem(atPath: pcm.directory) }
        let configuration = pcm.capture
        let (samples, session) = try Self.capture(configuration, frames: expected.count)
        #expect(samples.count == expected.count)
        #expect(firstDifference(samples, expected) == nil)
        #expect(session.negotiated.sampleRate == 16_000)
        let stats = session.statistics
        #expect(stats.framesCaptured == UInt64(expected.count))
        #expect(stats.deviceOverruns == 0 && stats.ringOverrunSamples == 0)
    }

    @Test func s32StereoChannelPickIsExact() throws {
        let expected = try Fixtures.int16Samples(rawFile: Self.speech)
        var bytes = Data(capacity: expected.count * 8)
        for (i, sample) in expected.enumerated() {
            let left = Int32(truncatingIfNeeded: i * 7919) << 8          // unrelated content on channel 0
            let right = Int32(sample) << 16                               // the speech, MSB-aligned, on channel 1
            withUnsafeBytes(of: left.littleEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: right.littleEndian) { bytes.append(contentsOf: $0) }
        }
        let pcm = try Self.filePCM(bytes)
        defer { try? FileManager.default.removeItem(atPath: pcm.directory) }
        var configuration = pcm.capture
        configuration.format = .s32le
        configuration.channels = 2
        configuration.channelSelection = .channel(1)
        let (samples, _) = try Self.capture(configuration, frames: expected.count)
        #expect(firstDifference(samples, expected) == nil)
    }

    @Test func floatStereoDownmixIsExact() throws {
        let expected = try Fixtures.int16Samples(rawFile: Self.speech)
        var bytes = Data(capacity: expected.count * 8)
        for sample in expected {
            let value = Float(sample) / 32_768
            for _ in 0..<2 { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        }
        let pcm = try Self.filePCM(bytes)
        defer { try? FileManager.default.removeItem(atPath: pcm.directory) }
        var configuration = pcm.capture
        configuration.format = .f32le
        configuration.channels = 2
        let (samples, _) = try Self.capture(configuration, frames: expected.count)
        #expect(firstDifference(samples, expected) == nil)
    }

    @Test(arguments: [8_000, 22_050, 44_100, 48_000])
    func otherRatesAreResampledTo16kHz(rate: Int) throws {
        let tone = Spectrum.tone(frequency: 1_000, amplitude: 0.5, sampleRate: rate, seconds: 1)
        var bytes = Data(capacity: tone.count * 2)
        for x in tone { withUnsafeBytes(of: Int16((x * 32_767).rounded()).littleEndian) { bytes.append(contentsOf: $0) } }
        let pcm = try Self.filePCM(bytes)
        defer { try? FileManager.default.removeItem(atPath: pcm.directory) }
        var configuration = pcm.capture
        configuration.sampleRate = rate
        let (samples, session) = try Self.capture(configuration, frames: tone.count)
        #expect(session.negotiated.sampleRate == rate)
        #expect(abs(samples.count - 16_000) <= 2)
        let spectrum = Spectrum.relativeDecibels(samples.dropFirst(1_000).map { Double($0) / 32_768 }, n: 8_192)
        #expect(abs(Spectrum.peakFrequency(spectrum, sampleRate: 16_000) - 1_000) < 4)
    }

    @Test func nullPCMOpensAndDeliversSilence() throws {
        let (samples, session) = try Self.capture(CaptureConfiguration(device: "null"), frames: 1_600)
        #expect(session.negotiated.device == "null")
        #expect(samples.count == 1_600)
        #expect(samples.allSatisfy { $0 == 0 })
    }

    @Test(arguments: ["earshot_no_such_pcm", "hw:9,0", "plughw:7,3"])
    func missingDeviceNamesItselfAndListsWhatExists(device: String) {
        do {
            _ = try PCMCapture(CaptureConfiguration(device: device))
            Issue.record("opening \(device) should fail")
        } catch {
            #expect(error.code == .deviceNotFound)
            #expect(error.message.contains("\"\(device)\""))
            #expect(error.message.contains("null"), "the message lists the capture devices that exist")
        }
    }

    @Test func busyAndPermissionCodesMapToTheirErrors() {
        #expect(ALSA.error(-EBUSY, function: "snd_pcm_open", device: "hw:0,0").code == .deviceBusy)
        #expect(ALSA.error(-EACCES, function: "snd_pcm_open", device: "hw:0,0").code == .devicePermissionDenied)
        #expect(ALSA.error(-EIO, function: "snd_pcm_readi", device: "hw:0,0").code == .deviceFailed)
        let busy = ALSA.error(-EBUSY, function: "snd_pcm_open", device: "hw:0,0").message
        #expect(busy.contains("busy") && busy.contains("null"), "names the device and lists the ones that exist")
    }

    @Test func overrunsAndSuspendsAreRecoveredAndCounted() throws {
        let expected = try Fixtures.int16Samples(rawFile: Self.speech)
        let pcm = try Self.filePCM(try Data(contentsOf: URL(fileURLWithPath: Self.speech)))
        defer { try? FileManager.default.removeItem(atPath: pcm.directory) }
        let configuration = pcm.capture
        let session = try CaptureSession(configuration)
        // The real PCM then goes through snd_pcm_recover (prepare / resume) for each injected code.
        session.injectReadErrors([-EPIPE, -ESTRPIPE, -EPIPE, -EINTR])
        session.start(frameLimit: UInt64(expected.count))
        let samples = try Self.drain(session)
        let stats = session.statistics
        #expect(stats.deviceOverruns == 2)
        #expect(stats.deviceSuspends == 1)
        #expect(firstDifference(samples, expected) == nil, "recovery loses nothing that the device had not yet delivered")
    }

    @Test func aSlowConsumerLosesOldestSamplesAndTheLossIsCounted() throws {
        let expected = try Fixtures.int16Samples(rawFile: Self.speech)
        let pcm = try Self.filePCM(try Data(contentsOf: URL(fileURLWithPath: Self.speech)))
        defer { try? FileManager.default.removeItem(atPath: pcm.directory) }
        var configuration = pcm.capture
        configuration.ringSeconds = 0.1   // 1600 samples; the fixture is ~44 000
        let session = try CaptureSession(configuration)
        session.start(frameLimit: UInt64(expected.count))
        session.waitUntilFinished()      // the consumer reads nothing until capture ends
        let samples = try Self.drain(session)
        let stats = session.statistics
        #expect(samples.count == session.ring.capacity)
        #expect(stats.ringOverrunSamples == UInt64(expected.count - samples.count))
        #expect(firstDifference(Array(expected.suffix(samples.count)), samples) == nil, "the freshest audio survives")
    }

    @Test(arguments: [
        (9, 16_000, "channels"), (1, 4_000, "rate"), (1, 96_000, "rate"),
    ])
    func outOfRangeSettingsAreRejectedBeforeOpening(channels: Int, rate: Int, word: String) {
        var configuration = CaptureConfiguration(device: "null")
        configuration.channels = channels
        configuration.sampleRate = rate
        #expect(throws: AudioError.self) { try configuration.validate() }
        do { try configuration.validate() } catch { #expect(error.code == .invalidArgument && error.message.lowercased().contains(word)) }
    }

    @Test func channelPickBeyondTheStreamIsRejected() {
        var configuration = CaptureConfiguration(device: "null")
        configuration.channels = 2
        configuration.channelSelection = .channel(2)
        #expect(throws: AudioError.self) { try configuration.validate() }
    }

    @Test func stopEndsAnUnboundedCapture() throws {
        let session = try CaptureSession(CaptureConfiguration(device: "null"))
        session.start()
        var buffer = [Int16](repeating: 0, count: 512)
        _ = try buffer.withUnsafeMutableBufferPointer { try session.ring.read(into: $0, timeout: 5) }
        session.stop()
        while try buffer.withUnsafeMutableBufferPointer({ try session.ring.read(into: $0, timeout: 5) }) != nil {}
        #expect(session.statistics.framesCaptured > 0)
    }

    @Test func devicesListIncludesNullAndUserDefinedPCMs() throws {
        let (config, directory, _) = try Self.filePCM(Data([0, 0]), name: "earshot_listed")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (pcms, _) = CaptureDevices.list(configurationFile: config)
        #expect(pcms.contains { $0.name == "null" && $0.capture == true })
        #expect(pcms.contains { $0.name == "default" && $0.isDefault })
        #expect(pcms.contains { $0.name == "earshot_listed" && $0.source == config })
    }
}

@Suite("Capture with a blocking ring")
struct BlockingCaptureTests {
    @Test func aSlowConsumerLosesNothingWhenCaptureWaits() throws {
        let expected = try Fixtures.int16Samples(rawFile: CaptureTests.speech)
        let pcm = try CaptureTests.filePCM(try Data(contentsOf: URL(fileURLWithPath: CaptureTests.speech)))
        defer { try? FileManager.default.removeItem(atPath: pcm.directory) }
        var configuration = pcm.capture
        configuration.ringSeconds = 0.1
        configuration.overflowPolicy = .block
        let session = try CaptureSession(configuration)
        session.start(frameLimit: UInt64(expected.count))
        var reads = 0
        let samples = try CaptureTests.drain(session, chunk: 97) { reads += 1; if reads % 7 == 0 { usleep(50) } }
        #expect(session.statistics.ringOverrunSamples == 0)
        #expect(firstDifference(samples, expected) == nil)
    }
}
