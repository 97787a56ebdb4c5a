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
    /// Uploaded utterance audio: accepted or not, sizes, retention.
    public var audio = AudioLimits()
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
        metrics.declare("earshot_collector_audio_bytes_total", .counter, help: "Bytes of utterance audio stored from devices.")
        metrics.declare("earshot_collector_rollout_polls_total", .counter, help: "Device rollout polls by the action assigned.")
        metrics.declare("earshot_collector_bundle_bytes_total", .counter, help: "Bundle bytes served in ranges (resumed downloads).")
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

    /// The device a bearer token belongs to; 401 when it is missing, unknown or revoked.
    private func authenticate(_ authorization: String?) async throws(CollectorError) -> DeviceEntry {
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
        return device
    }

    private func storing(authorization: String?, encoding: String?, body: Data) async throws(CollectorError) -> IngestResult {
        let device = try await authenticate(authorization)
        let batch = try IngestBatch(body: body, encoding: encoding, limits: configuration.limits)
        if let bound = device.deviceID, bound != batch.deviceID {
            throw .forbidden("this token belongs to device \(device.name) (id \(bound)), not to device id \(batch.deviceID)")
        }
        return try await store.ingest(batch, device: device, receivedAt: Date().timeIntervalSince1970)
    }

    /// Answers a device's rollout poll (`POST /v1/rollout`): stores its report (slots, the events since its last
    /// report, such as rollbacks it made on its own while offline) and returns its assignment.
    public func rolloutPoll(authorization: String?, body: Data) async -> Answer {
        do throws(CollectorError) {
            let device = try await authenticate(authorization)
            guard body.count <= 1_048_576 else { throw .tooLarge("a rollout report is at most 1 MiB") }
            let report: DeviceRolloutReport
            do { report = try JSONDecoder().decode(DeviceRolloutReport.self, from: body) } catch {
                throw .badRequest("the rollout report is not valid JSON of the expected shape: \(error)")
            }
            if let bound = device.deviceID, bound != report.deviceID {
                throw .forbidden("this token belongs to device \(device.name) (id \(bound)), not to device id \(report.deviceID)")
            }
            try await store.saveReport(device: device.name, report, at: Date().timeIntervalSince1970)
            let assignment = try await RolloutController(store: store).assignment(for: device)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            metrics.increment("earshot_collector_rollout_polls_total", ["action": assignment.action.rawValue])
            return Answer(status: 200, body: (try? encoder.encode(assignment)) ?? Data())
        } catch {
            return Self.error(error)
        }
    }

    /// A registered bundle's archive for a device (`GET /v1/models/ID/bundle`), whole or from a byte offset
    /// (`Range: bytes=N-` or `bytes=N-M`, answered 206) so an interrupted download resumes.
    public func bundle(authorization: String?, id: String, range: String?) async -> (Answer, [String: String]) {
        do throws(CollectorError) {
            _ = try await authenticate(authorization)
            guard let model = try await store.registeredModel(id), let archive = try await store.modelArchive(id) else {
                throw CollectorError(404, "no model \(id) in the registry")
            }
            var headers = ["ETag": "\"\(model.archiveSha256)\"", "Accept-Ranges": "bytes", "Content-Type": "application/x-tar"]
            guard let range else { return (Answer(status: 200, body: archive), headers) }
            guard let (start, end) = Self.byteRange(range, size: archive.count) else {
                headers["Content-Range"] = "bytes */\(archive.count)"
                return (Answer(status: 416, body: Data("{\"error\":\"the range \(range.prefix(60)) is not within the \(archive.count)-byte archive\"}".utf8)), headers)
            }
            headers["Content-Range"] = "bytes \(start)-\(end)/\(archive.count)"
            metrics.increment("earshot_collector_bundle_bytes_total", by: Double(end - start + 1))
            return (Answer(status: 206, body: archive.subdata(in: start..<(end + 1))), headers)
        } catch {
            return (Self.error(error), [:])
        }
    }

    /// Stores one sampled utterance clip a device uploads (`PUT /v1/audio/ID.flac`): 201 stored, 200 already there.
    public func uploadClip(authorization: String?, file: String, body: Data) async -> Answer {
        do throws(CollectorError) {
            let device = try await authenticate(authorization)
            try checkClipUpload(file: file, audio: body, limits: configuration.audio)
            let stored = try await store.storeClip(device: device.name, name: "audio/" + file, audio: body, limits: configuration.audio,
                                                   at: Date().timeIntervalSince1970)
            metrics.increment("earshot_collector_audio_bytes_total", by: stored ? Double(body.count) : 0)
            return Answer(status: stored ? 201 : 200, body: Data("{\"stored\":\(stored)}".utf8))
        } catch {
            return Self.error(error)
        }
    }

    /// One `bytes=` range (a start, optionally an end; no suffix ranges or lists) within `size`, inclusive.
    static func byteRange(_ header: String, size: Int) -> (Int, Int)? {
        guard header.hasPrefix("bytes=") else { return nil }
        let parts = header.dropFirst(6).split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let start = Int(parts[0]), start >= 0, start < size else { return nil }
        if parts[1].isEmpty { return (start, size - 1) }
        guard let end = Int(parts[1]), end >= start else { return nil }
        return (start, min(end, size - 1))
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
        router.post("/v1/rollout") { request, _ -> Response in
            var request = request
            let buffer: ByteBuffer
            do { buffer = try await request.collectBody(upTo: 1_048_576) } catch {
                return Self.response(Self.error(.tooLarge("a rollout report is at most 1 MiB")))
            }
            return Self.response(await self.rolloutPoll(authorization: request.headers[.authorization], body: Data(buffer.readableBytesView)))
        }
        let clipLimit = configuration.audio.maximumClipBytes
        router.put("/v1/audio/:file") { request, context -> Response in
            var request = request
            let buffer: ByteBuffer
            do { buffer = try await request.collectBody(upTo: clipLimit) } catch {
                return Self.response(Self.error(.tooLarge("a clip is at most \(clipLimit) bytes")))
            }
            return Self.response(await self.uploadClip(authorization: request.headers[.authorization], file: context.parameters.get("file") ?? "",
                                                       body: Data(buffer.readableBytesView)))
        }
        router.get("/v1/models/:model/bundle") { request, context -> Response in
            let (answer, extra) = await self.bundle(authorization: request.headers[.authorization], id: context.parameters.get("model") ?? "",
                                                    range: request.headers[.range])
            var response = Self.response(answer)
            for (name, value) in extra {
                switch name {
                case "ETag": response.headers[.eTag] = value
                case "Accept-Ranges": response.headers[.acceptRanges] = value
                case "Content-Type": response.headers[.contentType] = value
                case "Content-Range": response.headers[.contentRange] = value
                default: break
                }
            }
            return response
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
        router.get("/rollouts/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            return await self.html(request) { () async throws(CollectorError) -> String? in try await pages.rolloutPage(id) }
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
