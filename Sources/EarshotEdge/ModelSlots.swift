public import EarshotRecognizer
public import EarshotBundles
public import EarshotMonitoring
import Foundation

/// How a candidate model is doing against the active one on the same utterances, and when it must be rolled back.
public struct CandidateHealth: Sendable {
    public struct Thresholds: Sendable, Codable, Equatable {
        /// Comparisons needed before any verdict.
        public var minimumSamples = 30
        /// Share of utterances on which the candidate may fail (an error from its interpreter).
        public var maximumErrorRate = 0.05
        /// Mean recognition time of the candidate, milliseconds.
        public var maximumLatencyMs = 250.0
        /// How much more often than the active model the candidate may hear no command at all.
        public var maximumNullRateIncrease = 0.2
        /// Share of utterances on which the two must agree (the accuracy estimate without labels).
        public var minimumAgreement = 0.7
        public init() {}
        enum CodingKeys: String, CodingKey {
            case minimumSamples = "minimum_samples", maximumErrorRate = "maximum_error_rate", maximumLatencyMs = "maximum_latency_ms"
            case maximumNullRateIncrease = "maximum_null_rate_increase", minimumAgreement = "minimum_agreement"
        }
    }

    public private(set) var samples = 0
    public private(set) var errors = 0
    public private(set) var agreements = 0
    public private(set) var candidateNulls = 0
    public private(set) var activeNulls = 0
    public private(set) var latencyMs = 0.0

    public init() {}

    /// One comparison: the candidate failed, or it answered (`candidateNull`: not a command) in `milliseconds`.
    public mutating func observe(error: Bool, candidateNull: Bool, activeNull: Bool, agrees: Bool, milliseconds: Double) {
        samples += 1
        if error { errors += 1; return }
        if candidateNull { candidateNulls += 1 }
        if activeNull { activeNulls += 1 }
        if agrees { agreements += 1 }
        latencyMs += milliseconds
    }

    public var agreement: Double { samples > errors ? Double(agreements) / Double(samples - errors) : 0 }

    /// Utterances the cloud teacher answered while both models ran, and how often each model agreed with it.
    public private(set) var teacher = TeacherAgreement()

    /// One utterance the cloud answered with both models' answers at hand.
    public mutating func observeTeacher(candidateAgrees: Bool, activeAgrees: Bool) {
        teacher.observe(candidateAgrees: candidateAgrees, activeAgrees: activeAgrees)
    }

    /// Enough teacher answers to judge agreement by: half the minimum sample (the cloud hears only some utterances).
    func teacherDecides(_ t: Thresholds) -> Bool { teacher.count >= max(10, t.minimumSamples / 2) }

    /// Why the candidate must go, or nil while it is healthy or there is too little evidence.
    public func breach(_ t: Thresholds) -> String? {
        guard samples >= t.minimumSamples else { return nil }
        let n = Double(samples), answered = Double(max(1, samples - errors))
        if Double(errors) / n > t.maximumErrorRate {
            return String(format: "error rate %.3f > %.3f over %d utterances", Double(errors) / n, t.maximumErrorRate, samples)
        }
        if latencyMs / answered > t.maximumLatencyMs {
            return String(format: "mean latency %.1f ms > %.1f ms over %d utterances", latencyMs / answered, t.maximumLatencyMs, samples)
        }
        let increase = (Double(candidateNulls) - Double(activeNulls)) / answered
        if increase > t.maximumNullRateIncrease {
            return String(format: "null results %.3f above the active model's (limit %.3f) over %d utterances", increase, t.maximumNullRateIncrease, samples)
        }
        // The cloud teacher, where it answered, says which of the two is right: a candidate that agrees with it
        // significantly less often than the active model goes (McNemar p < 0.01); one that agrees at least as often
        // may disagree with the active model (a retrained model is meant to differ where the old one was wrong).
        let teacherSays = teacherDecides(t)
        if teacherSays && teacher.candidateWorse(alpha: 0.01) {
            return String(format: "agreement with the cloud teacher %.3f, the active model's %.3f, over %d utterances", teacher.candidateRate ?? 0,
                          teacher.activeRate ?? 0, teacher.count)
        }
        if agreement < t.minimumAgreement && !(teacherSays && teacher.candidateAtLeastAsRight) {
            return String(format: "agreement with the active model %.3f < %.3f over %d utterances", agreement, t.minimumAgreement, samples)
        }
        return nil
    }
}

/// The loaded models of the running pipeline: active, previous (kept loaded for an instant rollback) and candidate.
/// With a `ModelStore`, `refresh()` follows `slots.json`: a switch takes effect at the next utterance, capture never
/// stops, and a bundle that fails verification is refused while the models already loaded keep running.
public final class ModelSlots: @unchecked Sendable {
    public struct Loaded {
        public let id: String
        public let recognizer: LocalRecognizer
    }
    public struct Snapshot {
        public var active: Loaded
        public var previous: Loaded?
        public var candidate: Loaded?
        public var mode: SlotState.Candidate?
        public var thresholds = CandidateHealth.Thresholds()
    }

    private let store: ModelStore?
    private let grammar: WordGraph?
    private let lock = NSLock()
    private var snapshot: Snapshot
    private var stamp: [Int] = []
    private var health = CandidateHealth()
    private var messages: [String] = []

    /// One fixed model, no store (`earshot run --model`).
    public init(fixed recognizer: LocalRecognizer) {
        store = nil
        grammar = nil
        let m = recognizer.manifest
        snapshot = Snapshot(active: Loaded(id: "\(m.name)@\(m.version)", recognizer: recognizer))
    }

    /// The store's slots; its state must name an active model that loads.
    public init(store: ModelStore, grammar: WordGraph? = nil) throws(RecognizerError) {
        self.store = store
        self.grammar = grammar
        guard let state = try store.state() else {
            throw RecognizerError(.input, "\(store.directory) has no active model; run `earshot models install BUNDLE --store \(store.directory)` and `earshot models activate NAME@VERSION`.")
        }
        stamp = Self.stamp(store.statePath)
        snapshot = Snapshot(active: try Self.load(state.active, store: store, grammar: grammar))
        snapshot.previous = state.previous.flatMap { try? Self.load($0, store: store, grammar: grammar) }
        if let c = state.candidate, let loaded = try? Self.load(c.bundle, store: store, grammar: grammar) {
            snapshot.candidate = loaded
            snapshot.mode = c
        }
        snapshot.thresholds = state.health
    }

    public var current: Snapshot {
        lock.lock(); defer { lock.unlock() }
        return snapshot
    }

    /// Samples of context before and after the speech that every loaded model needs.
    var window: (before: Int, after: Int) {
        let s = current
        return [s.active, s.candidate].compactMap { $0?.recognizer.window }.reduce((0, 0)) { (max($0.0, $1.before), max($0.1, $1.after)) }
    }

    /// Messages for the log since the last call (switches, refusals, rollbacks).
    public func drainMessages() -> [String] {
        lock.lock(); defer { lock.unlock() }
        let m = messages
        messages = []
        return m
    }

    /// Re-reads `slots.json` when it changed and swaps models in; loaded models are reused, so a rollback to the
    /// previous model costs nothing. Returns true when anything changed.
    @discardableResult
    public func refresh() -> Bool {
        guard let store else { return false }
        let now = Self.stamp(store.statePath)
        lock.lock()
        guard now != stamp else { lock.unlock(); return false }
        stamp = now
        let old = snapshot
        lock.unlock()
        let state: SlotState
        do {
            guard let s = try store.state() else { return false }
            state = s
        } catch {
            note("earshot: slots: \(error.message); keeping \(old.active.id)")
            return false
        }
        let loaded = [old.active, old.previous, old.candidate].compactMap { $0 }
        func get(_ id: String) throws(RecognizerError) -> Loaded {
            if let l = loaded.first(where: { $0.id == id }) { return l }
            return try Self.load(id, store: store, grammar: grammar)
        }
        var next = old
        do {
            next.active = try get(state.active)
        } catch {
            note("earshot: slots: refusing \(state.active): \(error.message); \(old.active.id) stays active")
            return false
        }
        next.previous = state.previous.flatMap { try? get($0) }
        next.thresholds = state.health
        if let c = state.candidate {
            do {
                next.candidate = try get(c.bundle)
                next.mode = c
            } catch {
                note("earshot: slots: refusing candidate \(c.bundle): \(error.message)")
                next.candidate = nil; next.mode = nil
            }
        } else {
            next.candidate = nil; next.mode = nil
        }
        lock.lock()
        if next.candidate?.id != snapshot.candidate?.id || next.mode != snapshot.mode { health = CandidateHealth() }
        snapshot = next
        lock.unlock()
        if next.active.id != old.active.id { note("earshot: slots: \(next.active.id) is now active (was \(old.active.id))") }
        if let c = next.mode, c != old.mode { note("earshot: slots: candidate \(c.bundle) in \(c.mode.rawValue), share \(c.share)") }
        return true
    }

    /// Records one comparison of the candidate with the active model; rolls the candidate back (in memory at once,
    /// and in the store) when it breaches the thresholds. Returns the reason when it did.
    func observe(candidate id: String, error: Bool, candidateNull: Bool, activeNull: Bool, agrees: Bool, milliseconds: Double) -> String? {
        lock.lock()
        guard snapshot.candidate?.id == id else { lock.unlock(); return nil }
        health.observe(error: error, candidateNull: candidateNull, activeNull: activeNull, agrees: agrees, milliseconds: milliseconds)
        guard let reason = health.breach(snapshot.thresholds) else { lock.unlock(); return nil }
        snapshot.candidate = nil
        snapshot.mode = nil
        health = CandidateHealth()
        lock.unlock()
        let message = "automatic rollback of \(id): \(reason)"
        if let store {
            do {
                try store.update { (state) throws(RecognizerError) in
                    guard var s = state, s.candidate?.bundle == id else { return }
                    s.candidate = nil
                    s.record("auto-rollback", id, reason: reason)
                    state = s
                }
                lock.lock(); stamp = Self.stamp(store.statePath); lock.unlock()
            } catch {
                note("earshot: slots: could not record the rollback in \(store.statePath): \(error.message)")
            }
        }
        note("earshot: slots: \(message)")
        return message
    }

    /// The cloud answered an utterance both models ran on: whether each agreed with it (see `CandidateHealth`).
    func observeTeacher(candidate id: String, candidateAgrees: Bool, activeAgrees: Bool) {
        lock.lock(); defer { lock.unlock() }
        guard snapshot.candidate?.id == id else { return }
        health.observeTeacher(candidateAgrees: candidateAgrees, activeAgrees: activeAgrees)
    }

    public var candidateHealth: CandidateHealth {
        lock.lock(); defer { lock.unlock() }
        return health
    }

    private func note(_ message: String) {
        lock.lock(); messages.append(message); lock.unlock()
    }

    static func load(_ id: String, store: ModelStore, grammar: WordGraph?) throws(RecognizerError) -> Loaded {
        let bundle = try store.bundle(id)
        return Loaded(id: id, recognizer: try LocalRecognizer(bundle: bundle, grammar: bundle.manifest.kind == "phrase" ? grammar : nil))
    }

    /// Modification time, size and inode of the state file: any atomic replace changes the inode.
    static func stamp(_ path: String) -> [Int] {
        var s = stat()
        guard stat(path, &s) == 0 else { return [] }
        return [Int(s.st_ino), Int(s.st_size), Int(s.st_mtim.tv_sec), Int(s.st_mtim.tv_nsec)]
    }

    /// A deterministic fraction in [0, 1) for an utterance id (FNV-1a 64, then the top 53 bits): canary assignment
    /// and shadow sampling, reproducible from the log.
    public static func fraction(_ id: String) -> Double {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in id.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        // Finalise (splitmix64) so ids that differ in the last digit spread over the whole range.
        hash ^= hash >> 30; hash &*= 0xbf58_476d_1ce4_e5b9; hash ^= hash >> 27; hash &*= 0x94d0_49bb_1331_11eb; hash ^= hash >> 31
        return Double(hash >> 11) / Double(1 << 53)
    }
}
