import Crypto
import Foundation

/// A model version in the collector's registry: what `earshot-collector models push` verified and stored. The bundle
/// itself is kept as one tar archive in the database, so every collector of a pool can serve it.
public struct RegisteredModel: Sendable, Equatable, Codable {
    /// `name@version`.
    public var id: String
    public var name: String
    public var version: String
    public var kind: String
    /// SHA-256 of model.tflite (from the verified manifest) and of the archive devices download.
    public var modelSha256: String
    public var archiveSha256: String
    public var archiveBytes: Int
    /// Whether the manifest carried an ed25519 signature a trusted key verified at push.
    public var signed: Bool
    /// The verified manifest (JSON text): labels, frontend and the training baseline, for training–serving skew
    /// (`drift --window N --baseline NAME@VERSION`).
    public var manifest: String
    public var pushedAt: Double

    public init(id: String, name: String, version: String, kind: String, modelSha256: String, archiveSha256: String, archiveBytes: Int,
                signed: Bool, manifest: String, pushedAt: Double) {
        self.id = id; self.name = name; self.version = version; self.kind = kind; self.modelSha256 = modelSha256
        self.archiveSha256 = archiveSha256; self.archiveBytes = archiveBytes; self.signed = signed; self.manifest = manifest; self.pushedAt = pushedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, version, kind, signed, manifest
        case modelSha256 = "model_sha256", archiveSha256 = "archive_sha256", archiveBytes = "archive_bytes", pushedAt = "pushed_at"
    }
}

/// One step of a rollout plan: the share of the group's devices in it and what they do with the candidate. A canary
/// step below 100 % answers a share of utterances on its devices (the active model runs beside it, so every utterance
/// is compared); the 100 % canary step is the full switch: every device makes the candidate its active model.
public struct RolloutStep: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Mode: String, Sendable, Codable { case shadow, canary }
    public var mode: Mode
    /// Percentage of the group's devices, 0 < percent ≤ 100.
    public var percent: Double

    public init(mode: Mode, percent: Double) { self.mode = mode; self.percent = percent }

    /// `shadow` (every device), `shadow:25`, or a canary percentage such as `5`.
    public init(parsing text: String) throws(CollectorError) {
        let parts = text.lowercased().split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let mode: Mode, number: String?
        switch parts.count {
        case 1 where parts[0] == "shadow": mode = .shadow; number = nil
        case 1: mode = .canary; number = parts[0]
        case 2 where parts[0] == "shadow": mode = .shadow; number = parts[1]
        default: throw CollectorError(2, "a step is a percentage (5), `shadow` or `shadow:PERCENT`, not \"\(text)\"")
        }
        let percent = number.map { Double($0.hasSuffix("%") ? String($0.dropLast()) : $0) } ?? 100
        guard let percent, percent > 0, percent <= 100 else {
            throw CollectorError(2, "a step's percentage must be within (0, 100], not \"\(text)\"")
        }
        self.init(mode: mode, percent: percent)
    }

    public var isSwitch: Bool { mode == .canary && percent >= 100 }

    public var description: String {
        let p = percent.rounded() == percent ? String(Int(percent)) : String(percent)
        switch mode {
        case .shadow: return percent >= 100 ? "shadow" : "shadow:\(p)"
        case .canary: return isSwitch ? "100 (switch)" : "\(p) %"
        }
    }
}

/// A staged rollout of one model version to one device group, advanced (or stopped) by the quality gate.
public struct RolloutPlan: Sendable, Equatable, Codable {
    public enum State: String, Sendable, Codable {
        /// Steps advance when the gate passes.
        case running
        /// An operator paused it: assignments stay, nothing advances.
        case paused
        /// The gate was inconclusive; a human decides (resume, promote or abort).
        case held
        /// Every step passed: the candidate is the group's active model.
        case completed
        /// The gate (or an operator's abort) took the candidate off every device.
        case rolledBack = "rolled-back"

        public var isFinished: Bool { self == .completed || self == .rolledBack }
    }

    public var id: String
    /// The candidate, `name@version`, in the registry.
    public var model: String
    /// The model the candidate is compared with (the group's active model when the rollout started).
    public var baseline: String?
    public var group: String
    public var steps: [RolloutStep]
    /// Least time in each step before it may be promoted, seconds.
    public var interval: Double
    /// On canary devices, the share of utterances the candidate answers.
    public var utteranceShare: Double
    /// Candidate decisions needed before the gate promotes a step.
    public var minimumSamples: Int
    /// Least agreement between candidate and active model on the same utterances.
    public var minimumAgreement: Double
    /// A step still short of evidence this long after it started is held for a human ("inconclusive").
    public var holdAfter: Double
    /// Promote a step only when the candidate agrees with the cloud teacher significantly more often than the active
    /// model on the same utterances (a retrained model must show it is better, not only that it is not worse).
    /// Optional so plans stored before it existed still read.
    public var requireTeacherGain: Bool?
    public var pinned: [String] = []
    public var excluded: [String] = []
    public var state: State = .running
    /// Index into `steps`.
    public var step = 0
    public var stepStartedAt: Double
    public var createdAt: Double
    /// Why the state last changed.
    public var reason: String?
    /// Optimistic concurrency: the stored row's version (collectors of a pool update a plan only from what they read).
    public var revision = 0

    public init(id: String, model: String, baseline: String?, group: String, steps: [RolloutStep], interval: Double, utteranceShare: Double,
                minimumSamples: Int, minimumAgreement: Double, holdAfter: Double, pinned: [String] = [], excluded: [String] = [],
                stepStartedAt: Double, createdAt: Double, reason: String? = nil) {
        self.id = id; self.model = model; self.baseline = baseline; self.group = group; self.steps = steps; self.interval = interval
        self.utteranceShare = utteranceShare; self.minimumSamples = minimumSamples; self.minimumAgreement = minimumAgreement
        self.holdAfter = holdAfter; self.pinned = pinned; self.excluded = excluded; self.stepStartedAt = stepStartedAt
        self.createdAt = createdAt; self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case id, model, baseline, group, steps, interval, pinned, excluded, state, step, reason, revision
        case utteranceShare = "utterance_share", minimumSamples = "minimum_samples", minimumAgreement = "minimum_agreement"
        case holdAfter = "hold_after", stepStartedAt = "step_started_at", createdAt = "created_at", requireTeacherGain = "require_teacher_gain"
    }

    public var currentStep: RolloutStep { steps[min(step, steps.count - 1)] }

    /// The devices of `group` (sorted names) in the current step: the pinned ones first, then the rest in the plan's
    /// deterministic order (a hash of model and device name), so a device in one step stays in every later step, and a
    /// step of p % holds ⌈p · n / 100⌉ devices (at least one).
    public func members(of group: [String], step index: Int? = nil) -> [String] {
        let eligible = group.filter { !excluded.contains($0) }
        let step = steps[min(index ?? self.step, steps.count - 1)]
        let count = min(eligible.count, max(1, Int((step.percent * Double(eligible.count) / 100).rounded(.up))))
        let pins = eligible.filter { pinned.contains($0) }
        let rest = eligible.filter { !pinned.contains($0) }.sorted { Self.rank(model, $0) < Self.rank(model, $1) }
        return Array((pins + rest).prefix(max(count, pins.count)))
    }

    /// A device's place in the order of a model's rollouts: the first 8 bytes of SHA-256("model|device").
    static func rank(_ model: String, _ device: String) -> UInt64 {
        SHA256.hash(data: Data("\(model)|\(device)".utf8)).prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// What one device of the group must do now.
    public func assignment(for device: String, group: [String]) -> RolloutAssignment {
        var a = RolloutAssignment(rollout: id, model: model, state: state.rawValue, step: step + 1, steps: steps.count, action: .none,
                                  share: 0, baseline: baseline)
        guard !excluded.contains(device), group.contains(device) else { return a }
        switch state {
        case .rolledBack:
            a.action = .rollback
        case .completed:
            a.action = .activate
        case .running, .paused, .held:
            guard members(of: group).contains(device) else { return a }
            let s = currentStep
            if s.isSwitch { a.action = .activate; a.share = 1 }
            else { a.action = s.mode == .shadow ? .shadow : .canary; a.share = s.mode == .shadow ? 1 : utteranceShare }
        }
        return a
    }
}

/// The collector's answer to a device's rollout poll: which plan and step it is in and what to do with the candidate.
public struct RolloutAssignment: Sendable, Equatable, Codable {
    public enum Action: String, Sendable, Codable {
        /// Nothing for this device (not in the group or not yet in a step); a candidate left from a rollout is removed.
        case none
        /// Download and install the candidate, run it in shadow on `share` of utterances.
        case shadow
        /// Download and install the candidate; it answers `share` of utterances.
        case canary
        /// Make the candidate the active model (the previous one stays loaded for an instant rollback).
        case activate
        /// Take the candidate off: stop it, or restore the previous active model if it was switched to.
        case rollback
    }
    public var rollout: String?
    public var model: String?
    public var state: String?
    public var step: Int?
    public var steps: Int?
    public var action: Action
    public var share: Double
    public var baseline: String?
    /// Where to download the bundle (a path on the collector) and what it must hash to.
    public var bundleURL: String?
    public var archiveSha256: String?
    public var archiveBytes: Int?

    enum CodingKeys: String, CodingKey {
        case rollout, model, state, step, steps, action, share, baseline
        case bundleURL = "bundle_url", archiveSha256 = "archive_sha256", archiveBytes = "archive_bytes"
    }

    public static let nothing = RolloutAssignment(rollout: nil, model: nil, state: nil, step: nil, steps: nil, action: .none, share: 0, baseline: nil)
}

/// What a device reports when it polls: its slots, the rollout it follows, and the slot events since its last report
/// (automatic rollbacks it made on its own, even offline, and refusals of bundles that did not verify).
public struct DeviceRolloutReport: Sendable, Equatable, Codable {
    public struct Event: Sendable, Equatable, Codable {
        public var time: Double
        public var event: String
        public var bundle: String
        public var reason: String?
        public var rollout: String?
        public init(time: Double, event: String, bundle: String, reason: String?, rollout: String?) {
            self.time = time; self.event = event; self.bundle = bundle; self.reason = reason; self.rollout = rollout
        }
    }
    public var deviceID: String
    public var active: String?
    public var previous: String?
    public var candidate: String?
    public var mode: String?
    public var share: Double?
    public var rollout: String?
    public var step: Int?
    public var events: [Event] = []

    public init(deviceID: String, active: String?, previous: String?, candidate: String?, mode: String?, share: Double?, rollout: String?,
                step: Int?, events: [Event] = []) {
        self.deviceID = deviceID; self.active = active; self.previous = previous; self.candidate = candidate; self.mode = mode
        self.share = share; self.rollout = rollout; self.step = step; self.events = events
    }

    enum CodingKeys: String, CodingKey {
        case active, previous, candidate, mode, share, rollout, step, events
        case deviceID = "device_id"
    }
}

/// One entry of a rollout's log: a gate verdict or an operator's action, with its evidence (JSON).
public struct RolloutLogEntry: Sendable, Equatable, Codable {
    public var id: Int64 = 0
    public var rollout: String
    public var step: Int
    /// `promote`, `wait`, `hold`, `rollback`, `start`, `pause`, `resume`, `abort`, `complete`.
    public var action: String
    public var reason: String
    public var evidence: String
    public var at: Double

    public init(rollout: String, step: Int, action: String, reason: String, evidence: String = "{}", at: Double) {
        self.rollout = rollout; self.step = step; self.action = action; self.reason = reason; self.evidence = evidence; self.at = at
    }
}

/// Parses `1h`, `30m`, `45s`, `2d` or plain seconds.
public func parseDuration(_ text: String) throws(CollectorError) -> Double {
    let units: [Character: Double] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
    var number = text, scale = 1.0
    if let last = text.last, let unit = units[last] { number = String(text.dropLast()); scale = unit }
    guard let value = Double(number), value >= 0, value.isFinite else {
        throw CollectorError(2, "a duration is a number with s, m, h or d (90s, 30m, 1h), not \"\(text)\"")
    }
    return value * scale
}
