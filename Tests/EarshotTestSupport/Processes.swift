public import Foundation

/// The result of running a program to completion.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var stdoutData: Data
    public init(status: Int32, stdout: String, stderr: String, stdoutData: Data) {
        self.status = status; self.stdout = stdout; self.stderr = stderr; self.stdoutData = stdoutData
    }
}

/// Runs the real built binaries, the way a technician or script would.
public enum Programs {
    /// The folder holding the built products (`earshot`), found beside the running test bundle, or `$EARSHOT_BIN_DIR`.
    public static var productsDirectory: String {
        if let override = ProcessInfo.processInfo.environment["EARSHOT_BIN_DIR"] { return override }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        // On Linux the runner is …/debug/EarshotPackageTests.xctest; on macOS it is inside a bundle.
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("earshot").path), directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        return directory.path
    }

    /// Path of the `earshot` binary under test.
    public static var earshot: String { productsDirectory + "/earshot" }

    /// Path of the `earshot-collector` binary under test.
    public static var collector: String { productsDirectory + "/earshot-collector" }

    /// Runs `executable` with `arguments`, feeding `stdin`, and waits (killing it after `timeout` seconds).
    public static func run(_ executable: String, _ arguments: [String], stdin: Data? = nil,
                           environment: [String: String] = [:], timeout: Double = 120) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let outPipe = Pipe(), errPipe = Pipe(), inPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = inPipe
        try process.run()
        let feeder = Thread {
            if let stdin { inPipe.fileHandleForWriting.write(stdin) }
            try? inPipe.fileHandleForWriting.close()
        }
        feeder.start()
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data()
        nonisolated(unsafe) var errData = Data()
        group.enter()
        DispatchQueue.global().async { outData = outPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData = errPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        if group.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            _ = group.wait(timeout: .now() + 5)
        }
        process.waitUntilExit()
        return ProcessResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                             stderr: String(decoding: errData, as: UTF8.self), stdoutData: outData)
    }

    /// Runs the `earshot` binary.
    public static func earshot(_ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:]) throws -> ProcessResult {
        try run(earshot, arguments, stdin: stdin, environment: environment)
    }

    /// True when `name` is on PATH.
    public static func available(_ name: String) -> Bool {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return paths.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
    }
}

extension Pipe {
    /// Reads until the first newline (or the end), for programs that announce themselves on one line (a port).
    public func firstLine() -> String {
        var text = Data()
        while !text.contains(0x0A) {
            let chunk = fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += chunk
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// Runs blocking work (a child process, a blocking HTTP call) on a thread of its own and awaits it. Async tests must not
/// block the cooperative pool: with two cores it has two threads, and a blocked pair starves every other task,
/// including the one holding a database lock the blocked child process is waiting for.
public func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}
