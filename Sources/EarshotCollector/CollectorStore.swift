import Crypto
import Foundation

/// Where the collector keeps its data: `sqlite:PATH` (one file, zero set-up) or `postgres://user:pass@host:port/db`
/// (several collector processes in front of one server). `?schema=NAME` on a PostgreSQL URL keeps the tables in their
/// own schema (the tests give each run one).
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(host: String, port: Int, user: String, password: String?, database: String, schema: String?)

    public init(_ text: String) throws(CollectorError) {
        if text.hasPrefix("sqlite:") {
            var path = String(text.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard !path.isEmpty else { throw CollectorError(2, "give the SQLite file after sqlite: (sqlite:/var/lib/earshot/collector.db)") }
            self = .sqlite(path: path)
            return
        }
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"), let url = URLComponents(string: text),
              let host = url.host, !host.isEmpty else {
            throw CollectorError(2, "the database URL must be sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE, not \(text)")
        }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        let schema = url.queryItems?.first { $0.name == "schema" }?.value
        if let schema, !schema.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) || schema.isEmpty {
            throw CollectorError(2, "the schema name must be letters, digits and underscores")
        }
        self = .postgres(host: host, port: url.port ?? 5432, user: url.user ?? "postgres", password: url.password,
                         database: database.isEmpty ? (url.user ?? "postgres") : database, schema: schema)
    }

    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let host, let port, let user, _, let database, let schema):
            "postgres://\(user)@\(host):\(port)/\(database)" + (schema.map { "?schema=\($0)" } ?? "")
        }
    }
}

/// A device known to the collector: its name, the SHA-256 of its token, and the spool's device id once bound (on
/// first upload, or given at `devices add`).
public struct DeviceEntry: Sendable, Equatable, Codable {
    public var name: String
    public var deviceID: String?
    public var site: String?
    public var hardware: String?
    public var createdAt: Double
    public var revokedAt: Double?
    /// Records stored, identical resends ignored, sequences the device skipped (it lost them), its own counters.
    public var records: Int64 = 0
    public var duplicates: Int64 = 0
    public var skipped: Int64 = 0
    public var dropped: Int64 = 0
    public var corrupt: Int64 = 0
    public var lastSeen: Double?
    /// Records the device dropped whose hourly roll-ups reached the collector.
    public var rolledUp: Int64 = 0
    /// The rollout group the device belongs to (`devices add --group`, `devices group`).
    public var group: String?
    /// Sampled utterance clips the collector keeps for this device, and their bytes.
    public var audioClips: Int64 = 0
    public var audioBytes: Int64 = 0

    public init(name: String, deviceID: String?, site: String?, hardware: String?, createdAt: Double, revokedAt: Double? = nil,
                records: Int64 = 0, duplicates: Int64 = 0, skipped: Int64 = 0, dropped: Int64 = 0, corrupt: Int64 = 0, lastSeen: Double? = nil,
                rolledUp: Int64 = 0, group: String? = nil, audioClips: Int64 = 0, audioBytes: Int64 = 0) {
        self.rolledUp = rolledUp
        self.group = group
        self.audioClips = audioClips
        self.audioBytes = audioBytes
        self.name = name; self.deviceID = deviceID; self.site = site; self.hardware = hardware; self.createdAt = createdAt
        self.revokedAt = revokedAt; self.records = records; self.duplicates = duplicates; self.skipped = skipped
        self.dropped = dropped; self.corrupt = corrupt; self.lastSeen = lastSeen
    }

    enum CodingKeys: String, CodingKey {
        case name, site, hardware, records, duplicates, skipped, dropped, corrupt, group
        case audioClips = "audio_clips", audioBytes = "audio_bytes"
        case deviceID = "device_id", createdAt = "created_at", revokedAt = "revoked_at", lastSeen = "last_seen", rolledUp = "rolled_up"
    }

    /// Every key, with null for what is unknown: scripts see the same fields for every device.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(deviceID, forKey: .deviceID)
        try c.encode(site, forKey: .site)
        try c.encode(hardware, forKey: .hardware)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(revokedAt, forKey: .revokedAt)
        try c.encode(records, forKey: .records)
        try c.encode(duplicates, forKey: .duplicates)
        try c.encode(skipped, forKey: .skipped)
        try c.encode(dropped, forKey: .dropped)
        try c.encode(corrupt, forKey: .corrupt)
        try c.encode(lastSeen, forKey: .lastSeen)
        try c.encode(rolledUp, forKey: .rolledUp)
        try c.encode(group, forKey: .group)
        try c.encode(audioClips, forKey: .audioClips)
        try c.encode(audioBytes, forKey: .audioBytes)
    }
}

/// What one ingest did: the acknowledgement of docs/SYNC.md.
public struct IngestResult: Sendable, Equatable, Codable {
    public var deviceID: String
    public var epoch: Int64
    public var ackedSequence: Int64
    public var stored: Int
    public var duplicates: Int

    enum CodingKeys: String, CodingKey {
        case deviceID = "device_id", epoch, ackedSequence = "acked_seq", stored, duplicates
    }
}

/// A window of decision columns for drift and dashboards, oldest first.
public struct UtteranceWindow: Sendable {
    /// Numeric columns hold only the values present; `present` says, row by row, which rows had one.
    public var numeric: [String: [Double]] = [:]
    public var present: [String: [Bool]] = [:]
    /// Each row's wall-clock time (seconds since 1970), oldest first.
    public var walls: [Double] = []
    public var categorical: [String: [String]] = [:]
    public var count = 0
    public init() {}
}

/// One line of the alarm log: a rule's state change for one subject (a device, a model, or the fleet).
public struct AlarmLogEntry: Sendable, Equatable, Codable {
    public var id: Int64 = 0
    public var rule: String
    public var scope: String
    public var subject: String
    /// `firing` or `resolved`.
    public var state: String
    public var value: Double?
    public var threshold: Double?
    public var reason: String
    public var at: Double
    public var delivered = false
    public var attempts = 0

    public init(rule: String, scope: String, subject: String, state: String, value: Double?, threshold: Double?, reason: String, at: Double) {
        self.rule = rule; self.scope = scope; self.subject = subject; self.state = state
        self.value = value; self.threshold = threshold; self.reason = reason; self.at = at
    }
}

/// A model version an alarm has held back from rollouts.
public struct ModelHold: Sendable, Equatable, Codable {
    public var model: String
    public var rule: String
    public var reason: String
    public var since: Double
    public init(model: String, rule: String, reason: String, since: Double) {
        self.model = model; self.rule = rule; self.reason = reason; self.since = since
    }
}

/// Which decisions a window holds: one device, one model version, one cohort (site or hardware tag), or all, since a time.
public struct WindowFilter: Sendable, Equatable {
    public var device: String?
    public var model: String?
    public var site: String?
    public var hardware: String?
    /// Only these devices (by name); nil: any.
    public var devices: [String]?
    public var since: Double?
    /// Only decisions before this time (seconds since 1970).
    public var until: Double?
    public init(device: String? = nil, model: String? = nil, site: String? = nil, hardware: String? = nil, since: Double? = nil, until: Double? = nil) {
        self.device = device; self.model = model; self.site = site; self.hardware = hardware; self.since = since; self.until = until
    }
}

extension CollectorStore {
    /// The most recent `limit` decisions of one device and/or model (nil: all), as columns.
    public func window(device: String?, model: String?, since: Double?, limit: Int) async throws(CollectorError) -> UtteranceWindow {
        try await window(WindowFilter(device: device, model: model, since: since), limit: limit)
    }
}

/// Which records an export takes.
public struct ExportFilter: Sendable {
    public var device: String?
    public var model: String?
    public var since: Double?
    public var until: Double?
    /// `decision`, `label`, or nil for every kind.
    public var kind: String?
    public init() {}
}

/// One exported record: identity, time, kind, the decision columns, and the record's JSON.
public struct ExportRow: Sendable {
    public var device: String
    public var deviceID: String
    public var epoch: Int64
    public var sequence: Int64
    public var kind: String
    public var wall: Double
    public var text: [String?]        // UtteranceRow.textColumns
    public var numbers: [Double?]     // UtteranceRow.numericColumns
    public var flags: [Int?]          // UtteranceRow.flagColumns
    public var body: String
}

/// Storage behind the collector; SQLite and PostgreSQL implement the same behaviour (the tests run both).
public protocol CollectorStore: Sendable {
    /// Applies the migrations not yet applied; returns the versions applied now.
    @discardableResult func migrate() async throws(CollectorError) -> [Int]
    func addDevice(name: String, tokenHash: String, deviceID: String?, site: String?, hardware: String?) async throws(CollectorError) -> DeviceEntry
    func devices() async throws(CollectorError) -> [DeviceEntry]
    /// Returns false when no device has that name.
    func revokeDevice(name: String) async throws(CollectorError) -> Bool
    /// The device a token belongs to (revoked ones too, so the answer can say so).
    func device(tokenHash: String) async throws(CollectorError) -> DeviceEntry?
    /// Stores a batch for an authenticated device, binding its device id on first use.
    func ingest(_ batch: IngestBatch, device: DeviceEntry, receivedAt: Double) async throws(CollectorError) -> IngestResult
    /// The most recent `limit` decisions matching `filter`, as columns.
    func window(_ filter: WindowFilter, limit: Int) async throws(CollectorError) -> UtteranceWindow
    /// Device names or model versions a rule of `scope` ranges over (["fleet"] for the fleet).
    func subjects(_ scope: AlarmRule.Scope) async throws(CollectorError) -> [String]
    /// Appends to the alarm log; returns the entry's id.
    func logAlarm(_ entry: AlarmLogEntry) async throws(CollectorError) -> Int64
    func markDelivered(id: Int64, delivered: Bool, attempts: Int) async throws(CollectorError)
    /// The newest `limit` log entries, newest first.
    func alarmLog(limit: Int) async throws(CollectorError) -> [AlarmLogEntry]
    func hold(_ hold: ModelHold) async throws(CollectorError)
    /// Lifts a hold, only if `rule` placed it (nil: whoever did).
    func release(model: String, rule: String?) async throws(CollectorError)
    func holds() async throws(CollectorError) -> [ModelHold]
    /// Streams matching records, oldest first, to `row` (never all in memory); returns how many.
    func export(_ filter: ExportFilter, row: @escaping @Sendable (ExportRow) throws -> Void) async throws(CollectorError) -> Int
    /// Plain SQL both engines run alike, in a write transaction of its own: `?` placeholders, rows out (NULL as nil).
    /// The registry, rollouts and device reports (small tables, `RolloutStore.swift`) are written once over it.
    func plain(_ sql: String, _ values: [SQLValue?]) async throws(CollectorError) -> [[SQLValue?]]
    func close() async
}

/// Opens the store a location names, creating the SQLite file or PostgreSQL schema and migrating it.
public func openCollectorStore(_ location: DatabaseLocation) async throws(CollectorError) -> any CollectorStore {
    let store: any CollectorStore
    switch location {
    case .sqlite(let path): store = try SQLiteCollectorStore(path: path)
    case .postgres: store = try await PostgresCollectorStore(location)
    }
    do { try await store.migrate() } catch {
        await store.close()
        throw error
    }
    return store
}

/// Device tokens: 32 random bytes, base64url, prefixed so a leaked one is recognisable. Only their SHA-256 is stored.
public enum DeviceToken {
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let text = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return "esd_" + text
    }

    public static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// Device names are what operators type: letters, digits, `-`, `_`, `.`, at most 64.
func checkDeviceName(_ name: String) throws(CollectorError) {
    guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
        throw CollectorError(2, "a device name is 1–64 letters, digits, '-', '_' or '.', not \"\(name)\"")
    }
}
