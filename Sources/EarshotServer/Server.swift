public import EarshotEdge
public import EarshotMonitoring
import EarshotAudio
import EarshotBundles
import EarshotRecognizer
public import Foundation
import Hummingbird
import Logging
import NIOCore

/// Settings of `earshot serve`.
public struct ServeConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (the one bound is reported through `onRunning`).
    public var port = 8080
    /// Largest request body accepted (OpenAI's limit is 25 MB).
    public var maximumUploadBytes = 25 * 1_024 * 1_024
    /// Longest audio accepted, in seconds.
    public var maximumSeconds = 600.0
    /// When set, `/v1/…` requires `Authorization: Bearer <token>`.
    public var token: String?
    public init() {}
}

/// The OpenAI-compatible transcription API over a local model: `POST /v1/audio/transcriptions` (multipart `file`,
/// `model`, `language`, `prompt`, `response_format` json|text|verbose_json, `temperature`), `GET /v1/models`,
/// `GET /healthz` and Prometheus `GET /metrics`. A bigger box serves as "the cloud" for small ones this way.
public final class TranscriptionEndpoint: Sendable {
    /// The models served; the first answers requests whose `model` names none of them (OpenAI clients send
    /// "whisper-1" by default).
    public let services: [any Transcriber]
    public var service: any Transcriber { services[0] }
    public let configuration: ServeConfiguration
    public let metrics: MetricsRegistry
    /// Recognition is blocking CPU work: it runs here, off the event loops, one recording at a time.
    private let work = DispatchQueue(label: "earshot-serve-recognizer")

    public convenience init(service: any Transcriber, configuration: ServeConfiguration, metrics: MetricsRegistry = MetricsRegistry()) {
        self.init(services: [service], configuration: configuration, metrics: metrics)
    }

    /// Serves `services` (at least one), chosen per request by the `model` field: a bundle name (`phrase-en`) or
    /// name@version.
    public init(services: [any Transcriber], configuration: ServeConfiguration, metrics: MetricsRegistry = MetricsRegistry()) {
        precondition(!services.isEmpty, "earshot serve needs a model")
        self.services = services
        self.configuration = configuration
        self.metrics = metrics
        metrics.declare("earshot_serve_requests_total", .counter, help: "Transcription requests by HTTP status.")
        metrics.declare("earshot_serve_request_seconds", .histogram, help: "Time to answer a transcription request, upload parsing included.")
        metrics.declare("earshot_serve_recognition_seconds", .histogram, help: "VAD and recognition time per request.")
        metrics.declare("earshot_serve_real_time_factor", .histogram, help: "Recognition time divided by audio duration, per request.",
                        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1])
        metrics.declare("earshot_serve_audio_seconds_total", .counter, help: "Seconds of audio transcribed.")
        metrics.declare("earshot_serve_utterances_total", .counter, help: "Utterances found in transcribed audio.")
        metrics.declare("earshot_model_info", .gauge, help: "The model served (value 1).")
        for s in services { metrics.set("earshot_model_info", ["model": s.model, "kind": s.kind], to: 1) }
        metrics.collectProcessMetrics()
    }

    /// An HTTP answer: status, content type and body.
    public struct Answer: Sendable {
        public var status: Int
        public var contentType: String
        public var body: Data
    }

    /// Answers one transcription request from its headers and body.
    public func transcribe(contentType: String?, authorization: String?, body: Data) async -> Answer {
        let started = ContinuousClock.now
        let answer: Answer
        do {
            answer = try await answering(contentType: contentType, authorization: authorization, body: body)
        } catch let error as ServeError {
            answer = Self.error(error)
        } catch {
            answer = Self.error(ServeError(.internalError, "\(error)"))
        }
        metrics.increment("earshot_serve_requests_total", ["status": String(answer.status)])
        metrics.observe("earshot_serve_request_seconds", (ContinuousClock.now - started).seconds)
        return answer
    }

    private func answering(contentType: String?, authorization: String?, body: Data) async throws -> Answer {
        try authorize(authorization)
        guard let boundary = contentType.flatMap(MultipartForm.boundary(contentType:)) else {
            throw ServeError(.unsupportedMedia, "Send multipart/form-data with a file field (as OpenAI's /v1/audio/transcriptions takes).")
        }
        let form = try MultipartForm(body: body, boundary: boundary)
        guard let file = form["file"] else { throw ServeError(.badRequest, "The form has no file field.") }
        let format = form.text("response_format") ?? "json"
        guard ["json", "text", "verbose_json"].contains(format) else {
            throw ServeError(.badRequest, "response_format \(format) is not supported; use json, text or verbose_json.")
        }
        let language = form.text("language") ?? "en"
        let name = file.filename ?? "file"
        let maximumSeconds = configuration.maximumSeconds
        let requested = form.text("model") ?? ""
        let service = services.first { $0.model == requested || $0.name == requested } ?? services[0]
        let (transcript, recognitionSeconds): (ServiceTranscript, Double) = try await withCheckedThrowingContinuation { continuation in
            work.async { continuation.resume(with: Result { try Self.decodeAndTranscribe(file.body, name: name, maximumSeconds: maximumSeconds, service: service) }) }
        }
        metrics.observe("earshot_serve_recognition_seconds", recognitionSeconds)
        if transcript.duration > 0 { metrics.observe("earshot_serve_real_time_factor", recognitionSeconds / transcript.duration) }
        metrics.increment("earshot_serve_audio_seconds_total", [:], by: transcript.duration)
        metrics.increment("earshot_serve_utterances_total", [:], by: Double(transcript.segments.count))
        switch format {
        case "text": return Answer(status: 200, contentType: "text/plain; charset=utf-8", body: Data((transcript.text + "\n").utf8))
        case "json": return try Self.json(["text": transcript.text])
        default: return try Self.json(Self.verbose(transcript, language: language))
        }
    }

    /// Decodes an upload and transcribes it; returns the transcript and the seconds recognition took.
    static func decodeAndTranscribe(_ data: Data, name: String, maximumSeconds: Double, service: any Transcriber) throws -> (ServiceTranscript, Double) {
        let decoded: [Int16]
        do { decoded = try AudioDecoder.pipelineSamples(from: data, name: name, maximumSeconds: maximumSeconds).samples } catch {
            throw ServeError(error.code == .tooLong ? .tooLarge : .unprocessable, error.description)
        }
        let start = ContinuousClock.now
        let transcript = try service.transcribe(decoded)
        return (transcript, (ContinuousClock.now - start).seconds)
    }

    private func authorize(_ header: String?) throws(ServeError) {
        guard let token = configuration.token else { return }
        guard let header, header.hasPrefix("Bearer "), Self.constantTimeEqual(String(header.dropFirst(7)), token) else {
            throw ServeError(.unauthorized, "A valid bearer token is required.")
        }
    }

    /// The `verbose_json` shape of OpenAI and whisper.cpp, plus Earshot's `label`, `confidence` and `top_k` per segment.
    static func verbose(_ t: ServiceTranscript, language: String) -> [String: Any] {
        func r(_ x: Double) -> Double { (x * 1_000).rounded() / 1_000 }
        let segments: [[String: Any]] = t.segments.enumerated().map { i, s in
            var object: [String: Any] = [
                "id": i, "seek": 0, "start": r(s.start), "end": r(s.end), "text": s.text, "tokens": [Int](), "temperature": 0,
                "avg_logprob": log(max(s.confidence, 1e-12)), "compression_ratio": 1, "no_speech_prob": 0,
                "label": s.label, "confidence": s.confidence,
            ]
            if let topK = s.topK { object["top_k"] = topK.map { ["label": $0.label, "probability": $0.probability] } }
            return object
        }
        let words: [[String: Any]] = t.words.map { ["word": $0.word, "start": r($0.start), "end": r($0.end), "probability": $0.confidence] }
        return ["task": "transcribe", "language": language, "duration": r(t.duration), "text": t.text, "segments": segments,
                "words": words, "model": t.model]
    }

    public func health() -> Answer {
        (try? Self.json(["status": "ok", "model": service.model, "models": services.map(\.model)])) ?? Answer(status: 500, contentType: "text/plain", body: Data())
    }

    public func models(authorization: String?) -> Answer {
        do {
            try authorize(authorization)
            let data: [[String: Any]] = services.map { s in
                ["id": s.name, "object": "model", "owned_by": "earshot", "version": s.version, "kind": s.kind]
            }
            return try Self.json(["object": "list", "data": data])
        } catch let error as ServeError { return Self.error(error) } catch { return Self.error(ServeError(.internalError, "\(error)")) }
    }

    public func metricsText() -> Answer {
        Answer(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Data(metrics.render().utf8))
    }

    static func json(_ object: Any) throws -> Answer {
        Answer(status: 200, contentType: "application/json", body: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
    }

    /// OpenAI's error shape: `{"error": {"message", "type", "code"}}`.
    static func error(_ error: ServeError) -> Answer {
        let type = error.kind == .unauthorized ? "authentication_error" : error.kind == .internalError ? "server_error" : "invalid_request_error"
        let object: [String: Any] = ["error": ["message": error.message, "type": type, "code": error.kind.rawValue]]
        let body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return Answer(status: error.kind.rawValue, contentType: "application/json", body: body)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) { difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
        return difference == 0
    }

    /// Serves until SIGINT or SIGTERM; `onRunning` gets the bound port once the socket listens.
    public func run(onRunning: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let router = Router()
        let limit = configuration.maximumUploadBytes
        router.post("/v1/audio/transcriptions") { request, _ -> Response in
            if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
                return Self.response(Self.error(ServeError(.tooLarge, "The upload is \(length) bytes; the limit is \(limit).")))
            }
            var request = request
            let buffer: ByteBuffer
            do { buffer = try await request.collectBody(upTo: limit) } catch {
                return Self.response(Self.error(ServeError(.tooLarge, "The upload is larger than the \(limit)-byte limit.")))
            }
            let answer = await self.transcribe(contentType: request.headers[.contentType], authorization: request.headers[.authorization],
                                               body: Data(buffer.readableBytesView))
            return Self.response(answer)
        }
        router.get("/v1/models") { request, _ in Self.response(self.models(authorization: request.headers[.authorization])) }
        router.get("/healthz") { _, _ in Self.response(self.health()) }
        router.get("/metrics") { _, _ in Self.response(self.metricsText()) }
        var logger = Logger(label: "earshot-serve")
        logger.logLevel = .warning
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "earshot"),
            onServerRunning: { channel in onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
        try await app.runService()
    }

    static func response(_ answer: Answer) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = answer.contentType
        return Response(status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }
}
