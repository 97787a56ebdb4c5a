/// A candidate model and the active one judged by the same teacher on the same utterances: how often each agreed with
/// it, and McNemar's exact test on the utterances where exactly one did. The devices' candidate health and the
/// collector's rollout gate both decide with it.
public struct TeacherAgreement: Sendable, Equatable {
    public private(set) var count = 0
    public private(set) var candidateRight = 0
    public private(set) var activeRight = 0
    /// The discordant pairs: only the candidate agreed, only the active model agreed.
    public private(set) var onlyCandidate = 0
    public private(set) var onlyActive = 0

    public init() {}

    /// One utterance the teacher answered while both models had answered it.
    public mutating func observe(candidateAgrees: Bool, activeAgrees: Bool) {
        count += 1
        if candidateAgrees { candidateRight += 1 }
        if activeAgrees { activeRight += 1 }
        if candidateAgrees && !activeAgrees { onlyCandidate += 1 }
        if activeAgrees && !candidateAgrees { onlyActive += 1 }
    }

    public var candidateRate: Double? { count > 0 ? Double(candidateRight) / Double(count) : nil }
    public var activeRate: Double? { count > 0 ? Double(activeRight) / Double(count) : nil }
    public var pValue: Double? { count > 0 ? DriftStatistics.mcNemar(onlyCandidate, onlyActive) : nil }

    /// The candidate agrees with the teacher significantly more often (at `alpha`) than the active model.
    public func candidateBetter(alpha: Double) -> Bool { onlyCandidate > onlyActive && (pValue ?? 1) < alpha }
    /// The candidate agrees with the teacher significantly less often (at `alpha`) than the active model.
    public func candidateWorse(alpha: Double) -> Bool { onlyActive > onlyCandidate && (pValue ?? 1) < alpha }
    /// At least as often right as the active model (the excuse for disagreeing with it).
    public var candidateAtLeastAsRight: Bool { count > 0 && candidateRight >= activeRight }
}
