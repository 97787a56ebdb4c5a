public import Foundation

/// A value in plain SQL both engines run alike (NULL is the optional's nil).
public enum SQLValue: Sendable, Equatable {
    case text(String), real(Double), integer(Int64), bytes(Data)

    public var text: String? { if case .text(let v) = self { v } else { nil } }
    public var real: Double? {
        switch self { case .real(let v): v; case .integer(let v): Double(v); default: nil }
    }
    public var integer: Int64? {
        switch self { case .integer(let v): v; case .real(let v): Int64(exactly: v); default: nil }
    }
    public var bytes: Data? { if case .bytes(let v) = self { v } else { nil } }
}

/// The parts of ingest and querying both engines share: the acknowledgement arithmetic, the resend check and the
/// query texts (placeholders are the only difference).
enum CollectorSQL {
    typealias Value = SQLValue

    /// The categorical columns a window carries.
    static let categoricalColumns = ["model", "label", "source", "accepted", "null_result", "cloud_agrees", "shadow_agrees", "quick_repeat",
                                     "candidate_error", "shadow_agrees_cloud"]
    static let windowFlags = ["accepted", "null_result", "cloud_agrees", "shadow_agrees", "quick_repeat", "candidate_error", "shadow_agrees_cloud"]

    /// The subjects a scope ranges over: bound, unrevoked devices by name, the models decisions came from, or the
    /// cohorts (site and hardware tags) of bound devices.
    static func subjects(_ scope: AlarmRule.Scope) -> String? {
        switch scope {
        case .fleet: nil
        case .device: "SELECT name FROM devices WHERE device_id IS NOT NULL AND revoked_at IS NULL ORDER BY name"
        case .model: "SELECT DISTINCT model FROM records WHERE model IS NOT NULL AND kind = 'decision' ORDER BY model"
        case .site: "SELECT DISTINCT site FROM devices WHERE site IS NOT NULL AND device_id IS NOT NULL AND revoked_at IS NULL ORDER BY site"
        case .hardware:
            "SELECT DISTINCT hardware FROM devices WHERE hardware IS NOT NULL AND device_id IS NOT NULL AND revoked_at IS NULL ORDER BY hardware"
        }
    }

    static let alarmColumns = "id, rule, scope, subject, state, value, threshold, reason, at, delivered, attempts"

    /// Devices with their totals over all epochs.
    static let deviceList = """
        SELECT d.name, d.device_id, d.site, d.hardware, d.created_at, d.revoked_at, CAST(COALESCE(SUM(s.stored), 0) AS BIGINT),
            CAST(COALESCE(SUM(s.duplicates), 0) AS BIGINT), CAST(COALESCE(SUM(s.skipped), 0) AS BIGINT),
            CAST(COALESCE(MAX(s.dropped), 0) AS BIGINT), CAST(COALESCE(MAX(s.corrupt), 0) AS BIGINT), MAX(s.last_seen),
            CAST(COALESCE((SELECT SUM(r.records) FROM rollups r WHERE r.device_id = d.device_id), 0) AS BIGINT), d.fleet_group,
            CAST((SELECT COUNT(*) FROM audio_clips a WHERE a.device = d.name) AS BIGINT),
            CAST(COALESCE((SELECT SUM(a.size) FROM audio_clips a WHERE a.device = d.name), 0) AS BIGINT)
        FROM devices d LEFT JOIN streams s ON s.device_id = d.device_id GROUP BY d.name ORDER BY d.name
        """

    /// A record sent again must be the record stored: the same identity with other content means the device reused
    /// sequence numbers (a restored image, a reset spool without a new epoch) and nothing of the batch is stored.
    static func checkResent(_ resent: [IngestRecord], stored: [Int64: String], batch: IngestBatch) throws(CollectorError) {
        for record in resent where stored[record.sequence] != record.digest {
            throw .conflict("record \(record.sequence) of device \(batch.deviceID) epoch \(batch.epoch) was stored before with other content; "
                            + "a device that starts its log again must start a new epoch")
        }
    }

    static func digests(_ rows: [(Int64, String)]) -> [Int64: String] {
        Dictionary(rows, uniquingKeysWith: { first, _ in first })
    }

    /// Stores roll-ups: a row per (device, epoch, hour, kind), replaced by totals at least as large (they only grow).
    static let rollupUpsert = """
        INSERT INTO rollups (device_id, epoch, hour, kind, records, confidence_sum, null_results, latency_ms_sum, rms_dbfs_sum)
        VALUES (PLACEHOLDERS) ON CONFLICT (device_id, epoch, hour, kind) DO UPDATE SET records = excluded.records,
            confidence_sum = excluded.confidence_sum, null_results = excluded.null_results, latency_ms_sum = excluded.latency_ms_sum,
            rms_dbfs_sum = excluded.rms_dbfs_sum WHERE excluded.records >= rollups.records
        """

    /// The acknowledgement: the highest sequence stored for this device and epoch. Batches ascend and are stored
    /// whole, so that is the larger of the previous acknowledgement and this batch's last sequence.
    static func result(_ batch: IngestBatch, prior: Int64?, stored: Int) -> IngestResult {
        IngestResult(deviceID: batch.deviceID, epoch: batch.epoch, ackedSequence: max(prior ?? 0, batch.records.last!.sequence),
                     stored: stored, duplicates: batch.records.count - stored)
    }

    /// Sequences the device never sent because it lost them (bounds, a full disk): a gap before this batch.
    static func skipped(_ batch: IngestBatch, prior: Int64?) -> Int64 {
        max(0, batch.records[0].sequence - (prior ?? 0) - 1)
    }

    /// The most recent decisions, newest first: numeric columns, then model, label, source, then the flags
    /// (`windowFlags`), then wall time.
    static func windowQuery(_ filter: WindowFilter, limit: Int, placeholder: (Int) -> String) -> (String, [Value]) {
        var conditions = ["kind = 'decision'"]
        var values: [Value] = []
        func bind(_ value: Value) -> String { values.append(value); return placeholder(values.count) }
        if let device = filter.device { conditions.append("device_id = (SELECT device_id FROM devices WHERE name = \(bind(.text(device))))") }
        if let site = filter.site { conditions.append("device_id IN (SELECT device_id FROM devices WHERE site = \(bind(.text(site))))") }
        if let hardware = filter.hardware {
            conditions.append("device_id IN (SELECT device_id FROM devices WHERE hardware = \(bind(.text(hardware))))")
        }
        if let model = filter.model { conditions.append("model = \(bind(.text(model)))") }
        if let devices = filter.devices {
            let names = devices.isEmpty ? "NULL" : devices.map { bind(.text($0)) }.joined(separator: ", ")
            conditions.append("device_id IN (SELECT device_id FROM devices WHERE name IN (\(names)))")
        }
        if let since = filter.since { conditions.append("wall >= \(bind(.real(since)))") }
        if let until = filter.until { conditions.append("wall < \(bind(.real(until)))") }
        let columns = UtteranceRow.numericColumns + ["model", "label", "source"] + windowFlags + ["wall"]
        let sql = "SELECT \(columns.joined(separator: ", ")) FROM records WHERE \(conditions.joined(separator: " AND ")) "
            + "ORDER BY wall DESC LIMIT \(bind(.integer(Int64(limit))))"
        return (sql, values)
    }

    /// Matching records oldest first, with their device's name: identity, kind, wall, text, numbers, flags, body.
    static func exportQuery(_ filter: ExportFilter, placeholder: (Int) -> String) -> (String, [Value]) {
        var conditions: [String] = []
        var values: [Value] = []
        func bind(_ value: Value) -> String { values.append(value); return placeholder(values.count) }
        if let device = filter.device { conditions.append("d.name = \(bind(.text(device)))") }
        if let model = filter.model { conditions.append("r.model = \(bind(.text(model)))") }
        if let since = filter.since { conditions.append("r.wall >= \(bind(.real(since)))") }
        if let until = filter.until { conditions.append("r.wall < \(bind(.real(until)))") }
        if let kind = filter.kind { conditions.append("r.kind = \(bind(.text(kind)))") }
        let columns = ["COALESCE(d.name, '')", "r.device_id", "r.epoch", "r.seq", "r.kind", "r.wall"]
            + (UtteranceRow.textColumns + UtteranceRow.numericColumns + UtteranceRow.flagColumns).map { "r.\($0)" } + ["r.body"]
        let sql = "SELECT \(columns.joined(separator: ", ")) FROM records r LEFT JOIN devices d ON d.device_id = r.device_id"
            + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")) + " ORDER BY r.wall, r.device_id, r.epoch, r.seq"
        return (sql, values)
    }

    /// Gathers window rows (newest first) into columns, oldest first; missing values are left out of their column.
    struct WindowBuilder {
        private var numeric = [[Double]](repeating: [], count: UtteranceRow.numericColumns.count)
        private var present = [[Bool]](repeating: [], count: UtteranceRow.numericColumns.count)
        private var text = [[String]](repeating: [], count: 3)
        private var flags = [[String]](repeating: [], count: CollectorSQL.windowFlags.count)
        private var walls: [Double] = []
        private var count = 0

        mutating func add(numeric values: [Double?], text strings: [String?], flags bits: [Int?], wall: Double) {
            walls.append(wall)
            for (k, v) in values.enumerated() {
                if let v { numeric[k].append(v) }
                present[k].append(v != nil)
            }
            for (k, v) in strings.enumerated() { text[k].append(v ?? "") }
            // A flag's column keeps every row ("" where unknown) so categorical columns stay aligned with rows.
            for (k, v) in bits.enumerated() { flags[k].append(v.map { $0 == 0 ? "false" : "true" } ?? "") }
            count += 1
        }

        func build() -> UtteranceWindow {
            var window = UtteranceWindow()
            window.count = count
            window.walls = walls.reversed()
            for (k, name) in UtteranceRow.numericColumns.enumerated() {
                window.numeric[name] = numeric[k].reversed()
                window.present[name] = present[k].reversed()
            }
            for (k, name) in ["model", "label", "source"].enumerated() { window.categorical[name] = text[k].reversed() }
            for (k, name) in CollectorSQL.windowFlags.enumerated() { window.categorical[name] = flags[k].reversed() }
            return window
        }
    }
}
