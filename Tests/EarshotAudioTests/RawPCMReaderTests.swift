import EarshotAudio
import Foundation
import Glibc
import Testing

@Suite("Raw PCM")
struct RawPCMReaderTests {
    @Test(arguments: [
        ("s16le", RawStreamFormat(format: .s16le, sampleRate: 16_000, channels: 1)),
        ("S32_LE:48000:2", RawStreamFormat(format: .s32le, sampleRate: 48_000, channels: 2)),
        ("f32:8000", RawStreamFormat(format: .f32le, sampleRate: 8_000, channels: 1)),
    ])
    func parsesDeclaredFormats(text: String, expected: RawStreamFormat) throws {
        #expect(try RawStreamFormat(parsing: text) == expected)
    }

    @Test(arguments: ["mp3", "s16le:abc", "s16le:16000:0", "s16le:16000:1:extra", "s16le:99"])
    func rejectsBadFormats(text: String) {
        #expect(throws: AudioError.self) { try RawStreamFormat(parsing: text) }
    }

    @Test func readsWholeFramesAcrossDribbledWritesAndReportsAStrayTail() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let reader = RawPCMReader(fileDescriptor: fds[0], format: RawStreamFormat(format: .s16le, sampleRate: 16_000, channels: 2))
        let values: [Int16] = [1, -1, 256, -256, 32_767, -32_768]
        var bytes: [UInt8] = []
        for v in values { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        bytes.append(0x7F)   // one stray byte: a frame is 4 bytes
        let payload = bytes, writeEnd = fds[1]
        let writer = Thread {
            for byte in payload { var b = byte; _ = write(writeEnd, &b, 1); usleep(200) }
            close(writeEnd)
        }
        writer.start()
        var floats = [Float](repeating: 0, count: 64)
        var decoded: [Float] = []
        var caught: AudioError?
        while true {
            do throws(AudioError) {
                let frames = try floats.withUnsafeMutableBufferPointer { (p) throws(AudioError) -> Int in try reader.read(into: p.baseAddress!, frames: 32) }
                if frames == 0 { break }
                decoded += floats[0..<(frames * 2)]
            } catch {
                caught = error
                break
            }
        }
        close(fds[0])
        #expect(decoded == values.map { Float($0) / 32_768 })
        #expect(caught?.code == .endOfStream)
    }

    @Test func nonFiniteFloatsBecomeSilence() {
        let values: [Float] = [.nan, .infinity, 0.5, -.infinity]
        var bytes: [UInt8] = []
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        var out = [Float](repeating: 1, count: 4)
        bytes.withUnsafeBytes { SampleFormat.f32le.decode($0, sampleCount: 4, into: &out) }
        #expect(out == [0, 0, 0.5, 0])
    }
}
