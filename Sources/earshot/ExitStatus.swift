import ArgumentParser
import EarshotAudio
import Foundation

/// Process exit codes (sysexits.h where one fits). Scripts rely on these numbers: never renumber them.
enum ExitStatus: Int32, CaseIterable {
    case usage = 64            // EX_USAGE (ArgumentParser's validation errors use it too)
    case corruptInput = 65     // EX_DATAERR: corrupt, truncated or absurd input
    case inputMissing = 66     // EX_NOINPUT
    case deviceMissing = 69    // EX_UNAVAILABLE
    case software = 70         // EX_SOFTWARE
    case cannotCreate = 73     // EX_CANTCREAT
    case ioError = 74          // EX_IOERR
    case deviceBusy = 75       // EX_TEMPFAIL: try again when the other program lets go
    case permission = 77       // EX_NOPERM
    case unsupportedFormat = 79

    /// The exit status for an audio error.
    init(_ error: AudioError) {
        switch error.code {
        case .deviceNotFound: self = .deviceMissing
        case .deviceBusy: self = .deviceBusy
        case .devicePermissionDenied, .filePermissionDenied: self = .permission
        case .deviceUnsupportedConfiguration, .unsupportedFormat: self = .unsupportedFormat
        case .deviceFailed: self = .ioError
        case .fileNotFound: self = .inputMissing
        case .corruptFile, .endOfStream: self = .corruptInput
        case .writeFailed: self = .cannotCreate
        case .invalidArgument: self = .usage
        default: self = .software
        }
    }
}

/// Prints `earshot: error: …` on stderr and exits with the error's status. The one place errors meet the user.
func fail(_ error: AudioError) -> ExitCode {
    FileHandle.standardError.write(Data("earshot: error: \(error)\n".utf8))
    return ExitCode(ExitStatus(error).rawValue)
}

/// Runs `body`, turning an `AudioError` into its message and exit status.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as AudioError {
        throw fail(error)
    }
}
