public import EarshotMonitoring
public import Foundation
import Hummingbird
public import HummingbirdTLS
import Logging
import NIOCore

/// Settings of `earshot-collector serve`.
public struct CollectorConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (reported through `onRunning`).
    public var port = 8090
    public var limits = IngestLimits()
    /// When set, the dashboard needs `Authorization: Bearer <token>` or `?token=<token>` (ingest always needs a device token).
    public var dashboardToken: String?
    /// Rows per drift window on the dashboard.
    public var dashboardWindow = 200
    /// PEM files: with both, the collector speaks HTTPS only.
    public var tlsCertificate: String?
    public var tlsKey: String?
    public init() {}
}

/// The collector's HTTP side: `POST /v1/ingest` (docs/SYNC.md), the dashboard (`/`, `/devices/NAME`,
/// `/models/NAME@VERSION`), `GET /healthz` and Prometheus `GET /metrics`.
/// Stateless apart from the store, so several processes can serve one PostgreSQL database.
public final class CollectorServer: Sendable {
    public let store: any CollectorStore
    public let configuration: CollectorConfiguration
    public let metrics: MetricsRegistry

    public init(store: any CollectorStore, configuration: CollectorConfiguration, metrics: MetricsRegistry = MetricsRegistry()) {
        self.store = store
        self.configuration = configuration
        self.metrics = metrics
        metrics.declare("earshot_collector_ingest_requests_total", .counter, help: "Ingest requests by HTTP status.")
        metrics.declare("earshot_collector_records_stored_total", .counter, help: "Records stored (each identity once).")
        metrics.declare("earshot_collector_records_duplicate_total", .counter, help: "Records sent again and not stored twice.")
        metrics.declare("earshot_collector_ingest_seconds", .histogram, help: "Time to check and store one batch.")
        metrics.declare("earshot_collector_page_seconds", .histogram, help: "Time to render one dashboard page.")
        metrics.collectProcessMetrics()
    }

    /// An HTTP answer: status and JSON body.
    public struct Answer: Sendable {
        public var status: Int
        public var body: Data
    }

    /// Answers one ingest request from its headers and body.
    public func ingest(authorization: String?, encoding: String?, body: Data) async -> Answer {
        let started = ContinuousClock.now
        let answer: Answer
        do throws(CollectorError) {
            let result = try await storing(authorization: authorization, encoding: encoding, body: body)
            metrics.increment("earshot_collector_records_stored_total", by: Double(result.stored))
            metrics.increment("earshot_collector_records_duplicate_total", by: Double(result.duplicates))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            answer = Answer(status: 200, body: (try? encoder.encode(result)) ?? Data())
        } catch {
            answer = Self.error(error)
        }
        metrics.increment("earshot_collector_ingest_requests_total", ["status": String(answer.status)])
        let elapsed = (ContinuousClock.now - started).components
        metrics.observe("earshot_collector_ingest_seconds", Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18)
        return answer
    }

    private func storing(authorization: String?, encoding: String?, body: Data) async throws(CollectorError) -> IngestResult {
        guard let authorization, authorization.hasPrefix("Bearer "), authorization.count > 7 else {
            throw .unauthorized("missing bearer token: send Authorization: Bearer <device token> (earshot-collector devices add)")
        }
        let token = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        guard let device = try await store.device(tokenHash: DeviceToken.hash(token)) else {
            throw .unauthorized("unknown device token")
        }
        if let revoked = device.revokedAt {
            throw .unauthorized("device \(device.name) was revoked at \(Date(timeIntervalSince1970: revoked)); its uploads are refused")
        }
        let batch = try IngestBatch(body: body, encoding: encoding, limits: configuration.limits)
        if let bound = device.deviceID, bound != batch.deviceID {
            throw .forbidden("this token belongs to device \(device.name) (id \(bound)), not to device id \(batch.deviceID)")
        }
        return try await store.ingest(batch, device: device, receivedAt: Date().timeIntervalSince1970)
    }

    static func error(_ error: CollectorError) -> Answer {
        let body = (try? JSONSerialization.data(withJSONObject: ["error": error.message], options: [.sortedKeys])) ?? Data()
        return Answer(status: error.status >= 400 ? error.status : 500, body: body)
    }

    /// Serves until SIGINT or SIGTERM; `onRunning` gets the bound port once the socket listens.
    public func run(onRunning: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let router = Router()
        let limit = configuration.limits.maximumBodyBytes
        router.post("/v1/ingest") { request, _ -> Response in
            if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
                return Self.response(Self.error(.tooLarge("the request body is \(length) bytes; the limit is \(limit)")))
            }
            var request = request
            let buffer: ByteBuffer
            do { buffer = try await request.collectBody(upTo: limit) } catch {
                return Self.response(Self.error(.tooLarge("the request body is larger than the \(limit)-byte limit")))
            }
            let answer = await self.ingest(authorization: request.headers[.authorization], encoding: request.headers[.contentEncoding],
                                           body: Data(buffer.readableBytesView))
            return Self.response(answer)
        }
        var dashboard = Dashboard(store: store)
        dashboard.window = configuration.dashboardWindow
        let pages = dashboard
        router.get("/") { request, _ in await self.html(request) { () async throws(CollectorError) -> String? in try await pages.fleetPage() } }
        router.get("/devices/:name") { request, context in
            let name = context.parameters.get("name") ?? ""
            return await self.html(request) { () async throws(CollectorError) -> String? in try await pages.devicePage(name) }
        }
        router.get("/models/:model") { request, context in
            let model = context.parameters.get("model") ?? ""
            return await self.html(request) { () async throws(CollectorError) -> String? in try await pages.modelPage(model) }
        }
        router.get("/healthz") { _, _ in Self.response(Answer(status: 200, body: Data("{\"status\":\"ok\"}".utf8))) }
        router.get("/metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: self.metrics.render())))
        }
        var logger = Logger(label: "earshot-collector")
        logger.logLevel = .warning
        let address = ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: "earshot-collector")
        if let tls = try tlsConfiguration() {
            let app = Application(router: router, server: try .tls(.http1(), tlsConfiguration: tls), configuration: address,
                                  onServerRunning: { channel in onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
            try await app.runService()
        } else {
            let app = Application(router: router, configuration: address,
                                  onServerRunning: { channel in onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
            try await app.runService()
        }
    }

    /// The server's TLS settings from the PEM certificate chain and key, or nil for plain HTTP.
    public func tlsConfiguration() throws(CollectorError) -> TLSConfiguration? {
        switch (configuration.tlsCertificate, configuration.tlsKey) {
        case (nil, nil): return nil
        case (let certificate?, let key?):
            let chain: [NIOSSLCertificate]
            do { chain = try NIOSSLCertificate.fromPEMFile(certificate) } catch {
                throw CollectorError(2, "cannot read the TLS certificate \(certificate) (PEM expected): \(error)")
            }
            guard !chain.isEmpty else { throw CollectorError(2, "\(certificate) holds no certificate") }
            let privateKey: NIOSSLPrivateKey
            do { privateKey = try NIOSSLPrivateKey(file: key, format: .pem) } catch {
                throw CollectorError(2, "cannot read the TLS key \(key) (PEM expected): \(error)")
            }
            return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        default:
            throw CollectorError(2, "TLS needs both a certificate and a key")
        }
    }

    /// A dashboard page: 401 without the dashboard token (when one is set), 404 for unknown names, 503 when storage fails.
    private func html(_ request: Request, _ render: () async throws(CollectorError) -> String?) async -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        if let token = configuration.dashboardToken {
            let bearer = request.headers[.authorization] == "Bearer \(token)"
            let query = request.uri.queryParameters.get("token") == token
            guard bearer || query else {
                return Response(status: .unauthorized, headers: headers, body: .init(byteBuffer: ByteBuffer(string: Dashboard.page(title: "Earshot", body: "<h1>Unauthorized</h1><p>This dashboard needs its token (?token=…).</p>"))))
            }
        }
        let started = ContinuousClock.now
        do throws(CollectorError) {
            guard let page = try await render() else {
                return Response(status: .notFound, headers: headers, body: .init(byteBuffer: ByteBuffer(string: Dashboard.page(title: "Earshot", body: "<p><a href=\"/\">← fleet</a></p><h1>Not found</h1><p>No such device or model.</p>"))))
            }
            let elapsed = (ContinuousClock.now - started).components
            metrics.observe("earshot_collector_page_seconds", Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18)
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page)))
        } catch {
            return Response(status: .serviceUnavailable, headers: headers, body: .init(byteBuffer: ByteBuffer(string: Dashboard.page(title: "Earshot", body: "<h1>Storage unavailable</h1><p>\(Charts.escape(error.message))</p>"))))
        }
    }

    static func response(_ answer: Answer) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }
}
