public import EarshotMonitoring
public import Foundation

/// Runs rollout plans: starts them, applies operators' actions, evaluates the quality gate of every running step and
/// answers devices' polls. Stateless apart from the store; plans change only by optimistic updates, so two collectors
/// evaluating the same plan at once cannot both advance it.
public struct RolloutController: Sendable {
    public let store: any CollectorStore
    public var policy = DriftPolicy()
    /// Most decisions read per window.
    public var windowLimit = 5_000

    public init(store: any CollectorStore) { self.store = store }

    /// What `rollout start` asks for.
    public struct Request: Sendable {
        public var model: String
        public var group: String
        public var steps: [RolloutStep]
        public var interval: Double
        public var utteranceShare = 0.5
        public var minimumSamples = 30
        public var minimumAgreement = 0.7
        /// Default: three intervals.
        public var holdAfter: Double?
        public var requireTeacherGain = false
        public var pinned: [String] = []
        public var excluded: [String] = []
        public var baseline: String?
        public var id: String?
        public init(model: String, group: String, steps: [RolloutStep], interval: Double) {
            self.model = model; self.group = group; self.steps = steps; self.interval = interval
        }
    }

    public func start(_ request: Request, now: Double = Date().timeIntervalSince1970) async throws(CollectorError) -> RolloutPlan {
        guard try await store.registeredModel(request.model) != nil else {
            throw CollectorError(2, "\(request.model) is not in the registry; push it first (earshot-collector models push BUNDLE)")
        }
        if let hold = try await store.holds().first(where: { $0.model == request.model }) {
            throw CollectorError(2, "\(request.model) is held by alarm \(hold.rule): \(hold.reason)")
        }
        guard !request.steps.isEmpty else { throw CollectorError(2, "a rollout needs at least one step") }
        for (a, b) in zip(request.steps, request.steps.dropFirst()) where a.mode == .canary && (b.mode == .shadow || b.percent < a.percent) {
            throw CollectorError(2, "steps must grow: shadow steps first, then canary percentages in ascending order (\(a) then \(b))")
        }
        guard (0...1).contains(request.utteranceShare), request.minimumSamples > 0, (0...1).contains(request.minimumAgreement) else {
            throw CollectorError(2, "the utterance share and minimum agreement are within 0…1, the minimum sample size positive")
        }
        let devices = try await store.groupDevices(request.group)
        guard !devices.isEmpty else {
            throw CollectorError(2, "group \(request.group) has no devices; add some with `earshot-collector devices group NAME \(request.group)`")
        }
        for name in request.pinned + request.excluded where !devices.contains(name) {
            throw CollectorError(2, "\(name) is not a device of group \(request.group)")
        }
        var baseline = request.baseline
        if baseline == nil {
            // The model the group's devices answer with most, over their recent decisions.
            let recent = try await store.window(WindowFilter().with(devices: devices), limit: 2_000)
            var counts: [String: Int] = [:]
            for model in recent.categorical["model"] ?? [] where !model.isEmpty && model != request.model { counts[model, default: 0] += 1 }
            baseline = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.first?.key
        }
        let id = request.id ?? "\(request.model)-\(request.group)-\(String(Int(now), radix: 36))"
        guard !id.isEmpty, id.count <= 128, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.@".contains($0)) }) else {
            throw CollectorError(2, "a rollout id is letters, digits, '-', '_', '.' and '@', not \"\(id)\"")
        }
        var plan = RolloutPlan(id: id, model: request.model, baseline: baseline, group: request.group, steps: request.steps,
                               interval: request.interval, utteranceShare: request.utteranceShare, minimumSamples: request.minimumSamples,
                               minimumAgreement: request.minimumAgreement, holdAfter: request.holdAfter ?? max(3 * request.interval, request.interval + 60),
                               pinned: request.pinned, excluded: request.excluded, stepStartedAt: now, createdAt: now,
                               reason: "started: step 1 of \(request.steps.count) (\(request.steps[0]))")
        plan.requireTeacherGain = request.requireTeacherGain ? true : nil
        try await store.createRollout(plan)
        try await store.logRollout(RolloutLogEntry(rollout: id, step: 1, action: "start",
                                                   reason: "\(request.model) to group \(request.group) (\(devices.count) devices), baseline \(baseline ?? "none"), steps \(request.steps.map(\.description).joined(separator: ", "))",
                                                   at: now))
        return try await store.rollout(id) ?? plan
    }

    public enum Action: String, Sendable, CaseIterable { case pause, resume, abort, promote }

    /// An operator's action; logged with the reason.
    @discardableResult
    public func operate(_ id: String, _ action: Action, reason: String? = nil, now: Double = Date().timeIntervalSince1970) async throws(CollectorError) -> RolloutPlan {
        for _ in 0..<5 {
            guard var plan = try await store.rollout(id) else { throw CollectorError(404, "no rollout named \(id)") }
            guard !plan.state.isFinished else { throw CollectorError(409, "rollout \(id) is \(plan.state.rawValue) already") }
            let why = reason ?? "by an operator"
            switch action {
            case .pause:
                guard plan.state == .running else { throw CollectorError(409, "rollout \(id) is \(plan.state.rawValue), not running") }
                plan.state = .paused
            case .resume:
                guard plan.state == .paused || plan.state == .held else { throw CollectorError(409, "rollout \(id) is \(plan.state.rawValue), not paused or held") }
                plan.state = .running
                plan.stepStartedAt = now      // the step's evidence starts again
            case .abort:
                plan.state = .rolledBack
            case .promote:
                advance(&plan, now: now)
            }
            plan.reason = "\(action.rawValue) \(why)"
            if try await store.saveRollout(plan) {
                try await store.logRollout(RolloutLogEntry(rollout: id, step: plan.step + 1, action: action.rawValue, reason: why, at: now))
                return plan
            }
        }
        throw CollectorError(503, "rollout \(id) kept changing under this update; try again")
    }

    private func advance(_ plan: inout RolloutPlan, now: Double) {
        if plan.step + 1 >= plan.steps.count {
            plan.state = .completed
        } else {
            plan.step += 1
            plan.state = .running
            plan.stepStartedAt = now
        }
    }

    /// One pass of the gate over every running rollout; returns each plan (as it is now) with the verdict.
    public func evaluate(now: Double = Date().timeIntervalSince1970) async throws(CollectorError) -> [(RolloutPlan, RolloutGate.Verdict)] {
        var results: [(RolloutPlan, RolloutGate.Verdict)] = []
        let holds = try await store.holds()
        for var plan in try await store.rollouts() where plan.state == .running {
            let verdict: RolloutGate.Verdict
            if let hold = holds.first(where: { $0.model == plan.model }) {
                verdict = RolloutGate.Verdict(outcome: .hold, reason: "alarm \(hold.rule) holds \(plan.model): \(hold.reason)", candidateDecisions: 0,
                                              baselineDecisions: 0, baseline: "none", metrics: [], localRollbacks: [], refusals: [])
            } else {
                verdict = try await judge(plan, now: now)
            }
            let step = plan.step + 1
            switch verdict.outcome {
            case .wait:
                guard plan.reason != verdict.reason else { results.append((plan, verdict)); continue }
                plan.reason = verdict.reason
            case .promote: advance(&plan, now: now); plan.reason = verdict.reason
            case .hold: plan.state = .held; plan.reason = verdict.reason
            case .rollback: plan.state = .rolledBack; plan.reason = verdict.reason
            }
            guard try await store.saveRollout(plan) else { continue }      // another collector got there first
            if verdict.outcome != .wait {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                let evidence = (try? encoder.encode(verdict)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                let action = verdict.outcome == .promote && plan.state == .completed ? "complete" : verdict.outcome.rawValue
                try await store.logRollout(RolloutLogEntry(rollout: plan.id, step: step, action: action, reason: verdict.reason, evidence: evidence, at: now))
            }
            results.append((plan, verdict))
        }
        return results
    }

    /// The gate's verdict on a plan's current step, from the store's windows and device reports.
    public func judge(_ plan: RolloutPlan, now: Double) async throws(CollectorError) -> RolloutGate.Verdict {
        let group = try await store.groupDevices(plan.group)
        let members = plan.members(of: group)
        let step = plan.currentStep
        let candidate = try await store.window(WindowFilter(model: step.mode == .shadow ? plan.baseline : plan.model, since: plan.stepStartedAt)
                                                .with(devices: members), limit: windowLimit)
        // The baseline is paired when it can be: the baseline model's decisions on the same devices in the same step (a
        // canary answers a random share of utterances, so the rest is a true A/B control, with the other model running
        // beside both); otherwise the group's baseline decisions since the rollout began.
        var baseline = UtteranceWindow(), paired = false
        if step.mode == .canary && !step.isSwitch {
            baseline = try await store.window(WindowFilter(model: plan.baseline ?? "", since: plan.stepStartedAt).with(devices: members), limit: windowLimit)
            paired = baseline.count >= plan.minimumSamples
        }
        if !paired {
            baseline = try await store.window(WindowFilter(model: plan.baseline ?? "", since: plan.createdAt).with(devices: group), limit: windowLimit)
        }
        // Technicians' corrections of each model's answers, from the same devices and time as the decisions compared.
        let baselineDevices = paired ? members : group
        var corrections = UtteranceWindow()
        corrections.categorical["correction"] = try await store.corrections(model: plan.model, devices: members, since: plan.stepStartedAt)
        var baselineCorrections = UtteranceWindow()
        baselineCorrections.categorical["correction"] = try await store.corrections(model: plan.baseline ?? "", devices: baselineDevices,
                                                                                    since: paired ? plan.stepStartedAt : plan.createdAt)
        var rollbacks: [String] = [], refusals: [String] = []
        // Device event times are whole seconds: from the second the rollout began.
        for (device, event) in try await store.deviceEvents(bundle: plan.model, since: plan.createdAt.rounded(.down)) {
            if event.event == "auto-rollback" { rollbacks.append("\(device): \(event.reason ?? "thresholds breached")") }
            if event.event == "refused" { refusals.append("\(device): \(event.reason ?? "did not verify")") }
        }
        // Every decision of the step's devices where the candidate ran, whichever model answered (a failed canary falls
        // back to the active model).
        let ran = try await store.window(WindowFilter(since: plan.stepStartedAt).with(devices: members), limit: windowLimit)
        return RolloutGate.evaluate(plan, candidate: candidate.merging(corrections), baseline: baseline.merging(baselineCorrections), paired: paired,
                                    errors: (ran.categorical["candidate_error"] ?? []).filter { !$0.isEmpty }, localRollbacks: rollbacks,
                                    refusals: refusals, now: now, calibrationDiffers: try await calibrationDiffers(plan), policy: policy)
    }

    /// Whether the registry's manifests of candidate and baseline give different temperatures or accept thresholds
    /// (false when either is not registered: nothing says they differ).
    func calibrationDiffers(_ plan: RolloutPlan) async throws(CollectorError) -> Bool {
        guard let baseline = plan.baseline, let a = try await store.registeredModel(plan.model), let b = try await store.registeredModel(baseline) else {
            return false
        }
        func calibration(_ model: RegisteredModel) -> [Double?] {
            let object = (try? JSONSerialization.jsonObject(with: Data(model.manifest.utf8))) as? [String: Any]
            return ["temperature", "accept_threshold"].map { (object?[$0] as? NSNumber)?.doubleValue }
        }
        return calibration(a) != calibration(b)
    }

    /// A device's assignment: the unfinished rollout of its group, else the group's latest finished one (so a device
    /// that was offline still learns of a rollback or a completed switch).
    public func assignment(for device: DeviceEntry) async throws(CollectorError) -> RolloutAssignment {
        guard let group = device.group else { return .nothing }
        let plans = try await store.rollouts().filter { $0.group == group }
        guard let plan = plans.first(where: { !$0.state.isFinished }) ?? plans.first else { return .nothing }
        var a = plan.assignment(for: device.name, group: try await store.groupDevices(group))
        if a.action != .none && a.action != .rollback, let model = try await store.registeredModel(plan.model) {
            a.bundleURL = "v1/models/\(model.id)/bundle"
            a.archiveSha256 = model.archiveSha256
            a.archiveBytes = model.archiveBytes
        }
        return a
    }
}

extension UtteranceWindow {
    /// This window with another's categorical columns added (columns of other lengths, such as label verdicts).
    func merging(_ other: UtteranceWindow) -> UtteranceWindow {
        var w = self
        for (name, values) in other.categorical { w.categorical[name] = values }
        return w
    }
}

extension WindowFilter {
    func with(devices: [String]) -> WindowFilter { var f = self; f.devices = devices; return f }
}
