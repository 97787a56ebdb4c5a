/// An audio input/output failure: a code for programs, a one-line message for people, and the cause.
///
/// Every ALSA, libsndfile and libsamplerate failure becomes one of these; C return codes never escape raw.
public struct AudioError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of failure this is. A struct over a private enum, so new cases are not breaking.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Storage: String, Sendable {
            case deviceNotFound, deviceBusy, devicePermissionDenied, deviceUnsupportedConfiguration, deviceFailed
            case fileNotFound, filePermissionDenied, corruptFile, unsupportedFormat, writeFailed
            case invalidArgument, resamplerFailed, endOfStream, tooLong
        }
        let storage: Storage
        /// The named capture device does not exist.
        public static var deviceNotFound: Self { .init(storage: .deviceNotFound) }
        /// The device exists but another program holds it.
        public static var deviceBusy: Self { .init(storage: .deviceBusy) }
        /// The device exists but this user may not open it (not in the `audio` group?).
        public static var devicePermissionDenied: Self { .init(storage: .devicePermissionDenied) }
        /// The device cannot do the requested format, rate, channels or buffer sizes.
        public static var deviceUnsupportedConfiguration: Self { .init(storage: .deviceUnsupportedConfiguration) }
        /// Any other device failure (I/O error, device unplugged, unrecoverable xrun).
        public static var deviceFailed: Self { .init(storage: .deviceFailed) }
        /// The input file does not exist.
        public static var fileNotFound: Self { .init(storage: .fileNotFound) }
        /// The file exists but cannot be opened for reading or writing.
        public static var filePermissionDenied: Self { .init(storage: .filePermissionDenied) }
        /// The file is in a known container but its header or data is damaged, truncated or absurd.
        public static var corruptFile: Self { .init(storage: .corruptFile) }
        /// The file's container or encoding is not one libsndfile (or Earshot) reads or writes.
        public static var unsupportedFormat: Self { .init(storage: .unsupportedFormat) }
        /// Writing an output file failed (disk full, I/O error).
        public static var writeFailed: Self { .init(storage: .writeFailed) }
        /// A caller passed a value outside its documented range.
        public static var invalidArgument: Self { .init(storage: .invalidArgument) }
        /// The sample-rate converter reported an error.
        public static var resamplerFailed: Self { .init(storage: .resamplerFailed) }
        /// The audio is longer than the caller accepts (an upload past its limit).
        public static var tooLong: Self { .init(storage: .tooLong) }
        /// A stream ended in the middle of a frame.
        public static var endOfStream: Self { .init(storage: .endOfStream) }
        public var description: String { storage.rawValue }
    }

    /// What failed, for programs (exit codes, metrics labels).
    public var code: Code
    /// One line for people: what failed, on which device or file, and what to do about it.
    public var message: String
    /// The underlying library's own words (`snd_strerror`, `sf_strerror`, `strerror`), if any.
    public var cause: String?

    public init(_ code: Code, _ message: String, cause: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message + (cause.map { " (\($0))" } ?? "") }
}
