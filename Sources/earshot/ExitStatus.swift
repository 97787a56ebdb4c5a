import ArgumentParser
import EarshotAudio
import EarshotDSP
import EarshotInference
import EarshotRecognizer
import EarshotBundles
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
    case deviceBusy = 75       // EX_TEMPFAIL: try again when the other program lets go (or the collector is back)
    static let tempFailure = ExitStatus.deviceBusy
    case permission = 77       // EX_NOPERM
    case unsupportedFormat = 79
    case integrityFailure = 80 // a bundle's model does not match its manifest's hash

    /// The exit status for a model error.
    init(_ error: ModelError) {
        switch error.code {
        case .io: self = .inputMissing
        case .malformed, .invalidModel: self = .corruptInput
        case .unsupportedOperator, .unsupportedType: self = .unsupportedFormat
        case .invalidInput: self = .usage
        default: self = .software
        }
    }

    /// The exit status for a recogniser error.
    init(_ error: RecognizerError) {
        switch error.code {
        case .integrity: self = .integrityFailure
        case .bundle, .model: self = .corruptInput
        case .input: self = .usage
        }
    }

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

/// Prints `earshot: error: …` on stderr and returns the exit code to throw. The one place errors meet the user.
func fail(_ message: String, _ status: ExitStatus) -> ExitCode {
    FileHandle.standardError.write(Data("earshot: error: \(message)\n".utf8))
    return ExitCode(status.rawValue)
}

/// Runs `body`, turning Earshot's typed errors into one line on stderr and their exit status.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as AudioError {
        throw fail(error.description, ExitStatus(error))
    } catch let error as ModelError {
        throw fail(error.description, ExitStatus(error))
    } catch let error as RecognizerError {
        throw fail(error.description, ExitStatus(error))
    } catch let error as FrontendError {
        throw fail(error.description, .usage)
    } catch let error as GrammarError {
        throw fail(error.description, error.unreadable ? .inputMissing : .corruptInput)
    }
}
