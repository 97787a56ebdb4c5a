import Glibc
import Foundation

/// The declared layout of headerless PCM (stdin has no header to read it from).
public struct RawStreamFormat: Sendable, Hashable, Codable, CustomStringConvertible {
    public var format: SampleFormat
    public var sampleRate: Int
    public var channels: Int

    public init(format: SampleFormat = .s16le, sampleRate: Int = 16_000, channels: Int = 1) {
        self.format = format
        self.sampleRate = sampleRate
        self.channels = channels
    }

    /// Parses `FORMAT:RATE:CHANNELS`, e.g. `s16le:16000:1` or `FLOAT_LE:48000:2`; RATE and CHANNELS are optional.
    public init(parsing text: String) throws(AudioError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count), let format = SampleFormat(parsing: parts[0]) else {
            throw AudioError(.invalidArgument, "Raw format \"\(text)\" is not FORMAT[:RATE[:CHANNELS]] with FORMAT one of s16le, s32le, f32le.")
        }
        self.format = format
        sampleRate = 16_000
        channels = 1
        if parts.count > 1 {
            guard let rate = Int(parts[1]), (1_000...768_000).contains(rate) else {
                throw AudioError(.invalidArgument, "Raw rate \"\(parts[1])\" must be 1000…768000 Hz.")
            }
            sampleRate = rate
        }
        if parts.count > 2 {
            guard let count = Int(parts[2]), (1...64).contains(count) else {
                throw AudioError(.invalidArgument, "Raw channel count \"\(parts[2])\" must be 1…64.")
            }
            channels = count
        }
    }

    public var description: String { "\(format.rawValue.lowercased().replacingOccurrences(of: "_", with: "")):\(sampleRate):\(channels)" }
    /// Bytes per interleaved frame.
    public var bytesPerFrame: Int { format.bytesPerSample * channels }
}

/// Reads headerless interleaved PCM of a declared format from a file descriptor (stdin, a pipe, a file).
public final class RawPCMReader {
    public let format: RawStreamFormat
    private let descriptor: Int32
    private let name: String
    private var pending: [UInt8] = []

    /// Reads from `descriptor`, which stays owned by the caller. `name` labels errors ("stdin").
    public init(fileDescriptor descriptor: Int32, format: RawStreamFormat, name: String = "stdin") {
        self.descriptor = descriptor
        self.format = format
        self.name = name
    }

    /// Reads up to `frames` whole frames as floats in [-1, 1). Blocks until data, end of stream, or an error.
    /// - Returns: frames read; 0 at end of stream.
    /// - Throws: `.endOfStream` if the stream ends inside a frame; read(2) failures as `.corruptFile`.
    public func read(into buffer: UnsafeMutablePointer<Float>, frames: Int) throws(AudioError) -> Int {
        let bytesPerFrame = format.bytesPerFrame
        let wanted = frames * bytesPerFrame
        // Block only until one whole frame is in hand; return promptly with whatever else already arrived.
        var endOfStream = false
        while pending.count < bytesPerFrame {
            var chunk = [UInt8](repeating: 0, count: max(bytesPerFrame, wanted - pending.count))
            let got = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if got < 0 {
                if errno == EINTR { continue }
                throw AudioError(.corruptFile, "Reading raw PCM from \(name) failed.", cause: String(cString: strerror(errno)))
            }
            if got == 0 { endOfStream = true; break }
            pending.append(contentsOf: chunk[0..<got])
        }
        let whole = min(pending.count / bytesPerFrame, frames)
        if whole == 0 {
            if endOfStream && !pending.isEmpty {
                let stray = pending.count
                pending.removeAll()
                throw AudioError(.endOfStream, "Raw PCM on \(name) ended inside a frame (\(stray) stray byte(s); a frame is \(bytesPerFrame) bytes for \(format)).")
            }
            return 0
        }
        pending.withUnsafeBytes { bytes in
            format.format.decode(UnsafeRawBufferPointer(rebasing: bytes[0..<(whole * bytesPerFrame)]),
                                 sampleCount: whole * format.channels, into: buffer)
        }
        pending.removeFirst(whole * bytesPerFrame)
        return whole
    }
}
