import EarshotMonitoring
public import Foundation

/// The collector's dashboard: server-rendered HTML with inline SVG, no JavaScript. Pages: the fleet (devices, alarms,
/// held models, a drift heat map of columns × devices, latency and null-rate trends), one device (reference vs current
/// histograms, its drift table and trends) and one model version (its heat map across devices).
public struct Dashboard: Sendable {
    public let store: any CollectorStore
    /// Rows per window: the latest `window` decisions are compared with the `window` before them.
    public var window = 200
    /// The heat map shows at most this many devices (the most recently seen).
    public var maximumDevices = 60

    public init(store: any CollectorStore) { self.store = store }

    /// The columns watched, grouped by pipeline stage so a change in one stage is told from a change in another.
    static let stages: [(stage: String, columns: [String])] = [
        ("input & VAD", ["rms_dbfs", "peak_dbfs", "snr_db", "noise_floor_dbfs", "clipped_percent", "spectral_centroid_hz", "spectral_tilt",
                          "speech_ratio", "duration_s", "vad_segments"]),
        ("recogniser", ["label", "confidence", "local_confidence", "null_result", "accepted", "source", "cloud_agrees", "shadow_agrees", "quick_repeat"]),
        ("software", ["latency_ms", "cpu_ms", "rtf", "rss_mb", "queue_depth", "capture_overruns"]),
    ]
    static var columns: [String] { stages.flatMap(\.columns) }

    // MARK: Pages

    public func fleetPage(now: Double = Date().timeIntervalSince1970) async throws(CollectorError) -> String {
        let devices = try await store.devices()
        let log = try await store.alarmLog(limit: 200)
        let holds = try await store.holds()
        let firing = Self.firing(log)
        var body = "<h1>Fleet</h1>"
        let active = devices.filter { $0.revokedAt == nil }
        body += "<section class=\"cards\">"
            + card("devices", "\(active.count)", "\(devices.count - active.count) revoked")
            + card("records", "\(devices.reduce(0) { $0 + $1.records })", "\(devices.reduce(0) { $0 + $1.skipped }) skipped by devices")
            + card("alarms firing", "\(firing.count)", firing.isEmpty ? "all clear" : Set(firing.map(\.rule)).sorted().joined(separator: ", "))
            + card("models held", "\(holds.count)", holds.map(\.model).joined(separator: ", "))
            + "</section>"
        // Heat map: the most recently seen devices, plus the whole fleet.
        let shown = devices.filter { $0.deviceID != nil }.sorted { ($0.lastSeen ?? 0) > ($1.lastSeen ?? 0) }.prefix(maximumDevices)
        var rows: [(String, String?)] = [], cells: [[Charts.Cell]] = []
        for device in shown {
            rows.append((device.name, "/devices/\(Self.path(device.name))"))
            cells.append(try await driftCells(device: device.name, model: nil, family: shown.count))
        }
        // Cohorts: every site and hardware tag, then the whole fleet.
        for scope in [AlarmRule.Scope.site, .hardware] {
            for tag in try await store.subjects(scope) {
                rows.append(("\(scope.rawValue): \(tag)", nil))
                let filter = scope == .site ? WindowFilter(site: tag) : WindowFilter(hardware: tag)
                cells.append(try await driftCells(filter, family: shown.count))
            }
        }
        rows.append(("whole fleet", nil))
        cells.append(try await driftCells(device: nil, model: nil, family: shown.count))
        body += "<h2>Drift: the latest \(window) decisions against the \(window) before, by device, cohort and fleet</h2>"
            + legend() + Charts.heatmap(rows: rows, columns: Self.columns, cells: cells)
        body += try await trends(device: nil, model: nil)
        body += "<h2>Devices</h2><table><thead><tr><th>device</th><th>site</th><th>hardware</th><th>records</th><th>duplicates</th><th>skipped</th><th>dropped on device</th><th>last seen</th><th>alarms</th><th>state</th></tr></thead><tbody>"
        for d in devices {
            let alarms = firing.filter { $0.subject == d.name }.count
            body += "<tr><td><a href=\"/devices/\(Self.path(d.name))\">\(Charts.escape(d.name))</a></td><td>\(Charts.escape(d.site ?? "–"))</td>"
                + "<td>\(Charts.escape(d.hardware ?? "–"))</td><td class=\"n\">\(d.records)</td><td class=\"n\">\(d.duplicates)</td>"
                + "<td class=\"n\">\(d.skipped)</td><td class=\"n\">\(d.dropped)</td><td>\(Self.ago(d.lastSeen, now: now))</td>"
                + "<td class=\"n\">\(alarms > 0 ? "<strong class=\"bad\">\(alarms) firing</strong>" : "0")</td>"
                + "<td>\(d.revokedAt == nil ? (d.deviceID == nil ? "waiting for first upload" : "active") : "<span class=\"bad\">revoked</span>")</td></tr>"
        }
        body += "</tbody></table>"
        body += rolloutTable(try await store.rollouts().prefix(20))
        body += alarmTable(log.prefix(20), holds: holds)
        return Self.page(title: "Earshot fleet", body: body)
    }

    private func rolloutTable(_ plans: ArraySlice<RolloutPlan>) -> String {
        var html = "<h2>Rollouts</h2>"
        if plans.isEmpty { return html + "<p class=\"muted\">No rollout yet (earshot-collector rollout start).</p>" }
        html += "<table><thead><tr><th>rollout</th><th>model</th><th>group</th><th>state</th><th>step</th><th>latest reason</th></tr></thead><tbody>"
        for p in plans {
            let tone = p.state == .rolledBack ? "bad" : p.state == .completed ? "good" : ""
            html += "<tr><td><a href=\"/rollouts/\(Self.path(p.id))\">\(Charts.escape(p.id))</a></td><td>\(Charts.escape(p.model))</td>"
                + "<td>\(Charts.escape(p.group))</td><td class=\"\(tone)\">\(p.state.rawValue)</td><td>\(p.step + 1)/\(p.steps.count) (\(Charts.escape(p.currentStep.description)))</td>"
                + "<td>\(Charts.escape(p.reason ?? ""))</td></tr>"
        }
        return html + "</tbody></table>"
    }

    /// One rollout: the plan, the devices in each step with what they last reported, and every gate decision with its
    /// evidence (the metrics compared). Nil when no rollout has that id.
    public func rolloutPage(_ id: String, now: Double = Date().timeIntervalSince1970) async throws(CollectorError) -> String? {
        guard let plan = try await store.rollout(id) else { return nil }
        let group = try await store.groupDevices(plan.group)
        let members = Set(plan.members(of: group))
        let reports = try await store.deviceReports()
        let tone = plan.state == .rolledBack ? "bad" : plan.state == .completed ? "good" : ""
        var body = "<h1>Rollout \(Charts.escape(plan.id))</h1><p><a href=\"/models/\(Self.path(plan.model))\">\(Charts.escape(plan.model))</a> to group "
            + "\(Charts.escape(plan.group)) (\(group.count) devices), compared with \(Charts.escape(plan.baseline ?? "no baseline")). "
            + "State <strong class=\"\(tone)\">\(plan.state.rawValue)</strong>, step \(plan.step + 1) of \(plan.steps.count): "
            + plan.steps.enumerated().map { $0.offset == plan.step ? "<strong>\(Charts.escape($0.element.description))</strong>" : Charts.escape($0.element.description) }.joined(separator: " → ")
            + ".</p><p>\(Charts.escape(plan.reason ?? ""))</p>"
        body += "<h2>Devices</h2><table><thead><tr><th>device</th><th>in this step</th><th>active</th><th>candidate</th><th>mode</th><th>reported step</th></tr></thead><tbody>"
        for name in group {
            let r = reports[name]
            body += "<tr><td><a href=\"/devices/\(Self.path(name))\">\(Charts.escape(name))</a></td><td>\(members.contains(name) ? "yes" : "–")</td>"
                + "<td>\(Charts.escape(r?.active ?? "–"))</td><td>\(Charts.escape(r?.candidate ?? "–"))</td>"
                + "<td>\(Charts.escape(r?.mode.map { "\($0) \(Charts.format((r?.share ?? 0) * 100)) %" } ?? "–"))</td>"
                + "<td>\(r?.rollout == plan.id ? String(r?.step ?? 0) : "–")</td></tr>"
        }
        body += "</tbody></table><h2>Decisions and evidence</h2>"
        let time = ISO8601DateFormatter()
        for entry in try await store.rolloutLog(id) {
            let cls = entry.action == "rollback" || entry.action == "abort" ? "bad" : entry.action == "promote" || entry.action == "complete" ? "good" : ""
            body += "<h3 class=\"\(cls)\">\(time.string(from: Date(timeIntervalSince1970: entry.at))) · step \(entry.step) · \(Charts.escape(entry.action))</h3>"
                + "<p>\(Charts.escape(entry.reason))</p>"
            guard let verdict = try? JSONDecoder().decode(RolloutGate.Verdict.self, from: Data(entry.evidence.utf8)) else { continue }
            body += "<p class=\"muted\">\(verdict.candidateDecisions) candidate decisions against \(verdict.baselineDecisions) baseline decisions (\(verdict.baseline))</p>"
                + "<table><thead><tr><th>metric</th><th>candidate</th><th>baseline</th><th>n</th><th>p (Holm)</th><th>effect</th><th>threshold</th><th>worse</th><th>note</th></tr></thead><tbody>"
            for m in verdict.metrics {
                body += "<tr class=\"\(m.worse ? "drifted" : "")\"><td>\(Charts.escape(m.name))</td><td class=\"n\">\(m.candidate.map(Charts.format) ?? "–")</td>"
                    + "<td class=\"n\">\(m.baseline.map(Charts.format) ?? "–")</td><td class=\"n\">\(m.candidateCount) / \(m.baselineCount)</td>"
                    + "<td class=\"n\">\(m.pValue.map(Charts.format) ?? "–")</td><td class=\"n\">\(m.effect.map(Charts.format) ?? "–")</td>"
                    + "<td class=\"n\">\(m.effectThreshold.map(Charts.format) ?? "–")</td><td class=\"\(m.worse ? "bad" : "")\">\(m.worse ? "worse" : "no")</td>"
                    + "<td>\(Charts.escape(m.note))</td></tr>"
            }
            body += "</tbody></table>"
        }
        return Self.page(title: "Earshot rollout \(plan.id)", body: body)
    }

    /// Nil when no device has that name.
    public func devicePage(_ name: String, now: Double = Date().timeIntervalSince1970) async throws(CollectorError) -> String? {
        guard let device = try await store.devices().first(where: { $0.name == name }) else { return nil }
        let both = try await store.window(device: name, model: nil, since: nil, limit: 2 * window)
        let current = min(window, both.count / 2)
        let (reference, now_) = both.split(currentCount: current)
        var body = "<p><a href=\"/\">← fleet</a></p><h1>Device \(Charts.escape(name))</h1>"
        body += "<p class=\"muted\">id \(Charts.escape(device.deviceID ?? "not yet bound")) · site \(Charts.escape(device.site ?? "–")) · hardware \(Charts.escape(device.hardware ?? "–")) · \(device.records) records · last seen \(Self.ago(device.lastSeen, now: now))</p>"
        body += "<h2>Inputs and outputs: the latest \(current) decisions (blue) against the \(both.count - current) before (grey)</h2><section class=\"charts\">"
        for column in ["rms_dbfs", "snr_db", "noise_floor_dbfs", "spectral_centroid_hz", "confidence", "latency_ms"] {
            let r = reference.first { $0.0 == column }.map(\.1), c = now_[column]
            if case .numeric(let rv)? = r, case .numeric(let cv)? = c { body += Charts.histogram(title: column, reference: rv, current: cv) }
        }
        body += "</section>"
        body += try await trends(device: name, model: nil)
        var policy = DriftPolicy()
        policy.minimumSamples = 30
        let results = DriftDetector(policy: policy).compare(reference: reference.filter { Self.columns.contains($0.0) }, current: now_)
        body += "<h2>Drift by column</h2><table><thead><tr><th>stage</th><th>column</th><th>decision</th><th>p (Holm)</th><th>effect</th><th>threshold</th><th>why</th></tr></thead><tbody>"
        for (stage, columns) in Self.stages {
            for column in columns {
                guard let r = results.first(where: { $0.column == column }) else { continue }
                body += "<tr class=\"\(r.drifted ? "drifted" : "")\"><td>\(stage)</td><td>\(column)</td><td>\(r.decided ? (r.drifted ? "<strong class=\"bad\">DRIFT</strong>" : "ok") : "no decision")</td>"
                    + "<td class=\"n\">\(r.adjustedPValue.map(Charts.format) ?? "–")</td><td class=\"n\">\(Charts.format(r.effectValue))</td>"
                    + "<td class=\"n\">\(Charts.format(r.effectThreshold))</td><td>\(Charts.escape(r.reason))</td></tr>"
            }
        }
        body += "</tbody></table>"
        let log = try await store.alarmLog(limit: 500).filter { $0.subject == name }
        body += alarmTable(log.prefix(20), holds: [])
        return Self.page(title: "Earshot · \(name)", body: body)
    }

    /// Nil when no decision came from that model.
    public func modelPage(_ model: String) async throws(CollectorError) -> String? {
        guard try await store.subjects(.model).contains(model) else { return nil }
        let devices = try await store.devices().filter { $0.deviceID != nil }.prefix(maximumDevices)
        var rows: [(String, String?)] = [], cells: [[Charts.Cell]] = []
        for device in devices {
            let c = try await driftCells(device: device.name, model: model, family: devices.count)
            guard c.contains(where: { $0.ratio != nil }) else { continue }
            rows.append((device.name, "/devices/\(Self.path(device.name))"))
            cells.append(c)
        }
        rows.append(("all devices", nil))
        cells.append(try await driftCells(device: nil, model: model, family: devices.count))
        let holds = try await store.holds().filter { $0.model == model }
        var body = "<p><a href=\"/\">← fleet</a></p><h1>Model \(Charts.escape(model))</h1>"
        for h in holds { body += "<p class=\"bad\">Held from rollouts by alarm \(Charts.escape(h.rule)): \(Charts.escape(h.reason))</p>" }
        body += "<h2>Drift of this model's decisions, by device</h2>" + legend() + Charts.heatmap(rows: rows, columns: Self.columns, cells: cells)
        body += try await trends(device: nil, model: model)
        return Self.page(title: "Earshot · \(model)", body: body)
    }

    // MARK: Parts

    private func driftCells(device: String?, model: String?, family: Int) async throws(CollectorError) -> [Charts.Cell] {
        try await driftCells(WindowFilter(device: device, model: model), family: family)
    }

    private func driftCells(_ filter: WindowFilter, family: Int) async throws(CollectorError) -> [Charts.Cell] {
        let both = try await store.window(filter, limit: 2 * window)
        let (reference, current) = both.split(currentCount: min(window, both.count / 2))
        let results = DriftDetector().compare(reference: reference.filter { Self.columns.contains($0.0) }, current: current,
                                              family: max(1, family) * Self.columns.count)
        return Self.columns.map { column in
            guard let r = results.first(where: { $0.column == column }) else { return Charts.Cell(ratio: nil, drifted: false, reason: "no values") }
            return Charts.Cell(ratio: r.decided && r.effectThreshold > 0 ? r.effectValue / r.effectThreshold : nil, drifted: r.drifted, reason: r.reason)
        }
    }

    /// Mean latency and null-result share in 24 time buckets over the latest 2 000 decisions.
    private func trends(device: String?, model: String?) async throws(CollectorError) -> String {
        let w = try await store.window(device: device, model: model, since: nil, limit: 2_000)
        guard let first = w.walls.first, let last = w.walls.last, w.count >= 2 else { return "" }
        let buckets = 24, span = max(last - first, 1)
        var latency = [[Double]](repeating: [], count: buckets), nulls = [[Bool]](repeating: [], count: buckets)
        let latencies = w.numeric["latency_ms"] ?? [], present = w.present["latency_ms"] ?? []
        var k = 0
        for (row, wall) in w.walls.enumerated() {
            let b = min(buckets - 1, Int((wall - first) / span * Double(buckets)))
            if row < present.count && present[row] { latency[b].append(latencies[k]); k += 1 }
            if let flag = w.categorical["null_result"]?[row] { nulls[b].append(flag == "true") }
        }
        let times = (0..<buckets).map { first + (Double($0) + 0.5) * span / Double(buckets) }
        let meanLatency = latency.map { $0.isEmpty ? nil : $0.reduce(0, +) / Double($0.count) }
        let nullShare = nulls.map { $0.isEmpty ? nil : Double($0.filter { $0 }.count) / Double($0.count) * 100 }
        return "<h2>Trends over the latest \(w.count) decisions</h2><section class=\"charts\">"
            + Charts.trend(title: "latency", unit: "ms", times: times, values: meanLatency)
            + Charts.trend(title: "null results", unit: "%", times: times, values: nullShare) + "</section>"
    }

    private func alarmTable(_ log: ArraySlice<AlarmLogEntry>, holds: [ModelHold]) -> String {
        var html = "<h2>Alarms</h2>"
        if log.isEmpty { return html + "<p class=\"muted\">No alarm has changed state.</p>" }
        html += "<table><thead><tr><th>when (UTC)</th><th>state</th><th>rule</th><th>subject</th><th>value</th><th>threshold</th><th>why</th><th>delivery</th></tr></thead><tbody>"
        let time = ISO8601DateFormatter()
        for e in log {
            html += "<tr><td>\(time.string(from: Date(timeIntervalSince1970: e.at)))</td><td class=\"\(e.state == "firing" ? "bad" : "good")\">\(e.state)</td>"
                + "<td>\(Charts.escape(e.rule))</td><td>\(Charts.escape(e.scope)) \(Charts.escape(e.subject))</td>"
                + "<td class=\"n\">\(e.value.map(Charts.format) ?? "–")</td><td class=\"n\">\(e.threshold.map(Charts.format) ?? "–")</td>"
                + "<td>\(Charts.escape(e.reason))</td><td>\(e.attempts == 0 ? "–" : e.delivered ? "delivered" : "failed ×\(e.attempts)")</td></tr>"
        }
        html += "</tbody></table>"
        for h in holds { html += "<p>Held: <a href=\"/models/\(Self.path(h.model))\">\(Charts.escape(h.model))</a> by \(Charts.escape(h.rule))</p>" }
        return html
    }

    private func card(_ title: String, _ value: String, _ note: String) -> String {
        "<div class=\"card\"><div class=\"title\">\(Charts.escape(title))</div><div class=\"value\">\(Charts.escape(value))</div><div class=\"muted\">\(Charts.escape(note))</div></div>"
    }

    private func legend() -> String {
        "<p class=\"legend\">Cells: effect ÷ its threshold — <span class=\"swatch\" style=\"background:#a6d96a\"></span> below ½ "
            + "<span class=\"swatch\" style=\"background:#fdae61\"></span> above ½ <span class=\"swatch\" style=\"background:#d7301f\"></span> drifted "
            + "(significant and large; marked with a dot) <span class=\"swatch\" style=\"background:#e6e6e6\"></span> too few rows. "
            + "Stages: " + Self.stages.map { "\($0.stage): \($0.columns.joined(separator: ", "))" }.joined(separator: " · ") + ". Hover a cell for the numbers.</p>"
    }

    /// The alarms whose latest state is firing.
    static func firing(_ log: [AlarmLogEntry]) -> [AlarmLogEntry] {
        var latest: [String: AlarmLogEntry] = [:]
        for e in log where latest[e.rule + "\u{1F}" + e.subject] == nil { latest[e.rule + "\u{1F}" + e.subject] = e }
        return latest.values.filter { $0.state == "firing" }.sorted { $0.at > $1.at }
    }

    static func ago(_ time: Double?, now: Double) -> String {
        guard let time else { return "never" }
        let s = max(0, now - time)
        if s < 120 { return "\(Int(s)) s ago" }
        if s < 7_200 { return "\(Int(s / 60)) min ago" }
        if s < 172_800 { return "\(Int(s / 3_600)) h ago" }
        return "\(Int(s / 86_400)) days ago"
    }

    static func path(_ component: String) -> String {
        component.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? component
    }

    static func page(title: String, body: String) -> String {
        """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(Charts.escape(title))</title><style>
        body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1400px;padding:12px 20px;color:#222}
        h1{font-size:22px;margin:8px 0}h2{font-size:16px;margin:22px 0 8px}a{color:#1f5fa8}
        .cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:10px 14px;min-width:150px}
        .card .title{color:#666}.card .value{font-size:26px;font-weight:600}.muted{color:#777}
        table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top}
        td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.bad{color:#c0271a}.good{color:#2b7a2b}tr.drifted{background:#fff1ee}
        .charts{display:flex;flex-wrap:wrap;gap:10px}.chart{margin:0;border:1px solid #eee;border-radius:6px;padding:6px}
        .chart svg{width:360px;height:150px}.histogram .reference{fill:#bbb}.histogram .current,.trend .line{fill:none;stroke:#1f5fa8;stroke-width:2}
        .trend circle{fill:#1f5fa8}.axis{font-size:10px;fill:#666}.label{font-size:12px;font-weight:600;fill:#333}
        .heatmap text{font-size:11px;fill:#333}.heatmap .cell.drifted{stroke:#7a0d04;stroke-width:2}
        .key{display:inline-block;width:12px;height:10px;margin:0 3px}.key.reference{background:#bbb}.key.current{border:2px solid #1f5fa8}
        .legend{color:#555;font-size:12px}.swatch{display:inline-block;width:12px;height:10px;margin:0 2px}
        </style></head><body><header><a href="/"><strong>Earshot collector</strong></a></header>\(body)
        <footer class="muted"><p>Drift: KS or chi-square significant after Holm's correction, and an effect above its calibrated band (docs/DRIFT.md).</p></footer></body></html>
        """
    }
}
