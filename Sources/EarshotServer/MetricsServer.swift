public import EarshotMonitoring
import Foundation
import Hummingbird
import Logging
import NIOCore

/// A small HTTP server for a long-running process that is not `earshot serve` (`earshot run --metrics-port`):
/// Prometheus `GET /metrics` and `GET /healthz`, on its own event loop, stopped by `stop()`.
public final class MetricsServer: @unchecked Sendable {
    private var task: Task<Void, any Error>?
    /// The port bound (useful with port 0).
    public private(set) var port = 0

    /// Starts listening and returns once the socket is bound; throws when it cannot be (port in use, bad address).
    /// `healthy` answers /healthz: 200 with its detail when true, 503 when false.
    public init(host: String, port: Int, registry: MetricsRegistry, healthy: @escaping @Sendable () -> (Bool, String)) throws {
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: registry.render())))
        }
        router.get("/healthz") { _, _ -> Response in
            let (ok, detail) = healthy()
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: ok ? .ok : .serviceUnavailable, headers: headers, body: .init(byteBuffer: ByteBuffer(string: detail + "\n")))
        }
        var logger = Logger(label: "earshot-metrics")
        logger.logLevel = .error
        final class Bound: @unchecked Sendable { var port = 0; let ready = DispatchSemaphore(value: 0) }
        let bound = Bound()
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "earshot"),
                              onServerRunning: { channel in bound.port = channel.localAddress?.port ?? 0; bound.ready.signal() }, logger: logger)
        final class Failure: @unchecked Sendable { var error: (any Error)? }
        let failure = Failure()
        task = Task.detached {
            do { try await app.run() } catch { failure.error = error; bound.ready.signal(); throw error }
        }
        guard bound.ready.wait(timeout: .now() + 10) == .success, failure.error == nil, bound.port > 0 else {
            task?.cancel()
            throw MetricsServerError(message: "cannot listen on \(host):\(port): \(failure.error.map { "\($0)" } ?? "timed out")")
        }
        self.port = bound.port
    }

    public func stop() { task?.cancel() }
    deinit { task?.cancel() }
}

public struct MetricsServerError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
