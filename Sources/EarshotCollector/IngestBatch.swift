internal import CZlib
#if !EARSHOT_INGEST_FUZZER      // Fuzz/run-ingest.sh compiles this file with HourlyRollup.swift as one module
public import EarshotMonitoring
#endif
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

/// One record of a batch, checked and flattened: its identity, its JSON exactly as sent, a digest of its content (to tell
/// a resend of the same record from a conflicting one, whatever the key order or spacing) and the columns the drift
/// engine and dashboard read.
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
    /// The kept audio file, relative to the device's spool (only for sampled utterances).
    public var audio: String?
    public var vadSegments: Double?
    public var cpuMs: Double?
    public var rssMB: Double?
    public var queueDepth: Double?
    public var captureOverruns: Double?
    public var droppedSamples: Double?
    public var rtf: Double?
    public var quickRepeat: Bool?
    /// A candidate ran beside this decision and its interpreter failed.
    public var candidateError: Bool?
    /// The local model's own confidence, also when the cloud's answer replaced it (output drift of the local model
    /// must not be hidden by routing).
    public var localConfidence: Double?
    /// The shadow (or, on a canary utterance, the other) model agreed with the cloud teacher's answer.
    public var shadowAgreesCloud: Bool?

    public init() {}

    /// The numeric columns by their stored names, in a fixed order (the storage schema and the drift engine use them).
    public static let numericColumns = ["confidence", "latency_ms", "duration_s", "rms_dbfs", "peak_dbfs", "snr_db", "noise_floor_dbfs",
                                        "speech_ratio", "clipped_percent", "spectral_centroid_hz", "spectral_tilt",
                                        "vad_segments", "cpu_ms", "rss_mb", "queue_depth", "capture_overruns", "dropped_samples", "rtf",
                                        "local_confidence"]
    public var numericValues: [Double?] {
        [confidence, latencyMs, durationS, rmsDBFS, peakDBFS, snrDB, noiseFloorDBFS, speechRatio, clippedPercent, spectralCentroidHz, spectralTilt,
         vadSegments, cpuMs, rssMB, queueDepth, captureOverruns, droppedSamples, rtf, localConfidence]
    }
    /// Yes/no columns, stored as 0/1.
    public static let flagColumns = ["accepted", "null_result", "cloud_agrees", "shadow_agrees", "offline", "quick_repeat", "candidate_error",
                                     "shadow_agrees_cloud"]
    public var flagValues: [Bool?] { [accepted, nullResult, cloudAgrees, shadowAgrees, offline, quickRepeat, candidateError, shadowAgreesCloud] }
    public static let textColumns = ["model", "source", "label", "audio"]
    public var textValues: [String?] { [model, source, label, audio] }

    /// Reads a spool record of `kind`: a `decision` (docs/SYNC.md: {schema, boot_id, monotonic_ns, decision}) or a
    /// technician's `label`. Fields of the wrong type are left nil; the record itself is kept whole either way.
    init(kind: String, scanning record: inout JSONScanner) throws(JSONScanner.Failure) {
        var row = UtteranceRow()
        if kind == "label" {
            try record.object { s, key throws(JSONScanner.Failure) in
                switch key {
                case "model": row.model = try s.optionalText()
                case "verdict": row.source = try s.optionalText()
                case "label": row.label = try s.optionalText()
                default: return false
                }
                return true
            }
            self = row
            return
        }
        try record.object { s, key throws(JSONScanner.Failure) in
            guard key == "decision", try s.peek() == UInt8(ascii: "{") else { return false }
            var text: String?
            var localConfidence: Double?
            try s.object { s, key throws(JSONScanner.Failure) in
                switch key {
                case "text": text = try s.optionalText()
                case "source": row.source = try s.optionalText()
                case "confidence": row.confidence = try s.optionalNumber()
                case "accepted": row.accepted = try s.optionalBool()
                case "latency_ms": row.latencyMs = try s.optionalNumber()
                case "offline": row.offline = try s.optionalBool()
                case "audio": row.audio = try s.optionalText()
                case "quick_repeat": row.quickRepeat = try s.optionalBool()
                case "candidate_error": row.candidateError = try s.optionalBool()
                case "software":
                    guard try s.peek() == UInt8(ascii: "{") else { return false }
                    try s.object { s, key throws(JSONScanner.Failure) in
                        switch key {
                        case "cpu_ms": row.cpuMs = try s.optionalNumber()
                        case "rss_mb": row.rssMB = try s.optionalNumber()
                        case "queue_depth": row.queueDepth = try s.optionalNumber()
                        case "capture_overruns": row.captureOverruns = try s.optionalNumber()
                        case "dropped_samples": row.droppedSamples = try s.optionalNumber()
                        case "rtf": row.rtf = try s.optionalNumber()
                        default: return false
                        }
                        return true
                    }
                case "models":
                    guard try s.peek() == UInt8(ascii: "{") else { return false }
                    var active: String?, answered: String?
                    try s.object { s, key throws(JSONScanner.Failure) in
                        switch key {
                        case "active": active = try s.optionalText()
                        case "answered": answered = try s.optionalText()
                        default: return false
                        }
                        return true
                    }
                    row.model = answered ?? active
                case "input":
                    guard try s.peek() == UInt8(ascii: "{") else { return false }
                    try s.object { s, key throws(JSONScanner.Failure) in
                        switch key {
                        case "duration_s": row.durationS = try s.optionalNumber()
                        case "rms_dbfs": row.rmsDBFS = try s.optionalNumber()
                        case "peak_dbfs": row.peakDBFS = try s.optionalNumber()
                        case "snr_db": row.snrDB = try s.optionalNumber()
                        case "noise_floor_dbfs": row.noiseFloorDBFS = try s.optionalNumber()
                        case "speech_ratio": row.speechRatio = try s.optionalNumber()
                        case "clipped_percent": row.clippedPercent = try s.optionalNumber()
                        case "spectral_centroid_hz": row.spectralCentroidHz = try s.optionalNumber()
                        case "spectral_tilt_db_per_octave": row.spectralTilt = try s.optionalNumber()
                        case "vad_segments": row.vadSegments = try s.optionalNumber()
                        default: return false
                        }
                        return true
                    }
                case "local", "shadow":
                    guard try s.peek() == UInt8(ascii: "{") else { return false }
                    let which = key
                    try s.object { s, key throws(JSONScanner.Failure) in
                        switch (which, key) {
                        case ("local", "agrees"): row.cloudAgrees = try s.optionalBool()
                        case ("local", "confidence"): localConfidence = try s.optionalNumber()
                        case ("shadow", "agrees"): row.shadowAgrees = try s.optionalBool()
                        case ("shadow", "agrees_cloud"): row.shadowAgreesCloud = try s.optionalBool()
                        default: return false
                        }
                        return true
                    }
                default: return false
                }
                return true
            }
            row.localConfidence = localConfidence ?? (row.source == "local" ? row.confidence : nil)
            row.label = text.flatMap { $0.isEmpty ? nil : $0 }
            row.nullResult = text.map { $0.isEmpty || $0 == "unknown" }
            return true
        }
        self = row
    }
}

extension JSONScanner {
    /// A string value, or nil for anything else (skipped).
    mutating func optionalText() throws(Failure) -> String? {
        guard try peek() == UInt8(ascii: "\"") else { try skipValue(); return nil }
        return try string()
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
    /// The device's hourly roll-ups of records it had to drop (cumulative totals per hour and kind).
    public var rollups: [HourlyRollup] = []

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
        var parsed: Parsed?
        var failure: CollectorError?
        json.withUnsafeBytes { raw in
            do throws(CollectorError) { parsed = try Self.parse(raw.bindMemory(to: UInt8.self), limits: limits) } catch { failure = error }
        }
        if let failure { throw failure }
        guard let parsed else { throw .badRequest("the body is empty") }
        deviceID = parsed.deviceID
        epoch = parsed.epoch
        dropped = parsed.dropped
        corrupt = parsed.corrupt
        records = parsed.records
        rollups = parsed.rollups
    }

    private struct Parsed {
        var deviceID = "", epoch: Int64 = 0, dropped: Int64 = 0, corrupt: Int64 = 0, records: [IngestRecord] = [], rollups: [HourlyRollup] = []
    }

    /// One pass over the batch: the envelope's fields checked, each record's bytes kept as sent (a resend of the same
    /// spool record is byte-identical) with their digest and decision columns.
    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>, limits: IngestLimits) throws(CollectorError) -> Parsed {
        var scanner = JSONScanner(bytes)
        var result = Parsed()
        var schema: Int64?, device: String?, epoch: Int64?, sawRecords = false, recordCount = 0
        var problem: CollectorError?
        do throws(JSONScanner.Failure) {
            guard try scanner.peek() == UInt8(ascii: "{") else { return try Self.notAnObject(&scanner) }
            try scanner.object { s, key throws(JSONScanner.Failure) in
                guard problem == nil else { return false }
                switch key {
                case "schema": schema = try s.integer()
                case "device_id": device = try s.optionalText()
                case "epoch": epoch = try s.integer()
                case "counters":
                    guard try s.peek() == UInt8(ascii: "{") else { return false }
                    try s.object { s, key throws(JSONScanner.Failure) in
                        switch key {
                        case "dropped": result.dropped = try s.integer() ?? 0
                        case "corrupt": result.corrupt = try s.integer() ?? 0
                        default: return false
                        }
                        return true
                    }
                case "rollups":
                    guard try s.peek() == UInt8(ascii: "[") else { problem = .badRequest("\"rollups\" must be an array"); return false }
                    try s.array { s, index throws(JSONScanner.Failure) in
                        guard problem == nil, index < 10_000, try s.peek() == UInt8(ascii: "{") else {
                            if problem == nil { problem = .badRequest("rollups[\(index)] must be an object (at most 10 000)") }
                            try s.skipValue()
                            return
                        }
                        var hour: Int64?, kind: String?, count: Int64?, confidence: Double?, nulls: Int64?, latency: Double?, rms: Double?
                        try s.object { s, key throws(JSONScanner.Failure) in
                            switch key {
                            case "hour": hour = try s.integer()
                            case "kind": kind = try s.optionalText()
                            case "records": count = try s.integer()
                            case "confidence_sum": confidence = try s.optionalNumber()
                            case "null_results": nulls = try s.integer()
                            case "latency_ms_sum": latency = try s.optionalNumber()
                            case "rms_dbfs_sum": rms = try s.optionalNumber()
                            default: return false
                            }
                            return true
                        }
                        guard let hour, hour >= 0, let kind, !kind.isEmpty, kind.utf8.count <= 32, let count, count >= 0 else {
                            problem = .badRequest("rollups[\(index)] needs hour, kind and records")
                            return
                        }
                        result.rollups.append(HourlyRollup(hour: hour, kind: kind, records: count, confidenceSum: confidence ?? 0,
                                                           nullResults: nulls ?? 0, latencyMsSum: latency ?? 0, rmsDBFSSum: rms ?? 0))
                    }
                case "records":
                    guard try s.peek() == UInt8(ascii: "[") else { problem = .badRequest("\"records\" must be an array"); return false }
                    sawRecords = true
                    var previous: Int64 = 0
                    try s.array { s, index throws(JSONScanner.Failure) in
                        recordCount = index + 1
                        guard problem == nil, index < limits.maximumRecords else { try s.skipValue(); return }
                        guard try s.peek() == UInt8(ascii: "{") else { problem = .badRequest("records[\(index)] is not an object"); try s.skipValue(); return }
                        var seq: Int64?, wall: Double?, kind: String?, span: Range<Int>?, digest: ContentDigest?
                        try s.object { s, key throws(JSONScanner.Failure) in
                            switch key {
                            case "seq": seq = try s.integer()
                            case "wall": wall = try s.optionalNumber()
                            case "kind": kind = try s.optionalText()
                            case "record":
                                guard try s.peek() == UInt8(ascii: "{") else { return false }
                                let start = s.position
                                digest = try s.contentDigest()
                                span = start..<s.position
                            default: return false
                            }
                            return true
                        }
                        problem = Self.check(index: index, seq: seq, wall: wall, kind: kind, span: span, previous: previous)
                        guard problem == nil, let seq, let wall, let kind, let span, let digest else { return }
                        previous = seq
                        let body = UnsafeBufferPointer(rebasing: bytes[span])
                        var inner = JSONScanner(body)
                        let row = try UtteranceRow(kind: kind, scanning: &inner)
                        result.records.append(IngestRecord(sequence: seq, wall: wall, kind: kind, body: String(decoding: body, as: UTF8.self),
                                                           digest: digest.hex, row: row))
                    }
                default: return false
                }
                return true
            }
            scanner.skipWhitespace()
            guard scanner.atEnd else { throw JSONScanner.Failure(message: "text after the JSON value at byte \(scanner.position)") }
        } catch {
            throw .badRequest("the body is not JSON (\(error.message))")
        }
        if recordCount > limits.maximumRecords {
            throw .tooLarge("the batch has \(recordCount) records; the limit is \(limits.maximumRecords)")
        }
        if let problem { throw problem }
        guard let schema else { throw .badRequest("\"schema\" is missing or not an integer") }
        guard schema == Int64(schemaVersion) else {
            throw .conflict("batch schema \(schema) is not supported; this collector reads schema \(schemaVersion)")
        }
        guard let device, !device.isEmpty, device.utf8.count <= 128, device.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw .badRequest("\"device_id\" must be 1–128 printable ASCII characters")
        }
        guard let epoch, epoch >= 0 else { throw .badRequest("\"epoch\" must be a non-negative integer") }
        guard sawRecords else { throw .badRequest("\"records\" must be an array") }
        guard !result.records.isEmpty else { throw .badRequest("\"records\" is empty") }
        result.deviceID = device
        result.epoch = epoch
        return result
    }

    /// Valid JSON that is not an object is still the wrong body; invalid JSON says where it breaks.
    private static func notAnObject(_ scanner: inout JSONScanner) throws(JSONScanner.Failure) -> Parsed {
        try scanner.skipValue()
        throw JSONScanner.Failure(message: "the body must be a JSON object")
    }

    private static func check(index: Int, seq: Int64?, wall: Double?, kind: String?, span: Range<Int>?, previous: Int64) -> CollectorError? {
        guard let seq, seq > 0 else { return .badRequest("records[\(index)].seq must be a positive integer") }
        guard seq > previous else { return .badRequest("records must ascend by seq: records[\(index)].seq \(seq) follows \(previous)") }
        guard wall != nil else { return .badRequest("records[\(index)].wall must be a number (seconds since 1970)") }
        guard let kind, !kind.isEmpty, kind.utf8.count <= 32 else { return .badRequest("records[\(index)].kind must be a short string") }
        guard span != nil else { return .badRequest("records[\(index)].record must be an object") }
        return nil
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
