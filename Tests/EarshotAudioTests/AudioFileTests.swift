@testable import EarshotAudio
import EarshotTestSupport
import Foundation
import Testing

/// Reading and writing through libsndfile: exact round trips, and clear errors for bad files.
@Suite("Audio files")
struct AudioFileTests {
    static let speech = Fixtures.path("pocketsphinx/goforward.raw")

    /// Reads a whole file as 16 kHz mono Int16 through the pipeline path.
    static func readPipeline(_ path: String) throws(AudioError) -> [Int16] {
        let source = try ConvertingSource(try AudioFileReader(path: path))
        var out: [Int16] = []
        while try source.read(appendingTo: &out, maximum: 4_000) {}
        return out
    }

    /// A canonical 44-byte-header PCM WAV with chosen (possibly lying) header fields.
    static func wav(samples: [Int16], rate: UInt32 = 16_000, channels: UInt16 = 1, bits: UInt16 = 16,
                    declaredDataBytes: UInt32? = nil, blockAlign: UInt16? = nil) -> Data {
        var d = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        let dataBytes = UInt32(samples.count * 2)
        d.append(contentsOf: Array("RIFF".utf8)); u32(36 + (declaredDataBytes ?? dataBytes))
        d.append(contentsOf: Array("WAVEfmt ".utf8)); u32(16); u16(1); u16(channels); u32(rate)
        let align = blockAlign ?? channels &* (bits / 8)
        u32(rate &* UInt32(align)); u16(align); u16(bits)
        d.append(contentsOf: Array("data".utf8)); u32(declaredDataBytes ?? dataBytes)
        for s in samples { withUnsafeBytes(of: s.littleEndian) { d.append(contentsOf: $0) } }
        return d
    }

    static func write(_ data: Data, name: String) throws -> (path: String, directory: String) {
        let directory = Fixtures.temporaryDirectory("files")
        let path = directory + "/" + name
        try data.write(to: URL(fileURLWithPath: path))
        return (path, directory)
    }

    @Test(arguments: [AudioContainer.wav, .flac, .aiff])
    func losslessRoundTripsPreserveEverySample(container: AudioContainer) throws {
        let samples = try Fixtures.int16Samples(rawFile: Self.speech) + [Int16.min, Int16.max, -1, 0, 1]
        let directory = Fixtures.temporaryDirectory("roundtrip")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/speech.\(container.rawValue)"
        let writer = try AudioFileWriter(path: path, sampleRate: 16_000)
        try writer.write(samples)
        try writer.close()
        let reader = try AudioFileReader(path: path)
        #expect(reader.info.frames == Int64(samples.count))
        #expect(reader.info.sampleRate == 16_000 && reader.info.channels == 1)
        #expect(firstDifference(try Self.readPipeline(path), samples) == nil)
    }

    @Test func stereoWavRoundTripsAndDownmixes() throws {
        let directory = Fixtures.temporaryDirectory("stereo")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/stereo.wav"
        let writer = try AudioFileWriter(path: path, sampleRate: 16_000, channels: 2)
        let left: [Int16] = [100, -200, 300, 32_767], right: [Int16] = [300, -400, -300, 32_767]
        try writer.write(zip(left, right).flatMap { [$0, $1] })
        try writer.close()
        #expect(try Self.readPipeline(path) == [200, -300, 0, 32_767])
    }

    @Test func oggVorbisRoundTripIsCloseAndTheSameLength() throws {
        let samples = try Fixtures.int16Samples(rawFile: Self.speech)
        let directory = Fixtures.temporaryDirectory("ogg")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/speech.ogg"
        let writer = try AudioFileWriter(path: path, sampleRate: 16_000)
        try writer.write(samples)
        try writer.close()
        let reader = try AudioFileReader(path: path)
        #expect(reader.info.container.contains("OGG"))
        let decoded = try Self.readPipeline(path)
        #expect(decoded.count == samples.count)
        let signal = samples.reduce(0.0) { $0 + Double($1) * Double($1) }
        let error = zip(samples, decoded).reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) }
        let snr = 10 * log10(signal / max(error, 1))
        #expect(snr > 15, "Vorbis is lossy but close: SNR \(snr) dB")
    }

    @Test func realFixtureFilesOpenWithTheirHeaderFacts() throws {
        let yes = try AudioFileReader(path: Fixtures.path("tflm-micro-speech/yes_1000ms.wav"))
        #expect(yes.info.sampleRate == 16_000 && yes.info.channels == 1 && yes.info.frames == 16_000)
        let libri = try AudioFileReader(path: Fixtures.path("pocketsphinx/sense_and_sensibility_01_austen_64kb-0880.wav"))
        #expect(libri.info.sampleRate == 16_000)
        #expect(libri.info.duration > 2)
    }

    @Test func missingFileIsFileNotFound() {
        #expect(throws: AudioError(.fileNotFound, "/nonexistent/earshot.wav: no such file.")) {
            try AudioFileReader(path: "/nonexistent/earshot.wav")
        }
    }

    @Test func zeroLengthFileIsCorrupt() throws {
        let (path, directory) = try Self.write(Data(), name: "empty.wav")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do { _ = try AudioFileReader(path: path); Issue.record("opened an empty file") } catch {
            #expect(error.code == .corruptFile)
            #expect(error.message.contains("empty"))
        }
    }

    @Test func garbageIsUnsupportedAndGarbageWithAWavMagicIsCorrupt() throws {
        var generator = SystemRandomNumberGenerator()
        let noise = Data((0..<4_000).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let (plain, d1) = try Self.write(Data("just some text, not audio at all\n".utf8) + noise, name: "notes.wav")
        let (riff, d2) = try Self.write(Data("RIFF".utf8) + noise, name: "broken.wav")
        defer { try? FileManager.default.removeItem(atPath: d1); try? FileManager.default.removeItem(atPath: d2) }
        do { _ = try AudioFileReader(path: plain); Issue.record("opened garbage") } catch {
            #expect(error.code == .unsupportedFormat)
            #expect(error.message.contains(plain))
        }
        do { _ = try AudioFileReader(path: riff); Issue.record("opened broken RIFF") } catch {
            #expect(error.code == .corruptFile || error.code == .unsupportedFormat)
            #expect(error.message.contains(riff))
        }
    }

    @Test func truncatedWavIsCorrupt() throws {
        let samples = try Fixtures.int16Samples(rawFile: Self.speech)
        let whole = Self.wav(samples: samples)
        let (path, directory) = try Self.write(whole.prefix(whole.count / 2), name: "cut.wav")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do { _ = try AudioFileReader(path: path); Issue.record("opened a truncated file") } catch {
            #expect(error.code == .corruptFile)
            #expect(error.message.contains("truncated"))
        }
    }

    @Test func truncatedFlacFailsCleanly() throws {
        let samples = try Fixtures.int16Samples(rawFile: Self.speech)
        let directory = Fixtures.temporaryDirectory("flac")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/speech.flac"
        let writer = try AudioFileWriter(path: path, sampleRate: 16_000)
        try writer.write(samples)
        try writer.close()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        for cut in [4, 30, bytes.count / 3, bytes.count - 10] {
            let cutPath = directory + "/cut-\(cut).flac"
            try bytes.prefix(cut).write(to: URL(fileURLWithPath: cutPath))
            do {
                let decoded = try Self.readPipeline(cutPath)
                #expect(decoded.count < samples.count, "a cut FLAC cannot yield the whole stream")
            } catch {
                #expect(error.code == .corruptFile || error.code == .unsupportedFormat, "cut at \(cut): \(error)")
            }
        }
    }

    @Test(arguments: [
        ("zero rate", 0 as UInt32, 1 as UInt16, 16 as UInt16),
        ("absurd rate", 4_000_000_000, 1, 16),
        ("zero channels", 16_000, 0, 16),
        ("absurd channels", 16_000, 65_000, 16),
        ("zero bits", 16_000, 1, 0),
    ])
    func absurdHeaderValuesGiveTypedErrors(label: String, rate: UInt32, channels: UInt16, bits: UInt16) throws {
        let (path, directory) = try Self.write(Self.wav(samples: [1, 2, 3, 4], rate: rate, channels: channels, bits: bits), name: "absurd.wav")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            _ = try Self.readPipeline(path)
            Issue.record("\(label): accepted")
        } catch {
            #expect([AudioError.Code.corruptFile, .unsupportedFormat].contains(error.code), "\(label): \(error)")
        }
    }

    @Test func hugeDeclaredDataLengthIsReportedAsTruncation() throws {
        let (path, directory) = try Self.write(Self.wav(samples: [1, 2, 3, 4], declaredDataBytes: 0x7FFF_0000), name: "liar.wav")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: AudioError.self) { try AudioFileReader(path: path) }
    }

    @Test func mutatedHeadersNeverCrash() throws {
        let base = Self.wav(samples: (0..<2_000).map { Int16(truncatingIfNeeded: $0 * 37) })
        let directory = Fixtures.temporaryDirectory("mutate")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var generator = SeededGenerator(seed: 0xEA25_4071)
        var opened = 0, rejected = 0
        for round in 0..<300 {
            var bytes = [UInt8](base)
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                bytes[Int.random(in: 0..<60, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            let path = directory + "/m\(round).wav"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do { _ = try Self.readPipeline(path); opened += 1 } catch { rejected += 1; #expect(!error.message.isEmpty) }
        }
        #expect(opened + rejected == 300)
        #expect(rejected > 0)
    }

    @Test func directoryAndUnknownExtensionsAreRejected() throws {
        let directory = Fixtures.temporaryDirectory("dir")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: AudioError.self) { try AudioFileReader(path: directory) }
        #expect(throws: AudioError.self) { try AudioFileWriter(path: directory + "/x.mp9", sampleRate: 16_000) }
        do { _ = try AudioFileWriter(path: directory + "/no/such/folder/x.wav", sampleRate: 16_000); Issue.record("created") } catch {
            #expect(error.code == .writeFailed)
            #expect(error.message.contains("does not exist"))
        }
    }
}
