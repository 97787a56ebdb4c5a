public import Foundation
import Yams

/// One alarm rule from the collector's config: what is measured, over which rows, for which scope, when it counts as
/// bad, and how many evaluations in a row it must stay bad before it fires (and good before it resolves).
public struct AlarmRule: Sendable, Equatable {
    public enum Metric: String, Sendable, CaseIterable {
        /// The drift engine on `column`: the latest `window` rows against the `window` before them (calibrated band).
        case drift
        /// The mean of a numeric column over the latest `window` rows, against `above`/`below`.
        case mean
        /// The share of rows whose categorical `column` equals `value` (for example null_result = true).
        case share
    }

    public enum Scope: String, Sendable, CaseIterable {
        /// The whole fleet, each device, each model version, or each cohort of devices (their site or hardware tag).
        case fleet, device, model, site, hardware
    }

    public enum Action: String, Sendable, CaseIterable {
        case none
        /// Marks the model version involved as held: rollouts (issue 9) do not advance a held model.
        case holdRollout = "hold-rollout"
    }

    public var name: String
    public var metric: Metric
    public var column: String
    public var value: String?
    public var above: Double?
    public var below: Double?
    public var scope: Scope = .fleet
    public var window = 200
    /// Consecutive evaluations a condition must hold before the state changes.
    public var holdFor = 1
    /// Fewest rows for an evaluation (fewer: the rule waits, its state unchanged).
    public var minimumRows = 30
    public var action: Action = .none

    public init(name: String, metric: Metric, column: String) {
        self.name = name
        self.metric = metric
        self.column = column
    }
}

/// The collector's alarm settings: rules, where transitions are delivered, how often rules are evaluated.
public struct AlarmConfiguration: Sendable, Equatable {
    public var rules: [AlarmRule] = []
    public var webhook: URL?
    public var webhookToken: String?
    /// Seconds between evaluations when serving.
    public var interval: Double = 60
    /// Delivery attempts per transition (with doubling waits from 0.5 s) before it is logged as undelivered.
    public var attempts = 4

    public init() {}

    /// Reads `alarms:` from a collector YAML file; every problem is reported with its rule and key.
    public init(yaml text: String, name: String = "config") throws(CollectorError) {
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch { throw CollectorError(2, "\(name): not YAML: \(error)") }
        guard let top = root as? [String: Any] else { throw CollectorError(2, "\(name): expected a mapping with an `alarms:` section") }
        for key in top.keys where key != "alarms" { throw CollectorError(2, "\(name): unknown section `\(key)` (expected `alarms`)") }
        guard let alarms = top["alarms"] as? [String: Any] else { throw CollectorError(2, "\(name): `alarms` must be a mapping") }
        var problems: [String] = []
        for key in alarms.keys where !["rules", "webhook", "webhook_token", "interval_seconds", "attempts"].contains(key) {
            problems.append("alarms.\(key): unknown key")
        }
        if let hook = alarms["webhook"] {
            if let text = hook as? String, let url = URL(string: text), ["http", "https"].contains(url.scheme ?? "") { webhook = url } else {
                problems.append("alarms.webhook: must be an http(s) URL")
            }
        }
        webhookToken = alarms["webhook_token"] as? String
        if let v = alarms["interval_seconds"] { if let d = Self.number(v), d >= 1 { interval = d } else { problems.append("alarms.interval_seconds: must be a number ≥ 1") } }
        if let v = alarms["attempts"] { if let d = v as? Int, (1...20).contains(d) { attempts = d } else { problems.append("alarms.attempts: must be 1–20") } }
        var names = Set<String>()
        for (index, item) in ((alarms["rules"] as? [Any]) ?? []).enumerated() {
            guard let entry = item as? [String: Any] else { problems.append("alarms.rules[\(index)]: must be a mapping"); continue }
            let label = (entry["name"] as? String).map { "alarms.rules[\(index)] (\($0))" } ?? "alarms.rules[\(index)]"
            do throws(CollectorError) {
                let rule = try Self.rule(entry, label: label)
                guard names.insert(rule.name).inserted else { throw CollectorError(2, "\(label): the name \(rule.name) is used twice") }
                rules.append(rule)
            } catch { problems.append(error.message) }
        }
        if alarms["rules"] != nil && !(alarms["rules"] is [Any]) { problems.append("alarms.rules: must be a list") }
        if !problems.isEmpty { throw CollectorError(2, "\(name): " + problems.joined(separator: "; ")) }
    }

    static func number(_ value: Any) -> Double? { (value as? Double) ?? (value as? Int).map(Double.init) }

    static func rule(_ entry: [String: Any], label: String) throws(CollectorError) -> AlarmRule {
        let known: Set<String> = ["name", "metric", "column", "value", "above", "below", "scope", "window", "for", "min_rows", "action"]
        if let unknown = entry.keys.first(where: { !known.contains($0) }) { throw CollectorError(2, "\(label): unknown key `\(unknown)`") }
        guard let name = entry["name"] as? String, !name.isEmpty else { throw CollectorError(2, "\(label): `name` is required") }
        guard let metricText = entry["metric"] as? String, let metric = AlarmRule.Metric(rawValue: metricText) else {
            throw CollectorError(2, "\(label): `metric` must be one of \(AlarmRule.Metric.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let column = entry["column"] as? String, UtteranceRow.numericColumns.contains(column) || CollectorSQL.categoricalColumns.contains(column) else {
            throw CollectorError(2, "\(label): `column` must be one of \((UtteranceRow.numericColumns + CollectorSQL.categoricalColumns).joined(separator: ", "))")
        }
        var rule = AlarmRule(name: name, metric: metric, column: column)
        rule.value = entry["value"].map { "\($0)" }
        rule.above = entry["above"].flatMap(number)
        rule.below = entry["below"].flatMap(number)
        if let scope = entry["scope"] {
            guard let text = scope as? String, let value = AlarmRule.Scope(rawValue: text) else {
                throw CollectorError(2, "\(label): `scope` must be one of \(AlarmRule.Scope.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            rule.scope = value
        }
        if let window = entry["window"] { guard let n = window as? Int, n >= 2 else { throw CollectorError(2, "\(label): `window` must be an integer ≥ 2") }; rule.window = n }
        if let hold = entry["for"] { guard let n = hold as? Int, n >= 1 else { throw CollectorError(2, "\(label): `for` must be an integer ≥ 1") }; rule.holdFor = n }
        if let rows = entry["min_rows"] { guard let n = rows as? Int, n >= 1 else { throw CollectorError(2, "\(label): `min_rows` must be ≥ 1") }; rule.minimumRows = n }
        if let action = entry["action"] {
            guard let text = action as? String, let value = AlarmRule.Action(rawValue: text) else {
                throw CollectorError(2, "\(label): `action` must be none or hold-rollout")
            }
            rule.action = value
        }
        switch metric {
        case .drift:
            if rule.above != nil || rule.below != nil { throw CollectorError(2, "\(label): a drift rule takes no `above`/`below` (its band is calibrated)") }
        case .mean:
            guard UtteranceRow.numericColumns.contains(column) else { throw CollectorError(2, "\(label): `mean` needs a numeric column") }
            guard rule.above != nil || rule.below != nil else { throw CollectorError(2, "\(label): give `above` and/or `below`") }
        case .share:
            guard CollectorSQL.categoricalColumns.contains(column), rule.value != nil else {
                throw CollectorError(2, "\(label): `share` needs a categorical column and a `value`")
            }
            guard rule.above != nil || rule.below != nil else { throw CollectorError(2, "\(label): give `above` and/or `below`") }
        }
        return rule
    }
}
