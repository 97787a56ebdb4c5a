public import EarshotMonitoring
public import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension UtteranceWindow {
    /// Appends a later window's rows (both oldest first).
    public mutating func append(_ later: UtteranceWindow) {
        for (name, values) in later.numeric { numeric[name, default: []] += values }
        for name in Set(numeric.keys).union(later.numeric.keys) {
            present[name, default: [Bool](repeating: false, count: count)] += later.present[name] ?? [Bool](repeating: false, count: later.count)
        }
        for name in Set(categorical.keys).union(later.categorical.keys) {
            categorical[name, default: [String](repeating: "", count: count)] += later.categorical[name] ?? [String](repeating: "", count: later.count)
        }
        walls += later.walls
        count += later.count
    }

    /// Splits a window (oldest first) into an older reference and the newest `currentCount` rows, column by column;
    /// a numeric column holds only rows that had its value, so rows are assigned by their position.
    public func split(currentCount: Int, only wanted: Set<String> = []) -> (reference: [(String, DriftColumn)], current: [String: DriftColumn]) {
        let referenceCount = count - currentCount
        var reference: [(String, DriftColumn)] = [], current: [String: DriftColumn] = [:]
        for (name, values) in numeric.sorted(by: { $0.key < $1.key }) where wanted.isEmpty || wanted.contains(name) {
            var r: [Double] = [], c: [Double] = []
            var k = 0
            for (row, has) in (present[name] ?? []).enumerated() where has {
                if row < referenceCount { r.append(values[k]) } else { c.append(values[k]) }
                k += 1
            }
            reference.append((name, .numeric(r)))
            current[name] = .numeric(c)
        }
        for (name, values) in categorical.sorted(by: { $0.key < $1.key }) where (wanted.isEmpty || wanted.contains(name)) && values.count == count {
            // An unknown flag (the cloud was not asked, no shadow ran) is not a value: a change in how often a flag
            // is known is not a change in the flag.
            let known = CollectorSQL.windowFlags.contains(name) ? { (v: String) in !v.isEmpty } : { (_: String) in true }
            reference.append((name, .categorical(values[..<referenceCount].filter(known))))
            current[name] = .categorical(values[referenceCount...].filter(known))
        }
        return (reference, current)
    }
}

/// Evaluates the alarm rules against the stored records, keeps each (rule, subject)'s state (`firing` or
/// `resolved`, from the alarm log, so a restart does not fire twice), changes it only after `for` evaluations in a
/// row agree, logs every change, delivers it to the webhook with retries, and runs the rule's action.
public actor AlarmEngine {
    public let store: any CollectorStore
    public let configuration: AlarmConfiguration
    private var firing: [String: Bool] = [:]
    private var streaks: [String: Int] = [:]
    private var loaded = false
    private let session = URLSession(configuration: .ephemeral)

    public init(store: any CollectorStore, configuration: AlarmConfiguration) {
        self.store = store
        self.configuration = configuration
    }

    /// One evaluation of every rule for every subject; returns the state changes it made (already logged and
    /// delivered).
    @discardableResult
    public func evaluate(now: Double = Date().timeIntervalSince1970) async throws(CollectorError) -> [AlarmLogEntry] {
        if !loaded {
            // The newest entry per (rule, subject) is its state.
            for entry in try await store.alarmLog(limit: 100_000).reversed() { firing[entry.rule + "\u{1F}" + entry.subject] = entry.state == "firing" }
            loaded = true
        }
        var changes: [AlarmLogEntry] = []
        for rule in configuration.rules {
            let subjects = try await store.subjects(rule.scope)
            for subject in subjects {
                guard let outcome = try await measure(rule, subject: subject, family: subjects.count) else { continue }
                let key = rule.name + "\u{1F}" + subject
                let wasFiring = firing[key] ?? false
                guard outcome.bad != wasFiring else { streaks[key] = 0; continue }
                let streak = (streaks[key] ?? 0) + 1
                streaks[key] = streak
                guard streak >= rule.holdFor else { continue }
                streaks[key] = 0
                firing[key] = outcome.bad
                var entry = AlarmLogEntry(rule: rule.name, scope: rule.scope.rawValue, subject: subject, state: outcome.bad ? "firing" : "resolved",
                                          value: outcome.value, threshold: outcome.threshold, reason: outcome.reason, at: now)
                entry.id = try await store.logAlarm(entry)
                try await act(rule, entry: entry, model: outcome.model)
                let (delivered, attempts) = await deliver(entry)
                entry.delivered = delivered
                entry.attempts = attempts
                if attempts > 0 { try await store.markDelivered(id: entry.id, delivered: delivered, attempts: attempts) }
                changes.append(entry)
            }
        }
        return changes
    }

    struct Outcome {
        var bad: Bool
        var value: Double?
        var threshold: Double?
        var reason: String
        /// The model most of the window's decisions came from (for hold-rollout).
        var model: String?
    }

    /// The rule's measurement for one subject, or nil when there are too few rows to say.
    private func measure(_ rule: AlarmRule, subject: String, family: Int) async throws(CollectorError) -> Outcome? {
        var filter = WindowFilter()
        switch rule.scope {
        case .fleet: break
        case .device: filter.device = subject
        case .model: filter.model = subject
        case .site: filter.site = subject
        case .hardware: filter.hardware = subject
        }
        let rows = rule.metric == .drift ? 2 * rule.window : rule.window
        let window = try await store.window(filter, limit: rows)
        let dominant = Self.mostCommon(window.categorical["model"] ?? [])
        switch rule.metric {
        case .drift:
            guard window.count >= 2 * rule.minimumRows else { return nil }
            let (reference, current) = window.split(currentCount: min(rule.window, window.count / 2), only: [rule.column])
            var policy = DriftPolicy()
            policy.minimumSamples = rule.minimumRows
            guard let result = DriftDetector(policy: policy).compare(reference: reference, current: current, family: family).first,
                  result.decided else { return nil }
            return Outcome(bad: result.drifted, value: result.effectValue, threshold: result.effectThreshold,
                           reason: "\(rule.column) (\(subject)): \(result.reason)", model: dominant)
        case .mean:
            let values = window.numeric[rule.column] ?? []
            guard values.count >= rule.minimumRows else { return nil }
            let mean = values.reduce(0, +) / Double(values.count)
            return Self.threshold(rule, value: mean, what: "mean \(rule.column) over the latest \(values.count) (\(subject))", model: dominant)
        case .share:
            let isFlag = CollectorSQL.windowFlags.contains(rule.column)     // an unknown flag is not a value (see `split`)
            let values = (window.categorical[rule.column] ?? []).filter { !isFlag || !$0.isEmpty }
            guard values.count >= rule.minimumRows else { return nil }
            let share = Double(values.filter { $0 == rule.value }.count) / Double(values.count)
            return Self.threshold(rule, value: share, what: "share of \(rule.column) = \(rule.value ?? "") over the latest \(values.count) (\(subject))",
                                  model: dominant)
        }
    }

    static func threshold(_ rule: AlarmRule, value: Double, what: String, model: String?) -> Outcome {
        if let above = rule.above, value > above {
            return Outcome(bad: true, value: value, threshold: above, reason: String(format: "%@ is %.4g, above %.4g", what, value, above), model: model)
        }
        if let below = rule.below, value < below {
            return Outcome(bad: true, value: value, threshold: below, reason: String(format: "%@ is %.4g, below %.4g", what, value, below), model: model)
        }
        let bound = [rule.above.map { String(format: "≤ %.4g", $0) }, rule.below.map { String(format: "≥ %.4g", $0) }].compactMap { $0 }.joined(separator: " and ")
        return Outcome(bad: false, value: value, threshold: rule.above ?? rule.below, reason: String(format: "%@ is %.4g, within %@", what, value, bound), model: model)
    }

    static func mostCommon(_ values: [String]) -> String? {
        var counts: [String: Int] = [:]
        for v in values where !v.isEmpty { counts[v, default: 0] += 1 }
        return counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key
    }

    /// hold-rollout: a firing alarm holds the model involved (the subject for model scope, else the model most of the
    /// window's decisions came from); resolving lifts only a hold this rule placed.
    private func act(_ rule: AlarmRule, entry: AlarmLogEntry, model: String?) async throws(CollectorError) {
        guard rule.action == .holdRollout, let target = rule.scope == .model ? entry.subject : model else { return }
        if entry.state == "firing" {
            try await store.hold(ModelHold(model: target, rule: rule.name, reason: entry.reason, since: entry.at))
        } else {
            try await store.release(model: target, rule: rule.name)
        }
    }

    /// POSTs the change as JSON, retrying with doubling waits; returns whether it got a 2xx and how many attempts.
    private func deliver(_ entry: AlarmLogEntry) async -> (Bool, Int) {
        guard let url = configuration.webhook else { return (false, 0) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let body = try? encoder.encode(entry) else { return (false, 0) }
        var wait = 0.5
        for attempt in 1...configuration.attempts {
            var request = URLRequest(url: url, timeoutInterval: 5)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            if let token = configuration.webhookToken { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            request.httpBody = body
            if let (_, response) = try? await session.data(for: request), let status = (response as? HTTPURLResponse)?.statusCode, (200..<300).contains(status) {
                return (true, attempt)
            }
            if attempt < configuration.attempts {
                try? await Task.sleep(for: .seconds(wait))
                wait *= 2
            }
        }
        return (false, configuration.attempts)
    }
}
