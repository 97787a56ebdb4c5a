public import Foundation
import Glibc

/// A script in scripts/test/ run as a real server on 127.0.0.1: it prints its port first and exits with its parent.
/// Killed (SIGKILL) when released.
public class LoopbackServer: @unchecked Sendable {
    public let process = Process()
    public let port: Int

    public init(script: String, arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Fixtures.packageRoot + "/scripts/test/" + script] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        port = Int(out.firstLine().trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// Kills the launched process; the server (perhaps a child of a launcher shim such as pyenv's) exits within 50 ms
    /// of losing its parent. Then a moment for its socket to close (waitUntilExit can hang in the test runner).
    public func kill() {
        guard !killed else { return }
        killed = true
        _ = Glibc.kill(process.processIdentifier, SIGKILL)
        usleep(250_000)
    }
    private var killed = false
    deinit { kill() }
}

/// A real OpenAI-compatible transcription server on 127.0.0.1 (scripts/test/transcription_server.py) behaving as the
/// servers Earshot falls back to do, including the ways they fail.
public final class TranscriptionServer: LoopbackServer, @unchecked Sendable {
    /// Starts a server in `mode` (see the script), on `port` (0: any free port) answering `text` in mode `say`.
    public init(_ mode: String, port: Int = 0, text: String? = nil) throws {
        try super.init(script: "transcription_server.py", arguments: [mode, "--port", String(port)] + (text.map { ["--text", $0] } ?? []))
    }

    public var url: URL { URL(string: "http://127.0.0.1:\(port)/v1/audio/transcriptions")! }
}
