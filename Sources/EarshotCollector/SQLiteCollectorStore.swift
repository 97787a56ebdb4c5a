import EarshotMonitoring
import Foundation
import GRDB

/// The collector's data in one SQLite file (GRDB over the system SQLite): WAL so readers never wait for the writer,
/// `synchronous=FULL` so an acknowledged batch survives a power cut, one write transaction per batch.
final class SQLiteCollectorStore: CollectorStore {
    private let pool: DatabasePool
    let path: String

    init(path: String) throws(CollectorError) {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        do { pool = try DatabasePool(path: path, configuration: configuration) } catch {
            throw .storage("cannot open the collector database \(path): \(Self.describe(error))")
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return error.message ?? "\(error)" }
        return "\(error)"
    }

    /// Runs `body` in one write transaction; a `CollectorError` thrown inside rolls back and comes out as is.
    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(CollectorError) -> T {
        do { return try await pool.write(body) } catch let error as CollectorError { throw error } catch {
            throw .storage("the collector database \(path) failed: \(Self.describe(error))")
        }
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(CollectorError) -> T {
        do { return try await pool.read(body) } catch {
            throw .storage("the collector database \(path) failed: \(Self.describe(error))")
        }
    }

    @discardableResult
    func migrate() async throws(CollectorError) -> [Int] {
        try await write { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)")
            let applied = Set(try Int.fetchAll(db, sql: "SELECT version FROM schema_migrations"))
            var now: [Int] = []
            for migration in CollectorSchema.migrations(.sqlite) where !applied.contains(migration.version) {
                for statement in migration.statements { try db.execute(sql: statement) }
                try db.execute(sql: "INSERT INTO schema_migrations VALUES (?, ?)", arguments: [migration.version, Date().timeIntervalSince1970])
                now.append(migration.version)
            }
            return now
        }
    }

    func addDevice(name: String, tokenHash: String, deviceID: String?, site: String?, hardware: String?) async throws(CollectorError) -> DeviceEntry {
        try checkDeviceName(name)
        let entry = DeviceEntry(name: name, deviceID: deviceID, site: site, hardware: hardware, createdAt: Date().timeIntervalSince1970)
        return try await write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM devices WHERE name = ?", arguments: [name]) != nil {
                throw CollectorError.conflict("a device named \(name) exists already (revoke it, or choose another name)")
            }
            if let deviceID, try Bool.fetchOne(db, sql: "SELECT 1 FROM devices WHERE device_id = ?", arguments: [deviceID]) != nil {
                throw CollectorError.conflict("device id \(deviceID) belongs to another device already")
            }
            try db.execute(sql: "INSERT INTO devices (name, token_sha256, device_id, site, hardware, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [name, tokenHash, deviceID, site, hardware, entry.createdAt])
            return entry
        }
    }

    func devices() async throws(CollectorError) -> [DeviceEntry] {
        try await read { db in
            try Row.fetchAll(db, sql: CollectorSQL.deviceList).map { row in
                DeviceEntry(name: row[0], deviceID: row[1], site: row[2], hardware: row[3], createdAt: row[4], revokedAt: row[5], records: row[6],
                            duplicates: row[7], skipped: row[8], dropped: row[9], corrupt: row[10], lastSeen: row[11], rolledUp: row[12], group: row[13], audioClips: row[14], audioBytes: row[15])
            }
        }
    }

    func revokeDevice(name: String) async throws(CollectorError) -> Bool {
        try await write { db in
            try db.execute(sql: "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?) WHERE name = ?", arguments: [Date().timeIntervalSince1970, name])
            return db.changesCount > 0
        }
    }

    func device(tokenHash: String) async throws(CollectorError) -> DeviceEntry? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT name, device_id, site, hardware, created_at, revoked_at, fleet_group FROM devices WHERE token_sha256 = ?",
                             arguments: [tokenHash]).map { row in
                DeviceEntry(name: row[0], deviceID: row[1], site: row[2], hardware: row[3], createdAt: row[4], revokedAt: row[5], group: row[6])
            }
        }
    }

    func ingest(_ batch: IngestBatch, device: DeviceEntry, receivedAt: Double) async throws(CollectorError) -> IngestResult {
        try await write { db in
            if device.deviceID == nil {
                // First upload: bind the spool's id to this token (one id per device, so another's id is refused).
                // (A concurrent first upload through another request may have bound it to this very device already.)
                if let owner = try String.fetchOne(db, sql: "SELECT name FROM devices WHERE device_id = ?", arguments: [batch.deviceID]), owner != device.name {
                    throw CollectorError.forbidden("device id \(batch.deviceID) belongs to device \(owner), not to this token's \(device.name)")
                }
                try db.execute(sql: "UPDATE devices SET device_id = ? WHERE name = ? AND device_id IS NULL", arguments: [batch.deviceID, device.name])
            }
            let prior = try Int64.fetchOne(db, sql: "SELECT acked_seq FROM streams WHERE device_id = ? AND epoch = ?",
                                           arguments: [batch.deviceID, batch.epoch])
            let columns = ["device_id", "epoch", "seq"] + CollectorSchema.recordColumns
            let insert = try db.cachedStatement(sql: "INSERT INTO records (\(columns.joined(separator: ", "))) VALUES ("
                                                + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ") ON CONFLICT DO NOTHING")
            var stored = 0
            var resent: [IngestRecord] = []
            for record in batch.records {
                var values: [(any DatabaseValueConvertible)?] = [batch.deviceID, batch.epoch, record.sequence, record.kind, record.wall, receivedAt, record.digest]
                values += record.row.textValues.map { $0 }
                values += record.row.numericValues.map { $0 }
                values += record.row.flagValues.map { $0.map { $0 ? 1 : 0 } }
                values.append(record.body)
                try insert.execute(arguments: StatementArguments(values))
                if db.changesCount == 1 { stored += 1 } else { resent.append(record) }
            }
            if !resent.isEmpty {
                let digests = try CollectorSQL.digests(Row.fetchAll(db, sql: "SELECT seq, digest FROM records WHERE device_id = ? AND epoch = ? AND seq BETWEEN ? AND ?",
                                                                    arguments: [batch.deviceID, batch.epoch, resent[0].sequence, resent[resent.count - 1].sequence])
                    .map { ($0[0], $0[1]) })
                try CollectorSQL.checkResent(resent, stored: digests, batch: batch)
            }
            let result = CollectorSQL.result(batch, prior: prior, stored: stored)
            for r in batch.rollups {
                try db.execute(sql: CollectorSQL.rollupUpsert.replacingOccurrences(of: "PLACEHOLDERS", with: "?, ?, ?, ?, ?, ?, ?, ?, ?"),
                               arguments: [batch.deviceID, batch.epoch, r.hour, r.kind, r.records, r.confidenceSum, r.nullResults, r.latencyMsSum, r.rmsDBFSSum])
            }
            try db.execute(sql: """
                INSERT INTO streams (device_id, epoch, acked_seq, stored, duplicates, skipped, dropped, corrupt, first_seen, last_seen)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (device_id, epoch) DO UPDATE SET acked_seq = MAX(acked_seq, excluded.acked_seq),
                    stored = stored + excluded.stored, duplicates = duplicates + excluded.duplicates, skipped = skipped + excluded.skipped,
                    dropped = MAX(dropped, excluded.dropped), corrupt = MAX(corrupt, excluded.corrupt), last_seen = excluded.last_seen
                """, arguments: [batch.deviceID, batch.epoch, result.ackedSequence, stored, result.duplicates,
                                 CollectorSQL.skipped(batch, prior: prior), batch.dropped, batch.corrupt, receivedAt, receivedAt])
            return result
        }
    }

    func window(_ filter: WindowFilter, limit: Int) async throws(CollectorError) -> UtteranceWindow {
        let (sql, arguments) = CollectorSQL.windowQuery(filter, limit: limit) { _ in "?" }
        return try await read { db in
            var window = CollectorSQL.WindowBuilder()
            let cursor = try Row.fetchCursor(db, sql: sql, arguments: StatementArguments(arguments.map(\.databaseValue)))
            while let row = try cursor.next() {
                window.add(numeric: (0..<UtteranceRow.numericColumns.count).map { row[$0] as Double? },
                           text: (0..<3).map { row[UtteranceRow.numericColumns.count + $0] as String? },
                           flags: CollectorSQL.windowFlags.indices.map { row[UtteranceRow.numericColumns.count + 3 + $0] as Int? },
                           wall: row[UtteranceRow.numericColumns.count + 3 + CollectorSQL.windowFlags.count])
            }
            return window.build()
        }
    }

    func subjects(_ scope: AlarmRule.Scope) async throws(CollectorError) -> [String] {
        guard let sql = CollectorSQL.subjects(scope) else { return ["fleet"] }
        return try await read { db in try String.fetchAll(db, sql: sql) }
    }

    func logAlarm(_ entry: AlarmLogEntry) async throws(CollectorError) -> Int64 {
        try await write { db in
            try db.execute(sql: "INSERT INTO alarm_log (rule, scope, subject, state, value, threshold, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           arguments: [entry.rule, entry.scope, entry.subject, entry.state, entry.value, entry.threshold, entry.reason, entry.at])
            return db.lastInsertedRowID
        }
    }

    func markDelivered(id: Int64, delivered: Bool, attempts: Int) async throws(CollectorError) {
        try await write { db in
            try db.execute(sql: "UPDATE alarm_log SET delivered = ?, attempts = ? WHERE id = ?", arguments: [delivered ? 1 : 0, attempts, id])
        }
    }

    func alarmLog(limit: Int) async throws(CollectorError) -> [AlarmLogEntry] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT \(CollectorSQL.alarmColumns) FROM alarm_log ORDER BY id DESC LIMIT ?", arguments: [limit]).map { row in
                var entry = AlarmLogEntry(rule: row[1], scope: row[2], subject: row[3], state: row[4], value: row[5], threshold: row[6], reason: row[7], at: row[8])
                entry.id = row[0]
                entry.delivered = (row[9] as Int) != 0
                entry.attempts = row[10]
                return entry
            }
        }
    }

    func hold(_ hold: ModelHold) async throws(CollectorError) {
        try await write { db in
            try db.execute(sql: "INSERT INTO model_holds VALUES (?, ?, ?, ?) ON CONFLICT (model) DO NOTHING",
                           arguments: [hold.model, hold.rule, hold.reason, hold.since])
        }
    }

    func release(model: String, rule: String?) async throws(CollectorError) {
        try await write { db in
            try db.execute(sql: "DELETE FROM model_holds WHERE model = ? AND (? IS NULL OR rule = ?)", arguments: [model, rule, rule])
        }
    }

    func holds() async throws(CollectorError) -> [ModelHold] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT model, rule, reason, since FROM model_holds ORDER BY model").map {
                ModelHold(model: $0[0], rule: $0[1], reason: $0[2], since: $0[3])
            }
        }
    }

    func export(_ filter: ExportFilter, row: @escaping @Sendable (ExportRow) throws -> Void) async throws(CollectorError) -> Int {
        let (sql, arguments) = CollectorSQL.exportQuery(filter) { _ in "?" }
        let t = UtteranceRow.textColumns.count, n = UtteranceRow.numericColumns.count, f = UtteranceRow.flagColumns.count
        return try await read { db in
            var count = 0
            let cursor = try Row.fetchCursor(db, sql: sql, arguments: StatementArguments(arguments.map(\.databaseValue)))
            while let r = try cursor.next() {
                try row(ExportRow(device: r[0], deviceID: r[1], epoch: r[2], sequence: r[3], kind: r[4], wall: r[5],
                                  text: (0..<t).map { r[6 + $0] }, numbers: (0..<n).map { r[6 + t + $0] }, flags: (0..<f).map { r[6 + t + n + $0] },
                                  body: r[6 + t + n + f]))
                count += 1
            }
            return count
        }
    }

    func plain(_ sql: String, _ values: [SQLValue?]) async throws(CollectorError) -> [[SQLValue?]] {
        let arguments = StatementArguments(values.map { $0?.databaseValue ?? .null })
        return try await write { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                row.databaseValues.map { value -> SQLValue? in
                    switch value.storage {
                    case .null: nil
                    case .int64(let v): .integer(v)
                    case .double(let v): .real(v)
                    case .string(let v): .text(v)
                    case .blob(let v): .bytes(v)
                    }
                }
            }
        }
    }

    func close() async { try? pool.close() }
}

extension CollectorSQL.Value {
    var databaseValue: DatabaseValue {
        switch self {
        case .text(let v): v.databaseValue
        case .real(let v): v.databaseValue
        case .integer(let v): v.databaseValue
        case .bytes(let v): v.databaseValue
        }
    }
}
