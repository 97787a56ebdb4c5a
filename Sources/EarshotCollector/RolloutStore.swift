public import Foundation

/// The registry, rollout plans, their log and device reports, written once over `plain` SQL for both engines.
extension CollectorStore {
    /// Puts a device in a rollout group (nil: none); false when no device has that name.
    public func setGroup(device: String, group: String?) async throws(CollectorError) -> Bool {
        !(try await plain("UPDATE devices SET fleet_group = ? WHERE name = ? RETURNING name", [group.map { .text($0) }, .text(device)])).isEmpty
    }

    /// Unrevoked devices of a group, by name.
    public func groupDevices(_ group: String) async throws(CollectorError) -> [String] {
        try await plain("SELECT name FROM devices WHERE fleet_group = ? AND revoked_at IS NULL ORDER BY name", [.text(group)]).compactMap { $0[0]?.text }
    }

    // MARK: Registry

    /// Stores a verified bundle archive. The same id with the same model is a no-op (false); with another model it is
    /// refused, since versions are immutable.
    @discardableResult
    public func register(_ model: RegisteredModel, archive: Data) async throws(CollectorError) -> Bool {
        if let existing = try await registeredModel(model.id) {
            guard existing.modelSha256 == model.modelSha256 else {
                throw .conflict("\(model.id) is registered already with another model; give the new one a new version")
            }
            return false
        }
        _ = try await plain("""
            INSERT INTO models (id, name, version, kind, model_sha256, archive_sha256, archive_bytes, signed, manifest, pushed_at, archive)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING
            """, [.text(model.id), .text(model.name), .text(model.version), .text(model.kind), .text(model.modelSha256), .text(model.archiveSha256),
                  .integer(Int64(model.archiveBytes)), .integer(model.signed ? 1 : 0), .text(model.manifest), .real(model.pushedAt),
                  .bytes(archive)])
        return true
    }

    private static var modelColumns: String {
        "id, name, version, kind, model_sha256, archive_sha256, archive_bytes, signed, manifest, pushed_at"
    }

    private static func model(_ row: [SQLValue?]) -> RegisteredModel {
        RegisteredModel(id: row[0]?.text ?? "", name: row[1]?.text ?? "", version: row[2]?.text ?? "", kind: row[3]?.text ?? "",
                        modelSha256: row[4]?.text ?? "", archiveSha256: row[5]?.text ?? "", archiveBytes: Int(row[6]?.integer ?? 0),
                        signed: row[7]?.integer == 1, manifest: row[8]?.text ?? "{}", pushedAt: row[9]?.real ?? 0)
    }

    public func registeredModels() async throws(CollectorError) -> [RegisteredModel] {
        try await plain("SELECT \(Self.modelColumns) FROM models ORDER BY name, pushed_at", []).map(Self.model)
    }

    public func registeredModel(_ id: String) async throws(CollectorError) -> RegisteredModel? {
        try await plain("SELECT \(Self.modelColumns) FROM models WHERE id = ?", [.text(id)]).first.map(Self.model)
    }

    /// The bundle archive devices download.
    public func modelArchive(_ id: String) async throws(CollectorError) -> Data? {
        try await plain("SELECT archive FROM models WHERE id = ?", [.text(id)]).first?[0]?.bytes
    }

    // MARK: Rollouts

    /// Stores a new plan; refused while another unfinished rollout targets the same group.
    public func createRollout(_ plan: RolloutPlan) async throws(CollectorError) {
        for other in try await rollouts() where other.group == plan.group && !other.state.isFinished {
            throw .conflict("rollout \(other.id) of \(other.model) is still \(other.state.rawValue) in group \(plan.group); finish or abort it first")
        }
        var plan = plan
        plan.revision = 1
        let rows = try await plain("INSERT INTO rollouts (id, model, grp, state, revision, plan, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING id",
                                   [.text(plan.id), .text(plan.model), .text(plan.group), .text(plan.state.rawValue), .text(try Self.json(plan)),
                                    .real(Date().timeIntervalSince1970)])
        guard !rows.isEmpty else { throw .conflict("a rollout named \(plan.id) exists already") }
    }

    public func rollouts() async throws(CollectorError) -> [RolloutPlan] {
        try await plain("SELECT plan, revision FROM rollouts ORDER BY updated_at DESC, id", []).compactMap(Self.plan)
    }

    public func rollout(_ id: String) async throws(CollectorError) -> RolloutPlan? {
        try await plain("SELECT plan, revision FROM rollouts WHERE id = ?", [.text(id)]).first.flatMap(Self.plan)
    }

    /// Saves a changed plan only if nobody changed it since it was read (its `revision`); false when someone did.
    public func saveRollout(_ plan: RolloutPlan) async throws(CollectorError) -> Bool {
        var next = plan
        next.revision = plan.revision + 1
        return !(try await plain("UPDATE rollouts SET state = ?, revision = ?, plan = ?, updated_at = ? WHERE id = ? AND revision = ? RETURNING id",
                                 [.text(next.state.rawValue), .integer(Int64(next.revision)), .text(try Self.json(next)), .real(Date().timeIntervalSince1970),
                                  .text(plan.id), .integer(Int64(plan.revision))])).isEmpty
    }

    public func logRollout(_ entry: RolloutLogEntry) async throws(CollectorError) {
        _ = try await plain("INSERT INTO rollout_log (rollout, step, action, reason, evidence, at) VALUES (?, ?, ?, ?, ?, ?)",
                            [.text(entry.rollout), .integer(Int64(entry.step)), .text(entry.action), .text(entry.reason), .text(entry.evidence), .real(entry.at)])
    }

    /// A rollout's log, newest first.
    public func rolloutLog(_ rollout: String, limit: Int = 200) async throws(CollectorError) -> [RolloutLogEntry] {
        try await plain("SELECT id, rollout, step, action, reason, evidence, at FROM rollout_log WHERE rollout = ? ORDER BY id DESC LIMIT ?",
                        [.text(rollout), .integer(Int64(limit))]).map { row in
            var entry = RolloutLogEntry(rollout: row[1]?.text ?? "", step: Int(row[2]?.integer ?? 0), action: row[3]?.text ?? "",
                                        reason: row[4]?.text ?? "", evidence: row[5]?.text ?? "{}", at: row[6]?.real ?? 0)
            entry.id = row[0]?.integer ?? 0
            return entry
        }
    }

    /// Technicians' verdicts on one model's decisions from some devices since a time: "true" for each correction,
    /// "false" for each confirmation (label records carry the model that answered and the verdict).
    public func corrections(model: String, devices: [String], since: Double) async throws(CollectorError) -> [String] {
        guard !devices.isEmpty else { return [] }
        let names = Array(repeating: "?", count: devices.count).joined(separator: ", ")
        let rows = try await plain("""
            SELECT source, COUNT(*) FROM records WHERE kind = 'label' AND model = ? AND wall >= ?
                AND device_id IN (SELECT device_id FROM devices WHERE name IN (\(names))) GROUP BY source
            """, [.text(model), .real(since)] + devices.map { .text($0) })
        var verdicts: [String] = []
        for row in rows {
            let count = Int(row[1]?.integer ?? 0)
            switch row[0]?.text {
            case "correction": verdicts += Array(repeating: "true", count: count)
            case "confirmation": verdicts += Array(repeating: "false", count: count)
            default: break
            }
        }
        return verdicts
    }

    // MARK: Device reports

    /// Keeps a device's latest report and every event it carried (each once).
    public func saveReport(device: String, _ report: DeviceRolloutReport, at: Double) async throws(CollectorError) {
        _ = try await plain("""
            INSERT INTO device_reports (device, rollout, step, active, candidate, mode, share, reported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (device) DO UPDATE SET rollout = excluded.rollout, step = excluded.step, active = excluded.active,
                candidate = excluded.candidate, mode = excluded.mode, share = excluded.share, reported_at = excluded.reported_at
            """, [.text(device), report.rollout.map { .text($0) }, report.step.map { .integer(Int64($0)) }, report.active.map { .text($0) },
                  report.candidate.map { .text($0) }, report.mode.map { .text($0) }, report.share.map { .real($0) }, .real(at)])
        for event in report.events.prefix(500) {
            _ = try await plain("INSERT INTO device_events (device, time, event, bundle, reason, rollout) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                [.text(device), .real(event.time), .text(String(event.event.prefix(64))), .text(String(event.bundle.prefix(200))),
                                 event.reason.map { .text(String($0.prefix(1_000))) }, event.rollout.map { .text($0) }])
        }
    }

    /// Device events about one bundle since a time, oldest first: (device, event).
    public func deviceEvents(bundle: String, since: Double) async throws(CollectorError) -> [(device: String, event: DeviceRolloutReport.Event)] {
        try await plain("SELECT device, time, event, bundle, reason, rollout FROM device_events WHERE bundle = ? AND time >= ? ORDER BY time",
                        [.text(bundle), .real(since)]).map { row in
            (row[0]?.text ?? "", DeviceRolloutReport.Event(time: row[1]?.real ?? 0, event: row[2]?.text ?? "", bundle: row[3]?.text ?? "",
                                                           reason: row[4]?.text, rollout: row[5]?.text))
        }
    }

    /// The latest report of every device, by device name (its slots and the rollout and step it follows).
    public func deviceReports() async throws(CollectorError) -> [String: DeviceRolloutReport] {
        var result: [String: DeviceRolloutReport] = [:]
        for row in try await plain("SELECT device, rollout, step, active, candidate, mode, share FROM device_reports", []) {
            result[row[0]?.text ?? ""] = DeviceRolloutReport(deviceID: "", active: row[3]?.text, previous: nil, candidate: row[4]?.text,
                                                             mode: row[5]?.text, share: row[6]?.real, rollout: row[1]?.text,
                                                             step: row[2]?.integer.map { Int($0) })
        }
        return result
    }

    static func json(_ plan: RolloutPlan) throws(CollectorError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do { return String(decoding: try encoder.encode(plan), as: UTF8.self) } catch {
            throw CollectorError(500, "cannot encode rollout \(plan.id): \(error)")
        }
    }

    static func plan(_ row: [SQLValue?]) -> RolloutPlan? {
        guard let text = row[0]?.text, var plan = try? JSONDecoder().decode(RolloutPlan.self, from: Data(text.utf8)) else { return nil }
        plan.revision = Int(row[1]?.integer ?? 0)
        return plan
    }
}
