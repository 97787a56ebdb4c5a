public import EarshotMonitoring
public import Foundation
import GRDB
import Glibc

/// The durable offline log of a device: one SQLite file (WAL) in a directory, written by one thread in group commits.
///
/// A record is durable once its transaction commits (`synchronous=FULL`); `committedSequence` says how far that is,
/// and nothing upstream should treat a record as kept before then. The backlog is everything the collector has not
/// acknowledged; it is read in pages, never loaded whole. Bounds by bytes and age (and a reserve of free disk) remove
/// acknowledged records first and then the oldest unacknowledged ones, counting them as dropped in hourly roll-ups.
/// On open a damaged database is moved aside into `quarantine/`, counted, and a fresh one is started in a new epoch:
/// a corrupt file never stops the device.
public final class Spool: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var directory: String
        /// The spool's largest size on disk (records' bytes), before old records are removed.
        public var maximumBytes: Int64 = 256 * 1_024 * 1_024
        /// Records older than this are removed (acknowledged or not; unacknowledged ones count as dropped).
        public var maximumAge: TimeInterval = 30 * 86_400
        /// Free space kept on the filesystem: below it, old records are removed to make room.
        public var reserveBytes: Int64 = 16 * 1_024 * 1_024
        /// A transaction commits when this many records wait, or `commitInterval` after the first one arrived.
        public var batchSize = 256
        public var commitInterval: TimeInterval = 0.2
        /// Records that may wait for the writer before new ones are dropped (and counted).
        public var queueCapacity = 10_000
        /// A file of this many bytes kept in the spool directory and deleted when the disk is full, so that the
        /// transaction that removes old records (which itself needs space in the WAL) can run. Recreated when space returns.
        public var ballastBytes = 1_024 * 1_024
        public init(directory: String) { self.directory = directory }
    }

    /// One stored record.
    public struct Record: Sendable, Equatable {
        public var sequence: Int64
        public var epoch: Int64
        public var wallTime: Double
        public var kind: String
        public var body: Data
    }

    /// What `earshot spool status` shows.
    public struct Status: Sendable, Codable, Equatable {
        public var deviceID: String
        public var epoch: Int64
        /// Records stored now, and those not yet acknowledged by the collector.
        public var records: Int64
        public var backlog: Int64
        public var bytes: Int64
        public var oldest: Double?
        public var newest: Double?
        public var committedSequence: Int64
        public var acknowledgedSequence: Int64
        /// Records lost to bounds, a full disk or a full queue; and databases found damaged and moved aside.
        public var dropped: Int64
        public var corrupt: Int64
        public var lastSync: Double?
        /// Records the collector refused for good (kept in the dead-letter table with its reason).
        public var deadLetter: Int64 = 0
        enum CodingKeys: String, CodingKey {
            case deviceID = "device_id", epoch, records, backlog, bytes, oldest, newest, committedSequence = "committed_sequence"
            case acknowledgedSequence = "acknowledged_sequence", dropped, corrupt, lastSync = "last_sync", deadLetter = "dead_letter"
        }
    }

    public let configuration: Configuration
    public let deviceID: String
    public private(set) var epoch: Int64 = 1
    private let database: DatabaseQueue
    private let condition = NSCondition()
    private var pending: [(kind: String, wall: Double, body: Data)] = []
    private var queueDropped: Int64 = 0
    private var closed = false
    private var committed: Int64 = 0
    private var writerFailure: String?
    private let writerDone = DispatchSemaphore(value: 0)
    /// Messages for the log (quarantines, drops), drained by the owner.
    private var notes: [String] = []

    public var path: String { configuration.directory + "/spool.sqlite" }

    /// Opens (or creates) the spool in `configuration.directory`, checking its integrity first.
    public init(_ configuration: Configuration) throws(SpoolError) {
        self.configuration = configuration
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: configuration.directory, withIntermediateDirectories: true) } catch {
            throw SpoolError(.unwritable, "Cannot create the spool directory \(configuration.directory): \(error.localizedDescription)")
        }
        deviceID = try Self.deviceID(in: configuration.directory)
        var quarantined: [String] = []
        var opened: DatabaseQueue?
        for attempt in 0..<2 {
            do {
                let queue = try Self.open(configuration.directory + "/spool.sqlite")
                try Self.check(queue)
                opened = queue
                break
            } catch let error as SpoolError where error.code == .unwritable {
                throw error
            } catch {
                guard attempt == 0 else { throw SpoolError(.corrupt, "A fresh spool in \(configuration.directory) could not be opened: \(error)") }
                quarantined.append(try Self.quarantine(configuration.directory, reason: "\(error)"))
            }
        }
        database = opened!
        do {
            try database.write { db in
                let stored = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'epoch'")
                let count = Int64(Self.quarantineCount(configuration.directory))
                // A new database after a quarantine starts a new epoch, so sequence numbers never collide at the collector.
                let epoch = stored ?? (count + 1)
                try db.execute(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES ('epoch', ?), ('device_id', ?)", arguments: [epoch, deviceID])
                try db.execute(sql: "INSERT OR IGNORE INTO counters(name, value) VALUES ('dropped', 0), ('corrupt', 0), ('acknowledged', 0), ('sequence', 0)")
                try db.execute(sql: "UPDATE counters SET value = MAX(value, ?) WHERE name = 'corrupt'", arguments: [count])
                self.epoch = epoch
                committed = try Int64.fetchOne(db, sql: "SELECT value FROM counters WHERE name = 'sequence'") ?? 0
            }
        } catch {
            throw SpoolError(.corrupt, "The spool \(path) could not be initialised: \(error)")
        }
        notes = quarantined.map { "earshot: spool: the database was damaged and moved to \($0); a fresh one was started (epoch \(epoch))" }
        restoreBallast()
        let writer = Thread { [self] in writeLoop(); writerDone.signal() }
        writer.name = "earshot-spool"
        writer.start()
    }

    deinit { close() }

    // MARK: Writing

    /// Queues a record for the next group commit; never blocks. Returns false when the queue was full and the record
    /// was dropped (counted).
    /// `waitIfFull` makes a producer that can wait (a benchmark, an import) wait for room instead.
    @discardableResult
    public func append(_ body: Data, kind: String = "decision", wallTime: Double = Date().timeIntervalSince1970, waitIfFull: Bool = false) -> Bool {
        condition.lock(); defer { condition.unlock() }
        while waitIfFull && !closed && pending.count >= configuration.queueCapacity { condition.wait() }
        guard !closed, pending.count < configuration.queueCapacity else { queueDropped += 1; return false }
        pending.append((kind, wallTime, body))
        condition.broadcast()
        return true
    }

    /// The highest sequence number whose transaction has committed (durable).
    public var committedSequence: Int64 { condition.lock(); defer { condition.unlock() }; return committed }

    /// Waits until everything appended so far has committed (or failed), at most `timeout` seconds.
    @discardableResult
    public func flush(timeout: TimeInterval = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock(); defer { condition.unlock() }
        while !pending.isEmpty || writing {
            guard condition.wait(until: deadline) else { return false }
        }
        return true
    }

    /// Commits what is queued, stops the writer and closes the database (checkpointing the WAL). Reading after
    /// close is an error.
    public func close() {
        condition.lock()
        guard !closed else { condition.unlock(); return }
        closed = true
        condition.broadcast()
        condition.unlock()
        writerDone.wait()
        try? database.close()
    }

    /// Log lines since the last call.
    public func drainNotes() -> [String] {
        condition.lock(); defer { condition.unlock() }
        let n = notes
        notes = []
        return n
    }

    private var writing = false

    private func writeLoop() {
        while true {
            condition.lock()
            while pending.isEmpty && !closed { condition.wait() }
            if pending.isEmpty && closed { condition.unlock(); return }
            // Group commit: wait for a full batch or the interval, whichever comes first.
            let deadline = Date().addingTimeInterval(configuration.commitInterval)
            while pending.count < configuration.batchSize && !closed && condition.wait(until: deadline) {}
            let batch = Array(pending.prefix(configuration.batchSize))
            pending.removeFirst(batch.count)
            let queueDrops = queueDropped
            queueDropped = 0
            writing = true
            condition.unlock()
            let result = commit(batch, queueDrops: queueDrops)
            condition.lock()
            writing = false
            switch result {
            case .success(let last):
                committed = max(committed, last)
            case .failure(let lost, let message):
                queueDropped += lost
                notes.append(message)
            }
            condition.broadcast()
            condition.unlock()
        }
    }

    private enum CommitResult { case success(Int64), failure(Int64, String) }

    private func commit(_ batch: [(kind: String, wall: Double, body: Data)], queueDrops: Int64) -> CommitResult {
        func insert() throws -> Int64 {
            try database.write { db -> Int64 in
                // The last sequence ever given out in this epoch: records removed by bounds never free their numbers.
                var sequence = try Int64.fetchOne(db, sql: "SELECT value FROM counters WHERE name = 'sequence'") ?? 0
                let statement = try db.cachedStatement(sql: "INSERT INTO records(seq, epoch, wall, kind, bytes, body) VALUES (?, ?, ?, ?, ?, ?)")
                for r in batch {
                    sequence += 1
                    try statement.execute(arguments: [sequence, epoch, r.wall, r.kind, r.body.count, r.body])
                }
                try db.execute(sql: "UPDATE counters SET value = ? WHERE name = 'sequence'", arguments: [sequence])
                if queueDrops > 0 { try Self.countDrops(db, queueDrops, hour: Int64(Date().timeIntervalSince1970 / 3_600)) }
                return sequence
            }
        }
        do {
            let last = try insert()
            enforceBounds()
            restoreBallast()
            return .success(last)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL || error.resultCode == .SQLITE_IOERR {
            // The disk is full: give up the ballast so the clean-up transaction has room, remove the oldest records,
            // then try once more; else the batch is lost, counted.
            try? FileManager.default.removeItem(atPath: ballastPath)
            enforceBounds(force: true)
            // Freed pages only become reusable space once the WAL is checkpointed into the database and cut back.
            _ = try? database.writeWithoutTransaction { try $0.checkpoint(.truncate) }
            do {
                let last = try insert()
                restoreBallast()
                return .success(last)
            } catch {
                // Nothing can be written now, not even the drop counter: keep the count in memory; the next commit
                // that succeeds persists it.
                return .failure(Int64(batch.count) + queueDrops, "earshot: spool: \(batch.count) records dropped, the disk is full (\(error))")
            }
        } catch {
            return .failure(Int64(batch.count) + queueDrops, "earshot: spool: \(batch.count) records not written: \(error)")
        }
    }

    var ballastPath: String { configuration.directory + "/ballast" }

    /// Re-creates the ballast file when it is missing and the disk has room for it (and the reserve) again.
    func restoreBallast() {
        let fm = FileManager.default
        guard configuration.ballastBytes > 0, !fm.fileExists(atPath: ballastPath),
              Self.freeBytes(configuration.directory) > Int64(configuration.ballastBytes) + configuration.reserveBytes else { return }
        let fd = Glibc.open(ballastPath, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        defer { Glibc.close(fd) }
        // Real blocks, not a sparse file: the point is to hold space that can be given back.
        if posix_fallocate(fd, 0, off_t(configuration.ballastBytes)) != 0 { ftruncate(fd, 0); unlink(ballastPath) }
    }

    static func storedBytes(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT value FROM counters WHERE name = 'bytes'") ?? 0
    }

    static func countDrops(_ db: Database, _ count: Int64, hour: Int64) throws {
        try db.execute(sql: "UPDATE counters SET value = value + ? WHERE name = 'dropped'", arguments: [count])
        try db.execute(sql: """
            INSERT INTO dropped_hourly(hour, records) VALUES (?, ?)
            ON CONFLICT(hour) DO UPDATE SET records = records + excluded.records
            """, arguments: [hour, count])
    }

    /// Removes records past the age limit, then (acknowledged first, oldest first) until the spool fits its bytes
    /// and the filesystem keeps its reserve. Unacknowledged records removed are counted as dropped, per hour.
    func enforceBounds(force: Bool = false) {
        let c = configuration
        try? database.write { db in
            let acknowledged = try Int64.fetchOne(db, sql: "SELECT value FROM counters WHERE name = 'acknowledged'") ?? 0
            let cutoff = Date().timeIntervalSince1970 - c.maximumAge
            try rollUp(db, where: "seq > ? AND wall < ?", [acknowledged, cutoff])
            try db.execute(sql: "DELETE FROM records WHERE wall < ?", arguments: [cutoff])
            var bytes = try Self.storedBytes(db)
            var free = Self.freeBytes(c.directory)
            guard force || bytes > c.maximumBytes || free < c.reserveBytes else { return }
            // Acknowledged records go first: they are already at the collector.
            try db.execute(sql: "DELETE FROM records WHERE seq <= ?", arguments: [acknowledged])
            bytes = try Self.storedBytes(db)
            free = Self.freeBytes(c.directory)
            var excess = max(bytes - c.maximumBytes, c.reserveBytes - free, force ? max(1, bytes / 10) : 0)
            while excess > 0 {
                let rows = try Row.fetchAll(db, sql: "SELECT seq, bytes, wall FROM records ORDER BY seq LIMIT 256")
                guard !rows.isEmpty else { break }
                var last: Int64 = 0
                for row in rows where excess > 0 {
                    last = row["seq"]; excess -= row["bytes"] as Int64
                }
                try rollUp(db, where: "seq <= ?", [last])
                try db.execute(sql: "DELETE FROM records WHERE seq <= ?", arguments: [last])
            }
        }
    }

    /// Before unacknowledged records are dropped, what they said is kept per hour and kind: how many, the sum of
    /// confidence, null results (not a command), decision latency and speech level, so monitoring still sees the
    /// hour the detail was lost for. Then they are counted as dropped.
    private func rollUp(_ db: Database, where clause: String, _ arguments: StatementArguments) throws {
        try db.execute(sql: """
            INSERT INTO hourly_rollup(hour, kind, records, confidence_sum, null_results, latency_ms_sum, rms_dbfs_sum)
            SELECT CAST(wall / 3600 AS INTEGER), kind, COUNT(*),
                   COALESCE(SUM(json_extract(CAST(body AS TEXT), '$.decision.confidence')), 0),
                   COALESCE(SUM(json_extract(CAST(body AS TEXT), '$.decision.automation') = 'reject'), 0),
                   COALESCE(SUM(json_extract(CAST(body AS TEXT), '$.decision.latency_ms')), 0),
                   COALESCE(SUM(json_extract(CAST(body AS TEXT), '$.decision.input.rms_dbfs')), 0)
            FROM records WHERE \(clause) GROUP BY 1, 2
            ON CONFLICT(hour, kind) DO UPDATE SET records = records + excluded.records,
                confidence_sum = confidence_sum + excluded.confidence_sum, null_results = null_results + excluded.null_results,
                latency_ms_sum = latency_ms_sum + excluded.latency_ms_sum, rms_dbfs_sum = rms_dbfs_sum + excluded.rms_dbfs_sum
            """, arguments: arguments)
        let rows = try Row.fetchAll(db, sql: "SELECT CAST(wall / 3600 AS INTEGER) AS hour, COUNT(*) AS n FROM records WHERE \(clause) GROUP BY hour",
                                    arguments: arguments)
        for row in rows { try Self.countDrops(db, row["n"], hour: row["hour"]) }
    }

    /// The hourly roll-ups of dropped records, oldest hour first.
    public func rollups() throws(SpoolError) -> [HourlyRollup] {
        try reading { db in
            try Row.fetchAll(db, sql: "SELECT * FROM hourly_rollup ORDER BY hour, kind").map {
                HourlyRollup(hour: $0["hour"], kind: $0["kind"], records: $0["records"], confidenceSum: $0["confidence_sum"],
                             nullResults: $0["null_results"], latencyMsSum: $0["latency_ms_sum"], rmsDBFSSum: $0["rms_dbfs_sum"])
            }
        }
    }

    // MARK: Reading

    /// Reads and acknowledgements after `close()` are refused with an error (GRDB would trap on a closed connection).
    private func ensureOpen() throws(SpoolError) {
        condition.lock(); defer { condition.unlock() }
        if closed { throw SpoolError(.closed, "The spool \(path) is closed.") }
    }

    /// Up to `limit` records after `sequence`, oldest first (a page of the backlog; call again from the last one).
    public func records(after sequence: Int64, limit: Int = 500) throws(SpoolError) -> [Record] {
        try reading { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.columns) FROM records WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [sequence, limit]).map(Self.record)
        }
    }

    /// The decision record whose `decision.id` is `id` (a scan: for people labelling, not for the pipeline).
    public func decision(id: String) throws(SpoolError) -> Record? {
        try reading { db in
            try Row.fetchOne(db, sql: """
                SELECT \(Self.columns) FROM records
                WHERE kind = 'decision' AND json_extract(CAST(body AS TEXT), '$.decision.id') = ? ORDER BY seq DESC LIMIT 1
                """, arguments: [id]).map(Self.record)
        }
    }

    /// Utterance ids that already have a label record.
    public func labelledIDs() throws(SpoolError) -> Set<String> {
        try reading { db in
            Set(try String.fetchAll(db, sql: "SELECT json_extract(CAST(body AS TEXT), '$.utterance_id') FROM records WHERE kind = 'label'").compactMap { $0 })
        }
    }

    /// Decision records oldest first, `limit` at a time after `sequence` (kind `decision` only).
    public func decisions(after sequence: Int64, limit: Int = 500) throws(SpoolError) -> [Record] {
        try reading { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.columns) FROM records WHERE kind = 'decision' AND seq > ? ORDER BY seq LIMIT ?",
                             arguments: [sequence, limit]).map(Self.record)
        }
    }

    /// The newest `count` records, newest last (for `earshot logs`).
    public func latest(_ count: Int) throws(SpoolError) -> [Record] {
        try reading { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.columns) FROM records ORDER BY seq DESC LIMIT ?", arguments: [count]).map(Self.record).reversed()
        }
    }

    static let columns = "seq, epoch, wall, kind, body"
    static func record(_ row: Row) -> Record {
        Record(sequence: row["seq"], epoch: row["epoch"], wallTime: row["wall"], kind: row["kind"], body: row["body"])
    }

    /// A read of the open database, its failures as `SpoolError`.
    private func reading<T>(_ body: (Database) throws -> T) throws(SpoolError) -> T {
        try ensureOpen()
        do { return try database.read(body) } catch {
            throw SpoolError(.corrupt, "Reading \(path) failed: \(error)")
        }
    }

    /// Records the collector's acknowledgement: everything up to `sequence` is stored there.
    public func acknowledge(through sequence: Int64) throws(SpoolError) {
        try ensureOpen()
        do {
            try database.write { db in
                try db.execute(sql: "UPDATE counters SET value = MAX(value, ?) WHERE name = 'acknowledged'", arguments: [sequence])
                try db.execute(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES ('last_sync', ?)", arguments: [Date().timeIntervalSince1970])
            }
        } catch {
            throw SpoolError(.corrupt, "Recording the acknowledgement in \(path) failed: \(error)")
        }
    }

    /// Moves the unacknowledged records up to `sequence` into the dead-letter table with the collector's reason (a
    /// permanent rejection) and counts them as acknowledged, so sync goes on with the next ones.
    public func deadLetter(through sequence: Int64, reason: String) throws(SpoolError) {
        try ensureOpen()
        do {
            try database.write { db in
                let acknowledged = try Int64.fetchOne(db, sql: "SELECT value FROM counters WHERE name = 'acknowledged'") ?? 0
                try db.execute(sql: """
                    INSERT OR REPLACE INTO dead_letter(seq, epoch, wall, kind, body, reason, at)
                    SELECT seq, epoch, wall, kind, body, ?, ? FROM records WHERE seq > ? AND seq <= ?
                    """, arguments: [reason, Date().timeIntervalSince1970, acknowledged, sequence])
                try db.execute(sql: "UPDATE counters SET value = value + ? WHERE name = 'dead_letter'", arguments: [db.changesCount])
                try db.execute(sql: "UPDATE counters SET value = MAX(value, ?) WHERE name = 'acknowledged'", arguments: [sequence])
            }
        } catch {
            throw SpoolError(.corrupt, "Recording the dead letters in \(path) failed: \(error)")
        }
    }

    public func status() throws(SpoolError) -> Status {
        try ensureOpen()
        do {
            return try database.read { db in
                let acknowledged = try Int64.fetchOne(db, sql: "SELECT value FROM counters WHERE name = 'acknowledged'") ?? 0
                let row = try Row.fetchOne(db, sql: "SELECT COUNT(*) AS n, MIN(wall) AS lo, MAX(wall) AS hi FROM records")
                let backlog = try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM records WHERE seq > ?", arguments: [acknowledged]) ?? 0
                let counter = { (name: String) in try Int64.fetchOne(db, sql: "SELECT value FROM counters WHERE name = ?", arguments: [name]) ?? 0 }
                condition.lock(); let waitingDrops = queueDropped; condition.unlock()
                return Status(deviceID: deviceID, epoch: epoch, records: row?["n"] ?? 0, backlog: backlog, bytes: try Self.storedBytes(db),
                              oldest: row?["lo"], newest: row?["hi"], committedSequence: try counter("sequence"),
                              acknowledgedSequence: acknowledged, dropped: try counter("dropped") + waitingDrops, corrupt: try counter("corrupt"),
                              lastSync: try Double.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'last_sync'"),
                              deadLetter: try counter("dead_letter"))
            }
        } catch {
            throw SpoolError(.corrupt, "Reading the status of \(path) failed: \(error)")
        }
    }

    // MARK: Opening, checking, quarantining

    static func open(_ path: String) throws -> DatabaseQueue {
        var configuration = GRDB.Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // After a checkpoint the WAL is cut back to this size, so it cannot keep a full disk full.
            try db.execute(sql: "PRAGMA journal_size_limit = 1048576")
        }
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY, value NOT NULL);
                CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                CREATE TABLE records (seq INTEGER PRIMARY KEY, epoch INTEGER NOT NULL, wall REAL NOT NULL, kind TEXT NOT NULL,
                                      bytes INTEGER NOT NULL, body BLOB NOT NULL);
                CREATE INDEX records_wall ON records(wall);
                CREATE TABLE dropped_hourly (hour INTEGER PRIMARY KEY, records INTEGER NOT NULL);
                """)
        }
        migrator.registerMigration("v2: running byte total") { db in
            // Kept by triggers, so every insert and delete path keeps it right and nothing has to scan the table.
            try db.execute(sql: """
                INSERT OR REPLACE INTO counters(name, value) VALUES ('bytes', (SELECT COALESCE(SUM(bytes), 0) FROM records));
                CREATE TRIGGER records_bytes_insert AFTER INSERT ON records BEGIN
                    UPDATE counters SET value = value + NEW.bytes WHERE name = 'bytes';
                END;
                CREATE TRIGGER records_bytes_delete AFTER DELETE ON records BEGIN
                    UPDATE counters SET value = value - OLD.bytes WHERE name = 'bytes';
                END;
                """)
        }
        migrator.registerMigration("v3: dead letters") { db in
            try db.execute(sql: """
                CREATE TABLE dead_letter (seq INTEGER PRIMARY KEY, epoch INTEGER NOT NULL, wall REAL NOT NULL, kind TEXT NOT NULL,
                                          body BLOB NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL);
                INSERT OR IGNORE INTO counters(name, value) VALUES ('dead_letter', 0);
                """)
        }
        migrator.registerMigration("v4: hourly roll-ups of dropped records") { db in
            try db.execute(sql: """
                CREATE TABLE hourly_rollup (hour INTEGER NOT NULL, kind TEXT NOT NULL, records INTEGER NOT NULL, confidence_sum REAL NOT NULL,
                                            null_results INTEGER NOT NULL, latency_ms_sum REAL NOT NULL, rms_dbfs_sum REAL NOT NULL,
                                            PRIMARY KEY (hour, kind));
                """)
        }
        try migrator.migrate(queue)
        return queue
    }

    static func check(_ queue: DatabaseQueue) throws {
        let result = try queue.read { db in try String.fetchOne(db, sql: "PRAGMA quick_check") }
        guard result == "ok" else { throw SpoolError(.corrupt, "integrity check: \(result ?? "no answer")") }
    }

    /// Moves the database files aside into `quarantine/<time>/`; returns that folder.
    static func quarantine(_ directory: String, reason: String) throws(SpoolError) -> String {
        let fm = FileManager.default
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let target = directory + "/quarantine/\(stamp)-\(UInt16.random(in: 0..<UInt16.max))"
        do {
            try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
            for suffix in ["", "-wal", "-shm"] where fm.fileExists(atPath: directory + "/spool.sqlite" + suffix) {
                try fm.moveItem(atPath: directory + "/spool.sqlite" + suffix, toPath: target + "/spool.sqlite" + suffix)
            }
            try Data((reason + "\n").utf8).write(to: URL(fileURLWithPath: target + "/reason.txt"))
        } catch {
            throw SpoolError(.unwritable, "Cannot move the damaged spool aside into \(target): \(error.localizedDescription)")
        }
        return target
    }

    static func quarantineCount(_ directory: String) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/quarantine")) ?? []).count
    }

    /// The device's id, kept in its own file so it survives a quarantined database.
    static func deviceID(in directory: String) throws(SpoolError) -> String {
        let path = directory + "/device-id"
        if let text = FileManager.default.contents(atPath: path).map({ String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }),
           !text.isEmpty {
            return text
        }
        let id = UUID().uuidString.lowercased()
        do { try Data((id + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw SpoolError(.unwritable, "Cannot write \(path): \(error.localizedDescription)")
        }
        return id
    }

    static func freeBytes(_ directory: String) -> Int64 {
        var s = statvfs()
        guard statvfs(directory, &s) == 0 else { return .max }
        return Int64(s.f_bavail) * Int64(s.f_frsize)
    }
}

/// A spool failure, with a message for people.
public struct SpoolError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable { case unwritable, corrupt, closed }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
    public var description: String { message }
}
