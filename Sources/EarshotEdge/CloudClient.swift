public import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What an OpenAI-compatible transcription endpoint answered (OpenAI, whisper.cpp server, speaches, LocalAI).
public struct CloudTranscription: Sendable, Equatable {
    public struct Segment: Sendable, Equatable {
        public var start: Double, end: Double, text: String
        /// whisper's mean token log probability and no-speech probability, when given.
        public var averageLogProbability: Double?, noSpeechProbability: Double?
    }
    public struct Word: Sendable, Equatable {
        public var word: String, start: Double, end: Double
        public var probability: Double?
    }
    public var text: String
    public var language: String?
    public var duration: Double?
    public var segments: [Segment]
    public var words: [Word]

    /// A confidence in 0…1 from what the server gave: the mean word probability, else exp(mean segment log
    /// probability) scaled by (1 − no-speech probability); nil when the server gave no probabilities at all.
    public var confidence: Double? {
        let probabilities = words.compactMap(\.probability)
        if !probabilities.isEmpty { return probabilities.reduce(0, +) / Double(probabilities.count) }
        let logs = segments.compactMap(\.averageLogProbability)
        guard !logs.isEmpty else { return nil }
        let speech = segments.compactMap(\.noSpeechProbability).map { 1 - $0 }
        let speechShare = speech.isEmpty ? 1 : speech.reduce(0, +) / Double(speech.count)
        return min(1, max(0, exp(logs.reduce(0, +) / Double(logs.count)) * speechShare))
    }
}

/// Why the cloud did not answer usefully.
public struct CloudError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable { case unreachable, timeout, status, malformed }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }
    public var description: String { "Cloud \(kind.rawValue): \(message)" }
}

/// A client for `POST /v1/audio/transcriptions`: multipart with `file`, `model`, `language`, `prompt`,
/// `response_format` and `temperature`; bearer auth; one timeout per request. Synchronous, for the recogniser thread.
public final class CloudClient: @unchecked Sendable {
    public let url: URL
    public var model: String
    public var token: String?
    public var language: String?
    public var prompt: String?
    public var responseFormat: String
    public var temperature: Double
    private let session: URLSession

    public init(url: URL, model: String = "whisper-1", token: String? = nil, responseFormat: String = "verbose_json",
                temperature: Double = 0) {
        self.url = url
        self.model = model
        self.token = token
        self.responseFormat = responseFormat
        self.temperature = temperature
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 2
        session = URLSession(configuration: configuration)
    }

    // Not invalidateAndCancel: the last reference can be dropped on the session's own queue, where cancelling traps.
    deinit { session.finishTasksAndInvalidate() }

    /// Sends 16 kHz mono samples; waits at most `timeout` seconds for the whole answer.
    public func transcribe(_ samples: [Int16], timeout: TimeInterval) throws(CloudError) -> CloudTranscription {
        let boundary = "earshot-\(UInt64.random(in: 0..<UInt64.max))"
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.setValue("multipart/form-data; boundary=\(boundary)", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        var fields = [("model", model), ("response_format", responseFormat), ("temperature", String(temperature))]
        if let language { fields.append(("language", language)) }
        if let prompt { fields.append(("prompt", prompt)) }
        request.httpBody = Self.multipart(fields: fields, file: Self.wav(samples), boundary: boundary)

        final class Box: @unchecked Sendable { var result: Result<(Data, HTTPURLResponse), CloudError>? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let address = url.absoluteString    // the handler must not keep the client alive on the session's queue
        let task = session.dataTask(with: request) { data, response, error in
            if let error = error as? URLError {
                box.result = .failure(CloudError(error.code == .timedOut ? .timeout : .unreachable, "\(address): \(error.localizedDescription)"))
            } else if let error {
                box.result = .failure(CloudError(.unreachable, "\(address): \(error.localizedDescription)"))
            } else if let http = response as? HTTPURLResponse {
                box.result = .success((data ?? Data(), http))
            } else {
                box.result = .failure(CloudError(.malformed, "no HTTP response"))
            }
            done.signal()
        }
        task.resume()
        guard done.wait(timeout: .now() + timeout + 0.05) == .success, let result = box.result else {
            task.cancel()
            throw CloudError(.timeout, "\(url.absoluteString) did not answer within \(timeout) s")
        }
        let (data, http): (Data, HTTPURLResponse)
        switch result {
        case .success(let pair): (data, http) = pair
        case .failure(let error): throw error
        }
        guard (200..<300).contains(http.statusCode) else {
            let body = String(decoding: data.prefix(200), as: UTF8.self)
            throw CloudError(.status, "\(url.absoluteString) answered HTTP \(http.statusCode): \(body)")
        }
        return try Self.parse(data, contentType: http.value(forHTTPHeaderField: "Content-Type"), format: responseFormat)
    }

    /// Reads `json` (`{"text": …}`), `verbose_json` (text, language, duration, segments, words) or `text`.
    public static func parse(_ data: Data, contentType: String?, format: String) throws(CloudError) -> CloudTranscription {
        let isJSON = format.hasSuffix("json") || (contentType ?? "").contains("json")
        guard isJSON else {
            guard let text = String(data: data, encoding: .utf8) else { throw CloudError(.malformed, "the text answer is not UTF-8") }
            return CloudTranscription(text: text.trimmingCharacters(in: .whitespacesAndNewlines), segments: [], words: [])
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CloudError(.malformed, "the answer is not a JSON object: \(String(decoding: data.prefix(80), as: UTF8.self))")
        }
        guard let text = object["text"] as? String else { throw CloudError(.malformed, "the JSON answer has no \"text\"") }
        func number(_ v: Any?) -> Double? { (v as? NSNumber)?.doubleValue }
        let segments = (object["segments"] as? [[String: Any]] ?? []).compactMap { s -> CloudTranscription.Segment? in
            guard let start = number(s["start"]), let end = number(s["end"]) else { return nil }
            return .init(start: start, end: end, text: (s["text"] as? String ?? "").trimmingCharacters(in: .whitespaces),
                         averageLogProbability: number(s["avg_logprob"]), noSpeechProbability: number(s["no_speech_prob"]))
        }
        // Words at the top level (OpenAI, speaches) or inside segments (whisper.cpp, some LocalAI builds).
        let wordObjects = (object["words"] as? [[String: Any]]) ?? (object["segments"] as? [[String: Any]] ?? []).flatMap { $0["words"] as? [[String: Any]] ?? [] }
        let words = wordObjects.compactMap { w -> CloudTranscription.Word? in
            guard let word = w["word"] as? String, let start = number(w["start"]), let end = number(w["end"]) else { return nil }
            return .init(word: word.trimmingCharacters(in: .whitespaces), start: start, end: end,
                         probability: number(w["probability"]) ?? number(w["p"]))
        }
        return CloudTranscription(text: text.trimmingCharacters(in: .whitespacesAndNewlines), language: object["language"] as? String,
                                  duration: number(object["duration"]), segments: segments, words: words)
    }

    /// A multipart/form-data body: the text fields, then the audio as `file` (utterance.wav, audio/wav).
    public static func multipart(fields: [(String, String)], file: Data, boundary: String) -> Data {
        var body = Data()
        for (name, value) in fields {
            body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8))
        }
        body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"utterance.wav\"\r\nContent-Type: audio/wav\r\n\r\n".utf8))
        body.append(file)
        body.append(Data("\r\n--\(boundary)--\r\n".utf8))
        return body
    }

    /// 16 kHz mono 16-bit PCM WAV.
    public static func wav(_ samples: [Int16]) -> Data {
        var data = Data()
        func le<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        let bytes = UInt32(samples.count * 2)
        data.append(Data("RIFF".utf8)); le(36 + bytes); data.append(Data("WAVEfmt ".utf8))
        le(UInt32(16)); le(UInt16(1)); le(UInt16(1)); le(UInt32(16_000)); le(UInt32(32_000)); le(UInt16(2)); le(UInt16(16))
        data.append(Data("data".utf8)); le(bytes)
        samples.withUnsafeBytes { raw in
            for i in stride(from: 0, to: raw.count, by: 2) { data.append(contentsOf: [raw[i], raw[i + 1]]) }  // host is little-endian on every target
        }
        return data
    }
}

/// Reachability of the cloud: opens after `failureThreshold` failures in a row, then lets one probe through after a
/// backoff that doubles on every failed probe (up to `maximumBackoff`); a success closes it. While open, callers answer
/// locally and flag the answer offline, so a dead network never stalls a decision.
public final class CircuitBreaker: @unchecked Sendable {
    public enum State: String, Sendable { case closed, open, halfOpen = "half-open" }
    private let lock = NSLock()
    public let failureThreshold: Int
    public let initialBackoff: TimeInterval
    public let maximumBackoff: TimeInterval
    private var failures = 0
    private var backoff: TimeInterval
    private var openedAt: Date?
    private var probing = false
    private let now: @Sendable () -> Date

    public init(failureThreshold: Int = 3, initialBackoff: TimeInterval = 1, maximumBackoff: TimeInterval = 60,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.failureThreshold = max(1, failureThreshold)
        self.initialBackoff = initialBackoff
        self.maximumBackoff = max(initialBackoff, maximumBackoff)
        backoff = initialBackoff
        self.now = now
    }

    public var state: State {
        lock.lock(); defer { lock.unlock() }
        guard let openedAt else { return .closed }
        return probing || now().timeIntervalSince(openedAt) >= backoff ? .halfOpen : .open
    }

    /// Whether a request may go out now (closed; or the one probe of a half-open circuit).
    public func allow() -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard let openedAt else { return true }
        guard !probing, now().timeIntervalSince(openedAt) >= backoff else { return false }
        probing = true
        return true
    }

    public func recordSuccess() {
        lock.lock(); defer { lock.unlock() }
        failures = 0; openedAt = nil; probing = false; backoff = initialBackoff
    }

    public func recordFailure() {
        lock.lock(); defer { lock.unlock() }
        if probing {
            probing = false
            backoff = min(maximumBackoff, backoff * 2)
            openedAt = now()
            return
        }
        failures += 1
        if failures >= failureThreshold && openedAt == nil { openedAt = now() }
    }
}
