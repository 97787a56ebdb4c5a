internal import CSndFile
import Glibc
import Foundation

/// A container Earshot writes.
public enum AudioContainer: String, Sendable, CaseIterable, Codable {
    case wav, flac, ogg, aiff

    /// Picks the container from a file name's extension (`.wav`, `.flac`, `.ogg`/`.oga`, `.aif`/`.aiff`).
    public init?(path: String) {
        switch (path as NSString).pathExtension.lowercased() {
        case "wav", "wave": self = .wav
        case "flac": self = .flac
        case "ogg", "oga": self = .ogg
        case "aif", "aiff": self = .aiff
        default: return nil
        }
    }

    /// libsndfile format code: 16-bit PCM for the lossless containers, Vorbis for Ogg.
    var sndfileFormat: Int32 {
        switch self {
        case .wav: Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16)
        case .flac: Int32(SF_FORMAT_FLAC | SF_FORMAT_PCM_16)
        case .ogg: Int32(SF_FORMAT_OGG | SF_FORMAT_VORBIS)
        case .aiff: Int32(SF_FORMAT_AIFF | SF_FORMAT_PCM_16)
        }
    }
}

/// Writes 16-bit audio to WAV, FLAC, Ogg/Vorbis or AIFF through libsndfile.
///
/// WAV headers are rewritten after every write, so a recording cut short by a crash is still a valid file.
public final class AudioFileWriter {
    private var file: OpaquePointer?   // SNDFILE *, owned here; nil once closed
    public let path: String
    public let container: AudioContainer
    public let sampleRate: Int
    public let channels: Int
    /// Frames written so far.
    public private(set) var framesWritten: Int64 = 0

    /// Creates (or replaces) `path`. The container comes from `container` or else the extension.
    /// The corresponding C function is `sf_open` with `SFM_WRITE`.
    public init(path: String, container: AudioContainer? = nil, sampleRate: Int, channels: Int = 1) throws(AudioError) {
        guard let container = container ?? AudioContainer(path: path) else {
            throw AudioError(.unsupportedFormat, "Cannot tell the format of \(path) from its extension: use .wav, .flac, .ogg or .aiff.")
        }
        guard (1...655_350).contains(sampleRate), (1...255).contains(channels) else {
            throw AudioError(.invalidArgument, "Cannot write \(channels) channel(s) at \(sampleRate) Hz.")
        }
        var info = SF_INFO()
        info.samplerate = Int32(sampleRate)
        info.channels = Int32(channels)
        info.format = container.sndfileFormat
        guard sf_format_check(&info) != 0 else {
            throw AudioError(.unsupportedFormat, "libsndfile cannot write \(container.rawValue) with \(channels) channel(s) at \(sampleRate) Hz.")
        }
        guard let opened = sf_open(path, Int32(SFM_WRITE), &info) else {
            let cause = String(cString: sf_strerror(nil))
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) {
                throw AudioError(.writeFailed, "Cannot create \(path): folder \(directory) does not exist.", cause: cause)
            }
            if access(directory.isEmpty ? "." : directory, W_OK) != 0 {
                throw AudioError(.filePermissionDenied, "Cannot create \(path): permission denied.", cause: cause)
            }
            throw AudioError(.writeFailed, "Cannot create \(path).", cause: cause)
        }
        if container == .wav || container == .aiff {
            sf_command(opened, Int32(SFC_SET_UPDATE_HEADER_AUTO), nil, Int32(SF_TRUE))
        }
        file = opened
        self.path = path
        self.container = container
        self.sampleRate = sampleRate
        self.channels = channels
    }

    deinit { if let file { sf_close(file) } }

    /// Appends interleaved 16-bit frames. The corresponding C function is `sf_writef_short`.
    public func write(_ samples: UnsafeBufferPointer<Int16>) throws(AudioError) {
        guard let file else { throw AudioError(.writeFailed, "\(path) is already closed.") }
        let frames = samples.count / channels
        guard frames > 0, let base = samples.baseAddress else { return }
        let written = sf_writef_short(file, base, sf_count_t(frames))
        framesWritten += written
        if written != frames {
            throw AudioError(.writeFailed, "Writing \(path) failed after \(framesWritten) frames (disk full?).",
                             cause: String(cString: sf_strerror(file)))
        }
    }

    /// Convenience for arrays.
    public func write(_ samples: [Int16]) throws(AudioError) {
        try samples.withUnsafeBufferPointer { (buffer) throws(AudioError) in try write(buffer) }
    }

    /// Finishes the header and closes the file. The corresponding C function is `sf_close`.
    public func close() throws(AudioError) {
        guard let file else { return }
        self.file = nil
        let status = sf_close(file)
        if status != 0 {
            throw AudioError(.writeFailed, "Closing \(path) failed.", cause: String(cString: sf_error_number(status)))
        }
    }
}
