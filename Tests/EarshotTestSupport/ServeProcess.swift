public import Foundation
import Glibc
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A running `earshot serve --port 0 …` (or `earshot-collector serve --port 0 …`), its port read from the line it
/// prints when listening. Killed when released.
public final class ServeProcess: @unchecked Sendable {
    public let process = Process()
    public let port: Int
    private let errors = Pipe()
    /// What the server printed on stderr before it listened.
    public let banner: String

    public init(_ arguments: [String] = [], environment: [String: String] = [:], program: String = Programs.earshot) throws {
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = ["serve", "--port", "0"] + arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        banner = errors.firstLine()
        guard let range = banner.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression),
              let port = Int(banner[range].split(separator: ":").last ?? "") else {
            _ = Glibc.kill(process.processIdentifier, SIGKILL)
            throw ServeProcessError(message: "\((program as NSString).lastPathComponent) serve did not start: \(banner)")
        }
        self.port = port
    }

    public var base: String { "http://127.0.0.1:\(port)" }
    public var transcriptions: URL { URL(string: base + "/v1/audio/transcriptions")! }

    /// A plain request: status and body.
    public func request(_ path: String, method: String = "GET", headers: [String: String] = [:], body: Data? = nil) throws -> (status: Int, body: Data) {
        var request = URLRequest(url: URL(string: base + path)!, timeoutInterval: 30)
        request.httpMethod = method
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        request.httpBody = body
        final class Box: @unchecked Sendable { var result: (Int, Data)?; var error: (any Error)? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error { box.error = error } else { box.result = ((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data()) }
            done.signal()
        }.resume()
        done.wait()
        if let error = box.error { throw error }
        return box.result!
    }

    /// Stops the server with SIGTERM and returns its exit status (SIGKILL after 10 s).
    public func terminate() -> Int32 {
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL); usleep(100_000) }
        return process.isRunning ? -1 : process.terminationStatus
    }

    deinit { if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) } }
}

public struct ServeProcessError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
