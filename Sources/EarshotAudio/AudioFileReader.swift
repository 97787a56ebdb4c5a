internal import CSndFile
import Glibc
import Foundation

/// What a sound file holds, from its header.
public struct AudioFileInfo: Sendable, Hashable, Codable {
    /// The path the file was opened from.
    public var path: String
    /// Container, as libsndfile names it ("WAV (Microsoft)", "FLAC (Free Lossless Audio Codec)", …).
    public var container: String
    /// Sample encoding ("Signed 16 bit PCM", "Vorbis", …).
    public var encoding: String
    public var sampleRate: Int
    public var channels: Int
    /// Frames (samples per channel).
    public var frames: Int64
    /// Duration in seconds.
    public var duration: Double { sampleRate > 0 ? Double(frames) / Double(sampleRate) : 0 }
}

/// Reads any file libsndfile understands (WAV, FLAC, OGG/Vorbis, Opus, AIFF, AU, CAF, MP3, …) as interleaved floats.
///
/// Header values are checked against sane bounds and a truncated data chunk is reported as corrupt,
/// so a bad file fails at open with a message that names it, rather than yielding garbage.
public final class AudioFileReader {
    private let file: OpaquePointer   // SNDFILE *, owned here
    /// Header facts.
    public let info: AudioFileInfo

    /// Opens `path` for reading. The corresponding C function is `sf_open`.
    public init(path: String) throws(AudioError) {
        var status = stat()
        if stat(path, &status) != 0 {
            let reason = String(cString: strerror(errno))
            if errno == ENOENT || errno == ENOTDIR { throw AudioError(.fileNotFound, "\(path): no such file.") }
            throw AudioError(.filePermissionDenied, "\(path): cannot be read.", cause: reason)
        }
        if (status.st_mode & S_IFMT) == S_IFDIR { throw AudioError(.unsupportedFormat, "\(path) is a directory, not a sound file.") }
        if (status.st_mode & S_IFMT) == S_IFREG && status.st_size == 0 {
            throw AudioError(.corruptFile, "\(path) is empty (0 bytes).")
        }
        if access(path, R_OK) != 0 {
            throw AudioError(.filePermissionDenied, "\(path): permission denied.", cause: String(cString: strerror(errno)))
        }
        var sfInfo = SF_INFO()
        guard let opened = sf_open(path, Int32(SFM_READ), &sfInfo) else {
            let code = sf_error(nil)
            let cause = String(cString: sf_strerror(nil))
            switch Int(code) {
            case SF_ERR_UNRECOGNISED_FORMAT:
                if Self.hasKnownMagic(path) {
                    throw AudioError(.corruptFile, "\(path) looks like a sound file but its header is damaged.", cause: cause)
                }
                throw AudioError(.unsupportedFormat, "\(path) is not in a sound format libsndfile reads.", cause: cause)
            case SF_ERR_UNSUPPORTED_ENCODING:
                throw AudioError(.unsupportedFormat, "\(path) uses an encoding libsndfile cannot decode.", cause: cause)
            case SF_ERR_MALFORMED_FILE:
                throw AudioError(.corruptFile, "\(path) is damaged or truncated.", cause: cause)
            default:
                throw AudioError(.corruptFile, "\(path) could not be opened as a sound file.", cause: cause)
            }
        }
        let container = Self.formatName(sfInfo.format & Int32(SF_FORMAT_TYPEMASK), major: true)
        let encoding = Self.formatName(sfInfo.format & Int32(SF_FORMAT_SUBMASK), major: false)
        let info = AudioFileInfo(path: path, container: container, encoding: encoding, sampleRate: Int(sfInfo.samplerate),
                                 channels: Int(sfInfo.channels), frames: max(0, sfInfo.frames))
        do throws(AudioError) {
            guard (1...768_000).contains(info.sampleRate) else {
                throw AudioError(.corruptFile, "\(path) declares an impossible sample rate of \(sfInfo.samplerate) Hz.")
            }
            guard (1...1_024).contains(info.channels) else {
                throw AudioError(.corruptFile, "\(path) declares an impossible \(sfInfo.channels) channels.")
            }
            guard sfInfo.frames >= 0, sfInfo.frames < Int64(info.sampleRate) * 86_400 * 31 else {
                throw AudioError(.corruptFile, "\(path) declares an impossible length of \(sfInfo.frames) frames.")
            }
            if let truncation = Self.truncationNote(opened) {
                throw AudioError(.corruptFile, "\(path) is truncated: its header promises more audio than the file holds.", cause: truncation)
            }
        } catch {
            sf_close(opened)
            throw error
        }
        self.file = opened
        self.info = info
    }

    deinit { sf_close(file) }

    /// Reads up to `frames` interleaved frames as floats in [-1, 1) (16-bit data converts exactly).
    /// The corresponding C function is `sf_readf_float`.
    /// - Returns: frames read; 0 at the end of the file.
    public func read(into buffer: UnsafeMutablePointer<Float>, frames: Int) throws(AudioError) -> Int {
        let count = sf_readf_float(file, buffer, sf_count_t(frames))
        if count < frames, sf_error(file) != 0 {
            throw AudioError(.corruptFile, "\(info.path): reading failed part way.", cause: String(cString: sf_strerror(file)))
        }
        // libsndfile reports undecodable data in compressed files as an error; floats out of a bad decoder may be NaN.
        for i in 0..<(Int(count) * info.channels) where !buffer[i].isFinite { buffer[i] = 0 }
        return Int(count)
    }

    /// libsndfile's open log: a note about a short data chunk, or nil.
    private static func truncationNote(_ file: OpaquePointer) -> String? {
        var log = [CChar](repeating: 0, count: 4_096)
        let length = log.withUnsafeMutableBytes { sf_command(file, Int32(SFC_GET_LOG_INFO), $0.baseAddress, Int32($0.count)) }
        guard length > 0 else { return nil }
        let text = String(decoding: log.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        for line in text.split(separator: "\n") {
            let lower = line.lowercased()
            if lower.contains("should be") || lower.contains("truncated") || lower.contains("file is too short") {
                return line.trimmingCharacters(in: CharacterSet.whitespaces)
            }
        }
        return nil
    }

    private static func hasKnownMagic(_ path: String) -> Bool {
        guard let handle = fopen(path, "rb") else { return false }
        defer { fclose(handle) }
        var magic = [UInt8](repeating: 0, count: 4)
        guard fread(&magic, 1, 4, handle) == 4 else { return false }
        let known: [[UInt8]] = [Array("RIFF".utf8), Array("RIFX".utf8), Array("RF64".utf8), Array("fLaC".utf8),
                                Array("OggS".utf8), Array("FORM".utf8), Array(".snd".utf8), Array("caff".utf8)]
        return known.contains(magic)
    }

    /// libsndfile's name for a major or sub format code (`SFC_GET_FORMAT_INFO`).
    static func formatName(_ code: Int32, major: Bool) -> String {
        var info = SF_FORMAT_INFO()
        info.format = code
        guard sf_command(nil, Int32(SFC_GET_FORMAT_INFO), &info, Int32(MemoryLayout<SF_FORMAT_INFO>.size)) == 0, let name = info.name else {
            return String(format: "0x%04x", code)
        }
        return String(cString: name)
    }
}
