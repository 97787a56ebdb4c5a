import EarshotMonitoring
import Foundation
import Logging
import PostgresNIO

/// The collector's data in PostgreSQL (postgres-nio), for fleets that outgrow one box: any number of collector
/// processes share one database. A batch is one transaction that first takes an advisory lock on its (device, epoch)
/// stream, so concurrent uploads of the same stream through different collectors still store each record once and
/// acknowledge consistently. Records go in with one `INSERT … SELECT FROM unnest(…)` per batch.
final class PostgresCollectorStore: CollectorStore {
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger
    private let name: String

    init(_ location: DatabaseLocation) async throws(CollectorError) {
        guard case .postgres(let host, let port, let user, let password, let database, let schema) = location else {
            preconditionFailure("a PostgreSQL store needs a postgres:// location")
        }
        name = location.description
        var configuration = PostgresClient.Configuration(host: host, port: port, username: user, password: password, database: database, tls: .disable)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = 8
        if let schema { configuration.options.additionalStartupParameters = [("search_path", schema)] }
        var logger = Logger(label: "earshot-collector-postgres")
        logger.logLevel = .critical
        self.logger = logger
        // One direct connection first: the pool retries a bad password or a dead server quietly for a minute, while
        // this fails at once with the server's own message. It also creates the schema the tables go in.
        var probe = PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: .disable)
        probe.options.connectTimeout = .seconds(5)
        do {
            let connection = try await PostgresConnection.connect(configuration: probe, id: 1, logger: logger)
            if let schema { try await connection.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \"\(schema)\""), logger: logger) }
            try await connection.close()
        } catch {
            throw .storage("cannot use PostgreSQL at \(location): \(Self.describe(error))")
        }
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        runner = Task { await client.run() }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            if let underlying = error.underlying { return "\(underlying)" }
            return "\(error.code)"
        }
        return "\(error)"
    }

    private func failure(_ error: any Error) -> CollectorError {
        if let error = error as? CollectorError { return error }
        if let error = error as? PostgresTransactionError {
            // The closure's own refusal (a conflict, a foreign device id) is the answer, not a storage failure.
            if let inner = error.closureError ?? error.beginError ?? error.commitError { return failure(inner) }
        }
        return .storage("PostgreSQL at \(name) failed: \(Self.describe(error))")
    }

    /// Runs `body` in one transaction; a `CollectorError` thrown inside rolls back and comes out as is.
    private func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> sending T) async throws(CollectorError) -> T {
        do { return try await client.withTransaction(logger: logger, body) } catch { throw failure(error) }
    }

    private func rows(_ query: PostgresQuery) async throws(CollectorError) -> [PostgresRow] {
        do { return try await client.query(query, logger: logger).collect() } catch { throw failure(error) }
    }

    @discardableResult
    func migrate() async throws(CollectorError) -> [Int] {
        let logger = logger
        return try await transaction { connection in
            // One migrator at a time per schema across every collector process sharing the database (schemas of their
            // own, such as the tests', migrate side by side).
            try await connection.query("SELECT pg_advisory_xact_lock(727461726, hashtext(current_schema()))", logger: logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)",
                                       logger: logger)
            var applied = Set<Int>()
            for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger).decode(Int.self) {
                applied.insert(version)
            }
            var now: [Int] = []
            for migration in CollectorSchema.migrations(.postgres) where !applied.contains(migration.version) {
                for statement in migration.statements { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                try await connection.query("INSERT INTO schema_migrations VALUES (\(migration.version), \(Date().timeIntervalSince1970))", logger: logger)
                now.append(migration.version)
            }
            return now
        }
    }

    func addDevice(name: String, tokenHash: String, deviceID: String?, site: String?, hardware: String?) async throws(CollectorError) -> DeviceEntry {
        try checkDeviceName(name)
        let entry = DeviceEntry(name: name, deviceID: deviceID, site: site, hardware: hardware, createdAt: Date().timeIntervalSince1970)
        let logger = logger
        return try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(727461727, hashtext(current_schema()))", logger: logger)
            if try await connection.query("SELECT 1 FROM devices WHERE name = \(name)", logger: logger).collect().count > 0 {
                throw CollectorError.conflict("a device named \(name) exists already (revoke it, or choose another name)")
            }
            if let deviceID, try await connection.query("SELECT 1 FROM devices WHERE device_id = \(deviceID)", logger: logger).collect().count > 0 {
                throw CollectorError.conflict("device id \(deviceID) belongs to another device already")
            }
            try await connection.query("""
                INSERT INTO devices (name, token_sha256, device_id, site, hardware, created_at)
                VALUES (\(name), \(tokenHash), \(deviceID), \(site), \(hardware), \(entry.createdAt))
                """, logger: logger)
            return entry
        }
    }

    func devices() async throws(CollectorError) -> [DeviceEntry] {
        var result: [DeviceEntry] = []
        for row in try await rows(PostgresQuery(unsafeSQL: CollectorSQL.deviceList)) {
            do {
                let (name, id, site, hardware, created, revoked) = try row.decode((String, String?, String?, String?, Double, Double?).self)
                let cells = row.makeRandomAccess()
                result.append(DeviceEntry(name: name, deviceID: id, site: site, hardware: hardware, createdAt: created, revokedAt: revoked,
                                          records: try cells[6].decode(Int64.self), duplicates: try cells[7].decode(Int64.self),
                                          skipped: try cells[8].decode(Int64.self), dropped: try cells[9].decode(Int64.self),
                                          corrupt: try cells[10].decode(Int64.self), lastSeen: try cells[11].decode(Double?.self),
                                          rolledUp: try cells[12].decode(Int64.self), group: try cells[13].decode(String?.self),
                                          audioClips: try cells[14].decode(Int64.self), audioBytes: try cells[15].decode(Int64.self)))
            } catch { throw failure(error) }
        }
        return result
    }

    func revokeDevice(name: String) async throws(CollectorError) -> Bool {
        let now = Date().timeIntervalSince1970
        return !(try await rows("UPDATE devices SET revoked_at = COALESCE(revoked_at, \(now)) WHERE name = \(name) RETURNING name")).isEmpty
    }

    func device(tokenHash: String) async throws(CollectorError) -> DeviceEntry? {
        guard let row = try await rows("SELECT name, device_id, site, hardware, created_at, revoked_at, fleet_group FROM devices WHERE token_sha256 = \(tokenHash)").first
        else { return nil }
        do {
            let (name, id, site, hardware, created, revoked, group) = try row.decode((String, String?, String?, String?, Double, Double?, String?).self)
            return DeviceEntry(name: name, deviceID: id, site: site, hardware: hardware, createdAt: created, revokedAt: revoked, group: group)
        } catch { throw failure(error) }
    }

    func ingest(_ batch: IngestBatch, device: DeviceEntry, receivedAt: Double) async throws(CollectorError) -> IngestResult {
        let logger = logger
        let insert = Self.insertQuery(batch, receivedAt: receivedAt)
        return try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\(batch.deviceID) || ':' || \(String(batch.epoch)), 0))",
                                       logger: logger)
            if device.deviceID == nil {
                if let owner = try await connection.query("SELECT name FROM devices WHERE device_id = \(batch.deviceID)", logger: logger)
                    .collect().first.map({ try $0.decode(String.self) }), owner != device.name {
                    // (A concurrent first upload through another collector may have bound it to this very device already.)
                    throw CollectorError.forbidden("device id \(batch.deviceID) belongs to device \(owner), not to this token's \(device.name)")
                }
                try await connection.query("UPDATE devices SET device_id = \(batch.deviceID) WHERE name = \(device.name) AND device_id IS NULL",
                                           logger: logger)
            }
            let prior = try await connection.query("SELECT acked_seq FROM streams WHERE device_id = \(batch.deviceID) AND epoch = \(batch.epoch)",
                                                   logger: logger).collect().first.map { try $0.decode(Int64.self) }
            var inserted = Set<Int64>()
            for try await seq in try await connection.query(insert, logger: logger).decode(Int64.self) { inserted.insert(seq) }
            let resent = batch.records.filter { !inserted.contains($0.sequence) }
            if !resent.isEmpty {
                var stored: [(Int64, String)] = []
                let seqs = resent.map(\.sequence)
                for try await pair in try await connection.query(
                    "SELECT seq, digest FROM records WHERE device_id = \(batch.deviceID) AND epoch = \(batch.epoch) AND seq = ANY(\(seqs)::bigint[])",
                    logger: logger).decode((Int64, String).self) { stored.append(pair) }
                try CollectorSQL.checkResent(resent, stored: CollectorSQL.digests(stored), batch: batch)
            }
            var result = CollectorSQL.result(batch, prior: prior, stored: inserted.count)
            for r in batch.rollups {
                var binds = PostgresBindings()
                binds.append(batch.deviceID); binds.append(batch.epoch); binds.append(r.hour); binds.append(r.kind); binds.append(r.records)
                binds.append(r.confidenceSum); binds.append(r.nullResults); binds.append(r.latencyMsSum); binds.append(r.rmsDBFSSum)
                let sql = CollectorSQL.rollupUpsert.replacingOccurrences(of: "PLACEHOLDERS", with: (1...9).map { "$\($0)" }.joined(separator: ", "))
                try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
            }
            let skipped = CollectorSQL.skipped(batch, prior: prior)
            let stored = Int64(result.stored), duplicates = Int64(result.duplicates)
            let acked = try await connection.query("""
                INSERT INTO streams (device_id, epoch, acked_seq, stored, duplicates, skipped, dropped, corrupt, first_seen, last_seen)
                VALUES (\(batch.deviceID), \(batch.epoch), \(result.ackedSequence), \(stored), \(duplicates), \(skipped), \(batch.dropped),
                        \(batch.corrupt), \(receivedAt), \(receivedAt))
                ON CONFLICT (device_id, epoch) DO UPDATE SET acked_seq = GREATEST(streams.acked_seq, excluded.acked_seq),
                    stored = streams.stored + excluded.stored, duplicates = streams.duplicates + excluded.duplicates,
                    skipped = streams.skipped + excluded.skipped, dropped = GREATEST(streams.dropped, excluded.dropped),
                    corrupt = GREATEST(streams.corrupt, excluded.corrupt), last_seen = excluded.last_seen
                RETURNING acked_seq
                """, logger: logger).collect().first.map { try $0.decode(Int64.self) }
            result.ackedSequence = acked ?? result.ackedSequence
            return result
        }
    }

    /// Query values as PostgreSQL bindings ($1, $2, … in order).
    static func bindings(_ values: [CollectorSQL.Value]) -> PostgresBindings {
        var binds = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .text(let v): binds.append(v)
            case .real(let v): binds.append(v)
            case .integer(let v): binds.append(v)
            case .bytes(let v): binds.append(ByteBuffer(bytes: v))
            }
        }
        return binds
    }

    /// One statement for the whole batch: every column as an array, unnested into rows; nil travels as a sentinel
    /// (empty text, NaN, −1) that NULLIF turns back into NULL.
    static func insertQuery(_ batch: IngestBatch, receivedAt: Double) -> PostgresQuery {
        var binds = PostgresBindings(capacity: 32)
        binds.append(batch.deviceID)
        binds.append(batch.epoch)
        binds.append(receivedAt)
        let records = batch.records
        binds.append(records.map(\.sequence))
        binds.append(records.map(\.kind))
        binds.append(records.map(\.wall))
        binds.append(records.map(\.digest))
        var names = ["seq", "kind", "wall", "digest"]
        var types = ["bigint[]", "text[]", "float8[]", "text[]"]
        var select = ["$1", "$2", "u.seq", "u.kind", "u.wall", "$3", "u.digest"]
        for (k, column) in UtteranceRow.textColumns.enumerated() {
            binds.append(records.map { $0.row.textValues[k] ?? "" })
            names.append(column); types.append("text[]"); select.append("NULLIF(u.\(column), '')")
        }
        for (k, column) in UtteranceRow.numericColumns.enumerated() {
            binds.append(records.map { $0.row.numericValues[k] ?? .nan })
            names.append(column); types.append("float8[]"); select.append("NULLIF(u.\(column), 'NaN'::float8)")
        }
        for (k, column) in UtteranceRow.flagColumns.enumerated() {
            binds.append(records.map { $0.row.flagValues[k].map { Int16($0 ? 1 : 0) } ?? -1 })
            names.append(column); types.append("int2[]"); select.append("NULLIF(u.\(column), -1)")
        }
        binds.append(records.map(\.body))
        names.append("body"); types.append("text[]"); select.append("u.body")
        let arrays = types.enumerated().map { "$\($0.offset + 4)::\($0.element)" }
        let sql = "INSERT INTO records (device_id, epoch, seq, \(CollectorSchema.recordColumns.joined(separator: ", "))) "
            + "SELECT \(select.joined(separator: ", ")) FROM unnest(\(arrays.joined(separator: ", "))) AS u(\(names.joined(separator: ", "))) "
            + "ON CONFLICT DO NOTHING RETURNING seq"
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    func window(_ filter: WindowFilter, limit: Int) async throws(CollectorError) -> UtteranceWindow {
        let (sql, values) = CollectorSQL.windowQuery(filter, limit: limit) { "$\($0)" }
        let binds = Self.bindings(values)
        var window = CollectorSQL.WindowBuilder()
        let numeric = UtteranceRow.numericColumns.count
        do {
            for try await row in try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger) {
                let cells = row.makeRandomAccess()
                window.add(numeric: try (0..<numeric).map { try cells[$0].decode(Double?.self) },
                           text: try (0..<3).map { try cells[numeric + $0].decode(String?.self) },
                           flags: try CollectorSQL.windowFlags.indices.map { try cells[numeric + 3 + $0].decode(Int16?.self).map(Int.init) },
                           wall: try cells[numeric + 3 + CollectorSQL.windowFlags.count].decode(Double.self))
            }
        } catch { throw failure(error) }
        return window.build()
    }

    func subjects(_ scope: AlarmRule.Scope) async throws(CollectorError) -> [String] {
        guard let sql = CollectorSQL.subjects(scope) else { return ["fleet"] }
        do { return try await rows(PostgresQuery(unsafeSQL: sql)).map { try $0.decode(String.self) } } catch { throw failure(error) }
    }

    func logAlarm(_ entry: AlarmLogEntry) async throws(CollectorError) -> Int64 {
        let rows = try await rows("""
            INSERT INTO alarm_log (rule, scope, subject, state, value, threshold, reason, at)
            VALUES (\(entry.rule), \(entry.scope), \(entry.subject), \(entry.state), \(entry.value), \(entry.threshold), \(entry.reason), \(entry.at))
            RETURNING id
            """)
        do { return try rows.first?.decode(Int64.self) ?? 0 } catch { throw failure(error) }
    }

    func markDelivered(id: Int64, delivered: Bool, attempts: Int) async throws(CollectorError) {
        let flag = Int16(delivered ? 1 : 0), count = Int32(attempts)
        _ = try await rows("UPDATE alarm_log SET delivered = \(flag), attempts = \(count) WHERE id = \(id)")
    }

    func alarmLog(limit: Int) async throws(CollectorError) -> [AlarmLogEntry] {
        let rows = try await rows(PostgresQuery(unsafeSQL: "SELECT \(CollectorSQL.alarmColumns) FROM alarm_log ORDER BY id DESC LIMIT \(max(0, limit))"))
        do {
            return try rows.map { row in
                let (id, rule, scope, subject, state, value, threshold, reason, at, delivered, attempts) =
                    try row.decode((Int64, String, String, String, String, Double?, Double?, String, Double, Int16, Int32).self)
                var entry = AlarmLogEntry(rule: rule, scope: scope, subject: subject, state: state, value: value, threshold: threshold, reason: reason, at: at)
                entry.id = id
                entry.delivered = delivered != 0
                entry.attempts = Int(attempts)
                return entry
            }
        } catch { throw failure(error) }
    }

    func hold(_ hold: ModelHold) async throws(CollectorError) {
        _ = try await rows("INSERT INTO model_holds VALUES (\(hold.model), \(hold.rule), \(hold.reason), \(hold.since)) ON CONFLICT (model) DO NOTHING")
    }

    func release(model: String, rule: String?) async throws(CollectorError) {
        if let rule {
            _ = try await rows("DELETE FROM model_holds WHERE model = \(model) AND rule = \(rule)")
        } else {
            _ = try await rows("DELETE FROM model_holds WHERE model = \(model)")
        }
    }

    func holds() async throws(CollectorError) -> [ModelHold] {
        let rows = try await rows("SELECT model, rule, reason, since FROM model_holds ORDER BY model")
        do {
            return try rows.map { row in
                let (model, rule, reason, since) = try row.decode((String, String, String, Double).self)
                return ModelHold(model: model, rule: rule, reason: reason, since: since)
            }
        } catch { throw failure(error) }
    }

    func export(_ filter: ExportFilter, row: @escaping @Sendable (ExportRow) throws -> Void) async throws(CollectorError) -> Int {
        let (sql, values) = CollectorSQL.exportQuery(filter) { "$\($0)" }
        let binds = Self.bindings(values)
        let t = UtteranceRow.textColumns.count, n = UtteranceRow.numericColumns.count, f = UtteranceRow.flagColumns.count
        var count = 0
        do {
            for try await r in try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger) {
                let c = r.makeRandomAccess()
                try row(ExportRow(device: try c[0].decode(String.self), deviceID: try c[1].decode(String.self), epoch: try c[2].decode(Int64.self),
                                  sequence: try c[3].decode(Int64.self), kind: try c[4].decode(String.self), wall: try c[5].decode(Double.self),
                                  text: try (0..<t).map { try c[6 + $0].decode(String?.self) },
                                  numbers: try (0..<n).map { try c[6 + t + $0].decode(Double?.self) },
                                  flags: try (0..<f).map { try c[6 + t + n + $0].decode(Int16?.self).map(Int.init) },
                                  body: try c[6 + t + n + f].decode(String.self)))
                count += 1
            }
        } catch { throw failure(error) }
        return count
    }

    func plain(_ sql: String, _ values: [SQLValue?]) async throws(CollectorError) -> [[SQLValue?]] {
        // `?` placeholders become $1, $2, … (the plain statements have no `?` inside literals).
        var text = "", index = 0
        for character in sql {
            if character == "?" { index += 1; text += "$\(index)" } else { text.append(character) }
        }
        var binds = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case nil: binds.appendNull()
            case .text(let v)?: binds.append(v)
            case .real(let v)?: binds.append(v)
            case .integer(let v)?: binds.append(v)
            case .bytes(let v)?: binds.append(ByteBuffer(bytes: v))
            }
        }
        let rows = try await rows(PostgresQuery(unsafeSQL: text, binds: binds))
        do {
            return try rows.map { row in
                try row.map { cell -> SQLValue? in
                    guard cell.bytes != nil else { return nil }
                    switch cell.dataType {
                    case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
                    case .float4, .float8: return .real(try cell.decode(Double.self))
                    case .numeric:
                        // SUM over integers is NUMERIC in PostgreSQL: whole values come back as integers.
                        let text = try cell.decode(String.self)
                        if let whole = Int64(text) { return .integer(whole) }
                        return Double(text).map { .real($0) }
                    case .bytea: return .bytes(Data(try cell.decode(ByteBuffer.self).readableBytesView))
                    default: return .text(try cell.decode(String.self))
                    }
                }
            }
        } catch {
            throw .storage("PostgreSQL at \(name) returned a value of an unexpected type: \(Self.describe(error))")
        }
    }

    func close() async { runner.cancel() }
}
