internal import CZlib
import Crypto
public import Foundation

/// The limits the ingest endpoint enforces (docs/SYNC.md): what a device may send in one request.
public struct IngestLimits: Sendable, Equatable {
    /// Largest request body on the wire (gzip or not).
    public var maximumBodyBytes = 8 * 1_024 * 1_024
    /// Largest body after decompression.
    public var maximumJSONBytes = 4 * 1_024 * 1_024
    public var maximumRecords = 1_000
    public init() {}
}

/// One record of a batch, checked and flattened: its identity, its canonical JSON (sorted keys), a digest of that
/// JSON (to tell an identical resend from a conflicting one) and the columns the drift engine and dashboard read.
public struct IngestRecord: Sendable, Equatable {
    public var sequence: Int64
    public var wall: Double
    public var kind: String
    public var body: String
    public var digest: String
    public var row: UtteranceRow
}

/// The decision fields kept as columns beside the record's JSON, so windows of them are read without parsing JSON.
/// Nil where a record lacks the field (labels have no input statistics; older devices fewer fields).
public struct UtteranceRow: Sendable, Equatable {
    public var model: String?
    public var source: String?
    public var label: String?
    public var confidence: Double?
    public var accepted: Bool?
    public var nullResult: Bool?
    public var latencyMs: Double?
    public var durationS: Double?
    public var rmsDBFS: Double?
    public var peakDBFS: Double?
    public var snrDB: Double?
    public var noiseFloorDBFS: Double?
    public var speechRatio: Double?
    public var clippedPercent: Double?
    public var spectralCentroidHz: Double?
    public var spectralTilt: Double?
    public var cloudAgrees: Bool?
    public var shadowAgrees: Bool?
    public var offline: Bool?

    public init() {}

    /// The numeric columns by their stored names, in a fixed order (the storage schema and the drift engine use them).
    public static let numericColumns = ["confidence", "latency_ms", "duration_s", "rms_dbfs", "peak_dbfs", "snr_db", "noise_floor_dbfs",
                                        "speech_ratio", "clipped_percent", "spectral_centroid_hz", "spectral_tilt"]
    public var numericValues: [Double?] {
        [confidence, latencyMs, durationS, rmsDBFS, peakDBFS, snrDB, noiseFloorDBFS, speechRatio, clippedPercent, spectralCentroidHz, spectralTilt]
    }
    /// Yes/no columns, stored as 0/1.
    public static let flagColumns = ["accepted", "null_result", "cloud_agrees", "shadow_agrees", "offline"]
    public var flagValues: [Bool?] { [accepted, nullResult, cloudAgrees, shadowAgrees, offline] }
    public static let textColumns = ["model", "source", "label"]
    public var textValues: [String?] { [model, source, label] }

    /// Reads a spool record of `kind`: a `decision` (docs/SYNC.md: {schema, boot_id, monotonic_ns, decision}) or a
    /// technician's `label`.
    init(kind: String, record: [String: Any]) {
        func number(_ object: [String: Any]?, _ key: String) -> Double? {
            guard let value = object?[key] as? NSNumber else { return nil }
            let d = value.doubleValue
            return d.isFinite ? d : nil
        }
        func flag(_ object: [String: Any]?, _ key: String) -> Bool? { (object?[key] as? Bool) ?? (object?[key] as? NSNumber)?.boolValue }
        if kind == "label" {
            model = record["model"] as? String
            source = record["verdict"] as? String
            label = record["label"] as? String
            return
        }
        guard let decision = record["decision"] as? [String: Any] else { return }
        let models = decision["models"] as? [String: Any]
        model = (models?["answered"] as? String) ?? (models?["active"] as? String)
        source = decision["source"] as? String
        let text = decision["text"] as? String
        label = text.flatMap { $0.isEmpty ? nil : $0 }
        confidence = number(decision, "confidence")
        accepted = flag(decision, "accepted")
        nullResult = text.map { $0.isEmpty || $0 == "unknown" }
        latencyMs = number(decision, "latency_ms")
        offline = flag(decision, "offline")
        let input = decision["input"] as? [String: Any]
        durationS = number(input, "duration_s")
        rmsDBFS = number(input, "rms_dbfs")
        peakDBFS = number(input, "peak_dbfs")
        snrDB = number(input, "snr_db")
        noiseFloorDBFS = number(input, "noise_floor_dbfs")
        speechRatio = number(input, "speech_ratio")
        clippedPercent = number(input, "clipped_percent")
        spectralCentroidHz = number(input, "spectral_centroid_hz")
        spectralTilt = number(input, "spectral_tilt_db_per_octave")
        cloudAgrees = flag(decision["local"] as? [String: Any], "agrees")
        shadowAgrees = flag(decision["shadow"] as? [String: Any], "agrees")
    }
}

/// One upload of docs/SYNC.md, decoded and checked. Every bound is checked before anything is stored; a failure is a
/// `CollectorError` with the status the contract gives it.
public struct IngestBatch: Sendable {
    public static let schemaVersion = 1

    public var deviceID: String
    public var epoch: Int64
    public var dropped: Int64
    public var corrupt: Int64
    public var records: [IngestRecord]

    /// Decodes a request body (`gzip` when `encoding` says so).
    public init(body: Data, encoding: String?, limits: IngestLimits) throws(CollectorError) {
        guard body.count <= limits.maximumBodyBytes else {
            throw .tooLarge("the request body is \(body.count) bytes; the limit is \(limits.maximumBodyBytes)")
        }
        let json: Data
        switch encoding?.lowercased() {
        case nil, "identity": json = body
        case "gzip": json = try Self.gunzip(body, limit: limits.maximumJSONBytes)
        case let other?: throw .badRequest("Content-Encoding \(other) is not supported (send gzip or nothing)")
        }
        guard json.count <= limits.maximumJSONBytes else {
            throw .tooLarge("the batch is \(json.count) bytes of JSON; the limit is \(limits.maximumJSONBytes)")
        }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: json) } catch {
            throw .badRequest("the body is not JSON (\(Self.describe(error)))")
        }
        guard let object = parsed as? [String: Any] else { throw .badRequest("the body must be a JSON object") }
        guard let schema = Self.integer(object["schema"]) else { throw .badRequest("\"schema\" is missing or not an integer") }
        guard schema == Int64(Self.schemaVersion) else {
            throw .conflict("batch schema \(schema) is not supported; this collector reads schema \(Self.schemaVersion)")
        }
        guard let device = object["device_id"] as? String, !device.isEmpty, device.utf8.count <= 128,
              device.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw .badRequest("\"device_id\" must be 1–128 printable ASCII characters")
        }
        guard let epoch = Self.integer(object["epoch"]), epoch >= 0 else { throw .badRequest("\"epoch\" must be a non-negative integer") }
        let counters = object["counters"] as? [String: Any]
        guard let list = object["records"] as? [Any] else { throw .badRequest("\"records\" must be an array") }
        guard !list.isEmpty else { throw .badRequest("\"records\" is empty") }
        guard list.count <= limits.maximumRecords else {
            throw .tooLarge("the batch has \(list.count) records; the limit is \(limits.maximumRecords)")
        }
        var records: [IngestRecord] = []
        records.reserveCapacity(list.count)
        var previous: Int64 = 0
        for (index, item) in list.enumerated() {
            guard let entry = item as? [String: Any] else { throw .badRequest("records[\(index)] is not an object") }
            guard let seq = Self.integer(entry["seq"]), seq > 0 else { throw .badRequest("records[\(index)].seq must be a positive integer") }
            guard seq > previous else { throw .badRequest("records must ascend by seq: records[\(index)].seq \(seq) follows \(previous)") }
            previous = seq
            guard let wall = (entry["wall"] as? NSNumber)?.doubleValue, wall.isFinite else {
                throw .badRequest("records[\(index)].wall must be a number (seconds since 1970)")
            }
            guard let kind = entry["kind"] as? String, !kind.isEmpty, kind.utf8.count <= 32 else {
                throw .badRequest("records[\(index)].kind must be a short string")
            }
            guard let record = entry["record"] as? [String: Any] else { throw .badRequest("records[\(index)].record must be an object") }
            let canonical: Data
            do { canonical = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes]) } catch {
                throw .badRequest("records[\(index)].record cannot be stored (\(Self.describe(error)))")
            }
            let digest = SHA256.hash(data: canonical).prefix(12).map { String(format: "%02x", $0) }.joined()
            records.append(IngestRecord(sequence: seq, wall: wall, kind: kind, body: String(decoding: canonical, as: UTF8.self),
                                        digest: digest, row: UtteranceRow(kind: kind, record: record)))
        }
        deviceID = device
        self.epoch = epoch
        dropped = Self.integer(counters?["dropped"]) ?? 0
        corrupt = Self.integer(counters?["corrupt"]) ?? 0
        self.records = records
    }

    static func integer(_ value: Any?) -> Int64? {
        guard let number = value as? NSNumber else { return nil }
        let d = number.doubleValue
        guard d.isFinite, d == d.rounded(), abs(d) < 9e15 else { return nil }
        return number.int64Value
    }

    static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }

    /// Inflates a gzip body, refusing to produce more than `limit` bytes (a small bomb stays small).
    static func gunzip(_ data: Data, limit: Int) throws(CollectorError) -> Data {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .storage("zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var output = Data()
        var chunk = [UInt8](repeating: 0, count: 64 * 1_024)
        var status: Int32 = Z_OK
        var failure: CollectorError?
        data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(input.count)
            repeat {
                let produced = chunk.withUnsafeMutableBufferPointer { buffer -> Int in
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = uInt(buffer.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return buffer.count - Int(stream.avail_out)
                }
                guard status == Z_OK || status == Z_STREAM_END else {
                    failure = .badRequest("the body is not valid gzip (zlib status \(status))")
                    return
                }
                output.append(contentsOf: chunk[0..<produced])
                guard output.count <= limit else { failure = .tooLarge("the batch inflates past the \(limit)-byte limit"); return }
                if produced == 0 && stream.avail_in == 0 && status != Z_STREAM_END {
                    failure = .badRequest("the gzip body is truncated")
                    return
                }
            } while status != Z_STREAM_END
        }
        if let failure { throw failure }
        return output
    }
}
