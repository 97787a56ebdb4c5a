public import EarshotMonitoring
import Foundation

/// The quality gate of a rollout step: the candidate's decisions on the step's devices against the baseline model's
/// decisions in the same group, with the drift engine's tests (Holm-corrected significance and a bootstrap effect band)
/// deciding what "worse" means, a minimum sample size before any promotion, and the devices' own rollbacks as vetoes.
public enum RolloutGate {
    public enum Outcome: String, Sendable, Codable {
        /// The step passed: go to the next one (or complete).
        case promote
        /// Not enough time or evidence yet.
        case wait
        /// Inconclusive: a human decides.
        case hold
        /// The candidate is worse: take it off every device.
        case rollback
    }

    /// One compared metric: the candidate's and the baseline's value (a mean or a rate), the test, and whether it is
    /// worse in the direction that matters.
    public struct Metric: Sendable, Equatable, Codable {
        public var name: String
        public var candidate: Double?
        public var baseline: Double?
        public var candidateCount: Int
        public var baselineCount: Int
        public var pValue: Double?
        public var effect: Double?
        public var effectThreshold: Double?
        public var significant: Bool
        public var worse: Bool
        public var note: String

        enum CodingKeys: String, CodingKey {
            case name, candidate, baseline, significant, worse, note, effect
            case candidateCount = "candidate_count", baselineCount = "baseline_count", pValue = "p_value", effectThreshold = "effect_threshold"
        }
    }

    public struct Verdict: Sendable, Equatable, Codable {
        public var outcome: Outcome
        public var reason: String
        public var candidateDecisions: Int
        public var baselineDecisions: Int
        /// `paired` (same devices, same step) or `group` (the group since the rollout began).
        public var baseline: String
        public var metrics: [Metric]
        public var localRollbacks: [String]
        public var refusals: [String]

        enum CodingKeys: String, CodingKey {
            case outcome, reason, metrics, refusals, baseline
            case candidateDecisions = "candidate_decisions", baselineDecisions = "baseline_decisions", localRollbacks = "local_rollbacks"
        }
    }

    /// Largest share of utterances on which the candidate's interpreter may fail (the devices' own default too).
    public static let maximumErrorRate = 0.05

    /// Metrics where a larger value is worse, and where a smaller one is; each is a decision column.
    static let higherIsWorse = ["latency_ms", "null_result", "quick_repeat", "correction"]
    static let lowerIsWorse = ["confidence", "local_confidence", "cloud_agrees"]

    /// Judges the current step. `candidate`: decisions the candidate answered on the step's devices since the step began
    /// (in a shadow step, the active model's decisions there, which carry the shadow's agreement); `baseline`: decisions
    /// the baseline model answered in the group; either may carry a `correction` column of technicians' verdicts
    /// ("true" for a correction, "false" for a confirmation); `localRollbacks` and `refusals`: device reports for this rollout.
    /// `paired`: the baseline comes from the same devices in the same step (the A/B control of a per-utterance canary);
    /// otherwise latency is not compared below the switch step, since canary devices also run the other model beside.
    /// `errors`: for the step's decisions where the candidate ran ("true" when its interpreter failed, "false" when not).
    /// `calibrationDiffers`: the two models' manifests give different temperatures or accept thresholds, so their
    /// confidences are on different scales and are not compared.
    public static func evaluate(_ plan: RolloutPlan, candidate: UtteranceWindow, baseline: UtteranceWindow, paired: Bool = false,
                                errors: [String] = [], localRollbacks: [String], refusals: [String], now: Double,
                                calibrationDiffers: Bool = false, policy: DriftPolicy = DriftPolicy()) -> Verdict {
        var verdict = Verdict(outcome: .wait, reason: "", candidateDecisions: candidate.count, baselineDecisions: baseline.count,
                              baseline: paired ? "paired" : "group", metrics: [], localRollbacks: localRollbacks, refusals: refusals)
        let step = plan.currentStep
        let elapsed = now - plan.stepStartedAt
        // Agreement with the active model on the same utterances: the accuracy estimate without labels.
        let agreement = rate(candidate.categorical["shadow_agrees"] ?? [])
        verdict.metrics.append(Metric(name: "agreement_with_active", candidate: agreement.rate, baseline: nil, candidateCount: agreement.count,
                                      baselineCount: 0, pValue: nil, effect: nil, effectThreshold: plan.minimumAgreement, significant: false,
                                      worse: agreement.count >= plan.minimumSamples && (agreement.rate ?? 1) < plan.minimumAgreement,
                                      note: "share of utterances on which candidate and active model agree"))
        // Agreement with the cloud teacher on the same utterances, candidate against active (McNemar's exact test on
        // the utterances where exactly one of them agrees). It is the better evidence: where it shows the candidate at
        // least as right as the active model, disagreeing with the active model is the point of the candidate.
        let teacher = teacherComparison(candidate, shadowStep: step.mode == .shadow)
        let teacherDecides = teacher.count >= plan.minimumSamples
        verdict.metrics.append(Metric(name: "teacher_agreement", candidate: teacher.candidateRate, baseline: teacher.activeRate,
                                      candidateCount: teacher.count, baselineCount: teacher.count, pValue: teacher.pValue,
                                      effect: teacher.candidateRate.flatMap { c in teacher.activeRate.map { c - $0 } }, effectThreshold: nil,
                                      significant: (teacher.pValue ?? 1) < 0.05, worse: teacherDecides && teacher.candidateWorse(alpha: 0.05),
                                      note: "agreement with the cloud teacher on utterances both models answered, candidate vs active (paired)"))
        if teacherDecides, teacher.candidateAtLeastAsRight, let index = verdict.metrics.firstIndex(where: { $0.name == "agreement_with_active" }),
           verdict.metrics[index].worse {
            verdict.metrics[index].worse = false
            verdict.metrics[index].note += "; below the minimum, but the candidate agrees with the teacher more often: " + Self.describe(teacher)
        }
        // The candidate's interpreter failures: the active model answered instead, so only this flag shows them.
        let failures = rate(errors)
        verdict.metrics.append(Metric(name: "candidate_errors", candidate: failures.rate, baseline: nil, candidateCount: failures.count,
                                      baselineCount: 0, pValue: nil, effect: nil, effectThreshold: maximumErrorRate, significant: false,
                                      worse: failures.count >= plan.minimumSamples && (failures.rate ?? 0) > maximumErrorRate,
                                      note: "share of utterances on which the candidate's interpreter failed"))
        if step.mode == .canary {
            var policy = policy
            policy.minimumSamples = min(policy.minimumSamples, plan.minimumSamples)
            // With enough paired teacher evidence, the unpaired teacher agreement (asked on different utterances for
            // each model, by each model's own doubt) adds nothing but its selection bias.
            // The models' own confidence where devices report it (`local_confidence`): a decision's `confidence` is
            // the cloud's when it answered, so it moves with routing — a candidate that asks the cloud less looked
            // less sure. Neither is compared across different calibrations.
            let own = !(candidate.numeric["local_confidence"] ?? []).isEmpty && !(baseline.numeric["local_confidence"] ?? []).isEmpty
            let confidence = calibrationDiffers ? [] : [own ? "local_confidence" : "confidence"]
            let names = confidence + ["null_result"] + (teacherDecides ? [] : ["cloud_agrees"]) + ["quick_repeat", "correction"]
                + (paired || step.isSwitch ? ["latency_ms"] : [])
            if calibrationDiffers {
                verdict.metrics.append(Metric(name: "confidence", candidate: nil, baseline: nil, candidateCount: 0, baselineCount: 0, pValue: nil,
                                              effect: nil, effectThreshold: nil, significant: false, worse: false,
                                              note: "not compared: the models' calibrations (temperature, accept threshold) differ"))
            }
            var reference: [(String, DriftColumn)] = [], current: [String: DriftColumn] = [:]
            for name in names {
                if let r = baseline.numeric[name], let c = candidate.numeric[name] {
                    reference.append((name, .numeric(r))); current[name] = .numeric(c)
                } else if let r = baseline.categorical[name]?.filter({ !$0.isEmpty }), let c = candidate.categorical[name]?.filter({ !$0.isEmpty }) {
                    reference.append((name, .categorical(r))); current[name] = .categorical(c)
                }
            }
            for column in DriftDetector(policy: policy).compare(reference: reference, current: current) {
                let (c, b) = summary(column.column, candidate, baseline)
                let direction: Bool
                if higherIsWorse.contains(column.column) { direction = (c ?? 0) > (b ?? 0) } else { direction = (c ?? 0) < (b ?? 0) }
                verdict.metrics.append(Metric(name: column.column, candidate: c, baseline: b, candidateCount: column.currentCount,
                                              baselineCount: column.referenceCount, pValue: column.adjustedPValue, effect: column.effectValue,
                                              effectThreshold: column.effectThreshold, significant: column.drifted, worse: column.drifted && direction,
                                              note: column.reason))
            }
        }
        let evidence = step.mode == .canary ? candidate.count : agreement.count
        if !localRollbacks.isEmpty {
            verdict.outcome = .rollback
            verdict.reason = "\(localRollbacks.count) device(s) rolled the candidate back on their own: \(localRollbacks.prefix(3).joined(separator: "; "))"
            return verdict
        }
        let worse = verdict.metrics.filter(\.worse)
        if !worse.isEmpty {
            verdict.outcome = .rollback
            verdict.reason = "worse than the baseline: " + worse.map { m in
                m.name == "teacher_agreement"
                    ? "agreement with the cloud teacher " + Self.describe(teacher)
                    : m.name == "agreement_with_active"
                    ? String(format: "agreement with the active model %.3f < %.3f over %d utterances", m.candidate ?? 0, plan.minimumAgreement, m.candidateCount)
                    : m.name == "candidate_errors"
                    ? String(format: "the candidate failed on %.3f of %d utterances (limit %.3f)", m.candidate ?? 0, m.candidateCount, maximumErrorRate)
                    : String(format: "%@ %.4g vs %.4g (p %.2g, effect %.3g > %.3g)", m.name, m.candidate ?? .nan, m.baseline ?? .nan, m.pValue ?? .nan,
                             m.effect ?? .nan, m.effectThreshold ?? .nan)
            }.joined(separator: "; ")
            return verdict
        }
        if !refusals.isEmpty {
            verdict.outcome = .hold
            verdict.reason = "\(refusals.count) device(s) refused the bundle: \(refusals.prefix(3).joined(separator: "; "))"
            return verdict
        }
        // Too little evidence waits, and is held for a human ("inconclusive") once the step is older than `holdAfter`.
        for (count, what) in [(evidence, "candidate"), (step.mode == .canary ? baseline.count : plan.minimumSamples, "baseline")]
        where count < plan.minimumSamples {
            verdict.outcome = elapsed >= plan.holdAfter ? .hold : .wait
            verdict.reason = (elapsed >= plan.holdAfter ? "inconclusive: \(count) \(what) decisions after \(Int(elapsed)) s, "
                                : "waiting for evidence: \(count) \(what) decisions, ") + "\(plan.minimumSamples) needed"
            return verdict
        }
        // A plan that asks for proof of improvement waits (then holds) until the paired teacher comparison shows it;
        // at the switch no model runs beside the candidate, so the steps before it carry that proof.
        if plan.requireTeacherGain == true && !step.isSwitch && !(teacherDecides && teacher.candidateBetter(alpha: 0.05)) {
            let shown = teacher.count == 0 ? "no utterances the teacher answered yet" : "teacher agreement " + Self.describe(teacher)
            verdict.outcome = elapsed >= plan.holdAfter ? .hold : .wait
            verdict.reason = "no significant gain over the active model yet: " + shown
            return verdict
        }
        if elapsed < plan.interval {
            verdict.reason = "healthy so far; the step lasts at least \(Int(plan.interval)) s (\(Int(elapsed)) s elapsed)"
            return verdict
        }
        verdict.outcome = .promote
        verdict.reason = (plan.requireTeacherGain == true && !step.isSwitch
            ? "agrees with the teacher more often: " + Self.describe(teacher) + "; " : "")
            + "no metric worse than the baseline over \(evidence) candidate decisions"
            + (step.mode == .canary ? " and \(baseline.count) baseline decisions" : "")
        return verdict
    }

    /// Candidate and active agreement with the teacher on the utterances where both are known. In a shadow step the
    /// active model answered (`cloud_agrees`) and the candidate ran beside it (`shadow_agrees_cloud`); on a canary
    /// utterance the candidate answered and the active model ran beside it, so the columns swap roles.
    static func teacherComparison(_ window: UtteranceWindow, shadowStep: Bool) -> TeacherAgreement {
        var agreement = TeacherAgreement()
        for (answered, beside) in zip(window.categorical["cloud_agrees"] ?? [], window.categorical["shadow_agrees_cloud"] ?? [])
        where !answered.isEmpty && !beside.isEmpty {
            let (candidate, active) = shadowStep ? (beside, answered) : (answered, beside)
            agreement.observe(candidateAgrees: candidate == "true", activeAgrees: active == "true")
        }
        return agreement
    }

    /// "0.653 vs the active model's 0.494 over 582 utterances (McNemar p 5.5e-14)".
    static func describe(_ t: TeacherAgreement) -> String {
        String(format: "%.3f vs the active model's %.3f over %d utterances (McNemar p %.2g)", t.candidateRate ?? 0, t.activeRate ?? 0, t.count,
               t.pValue ?? 1)
    }

    /// The share of "true" among the known values of a flag column.
    static func rate(_ values: [String]) -> (rate: Double?, count: Int) {
        let known = values.filter { !$0.isEmpty }
        guard !known.isEmpty else { return (nil, 0) }
        return (Double(known.filter { $0 == "true" }.count) / Double(known.count), known.count)
    }

    /// The mean of a numeric column or the rate of a flag, for the candidate and the baseline.
    static func summary(_ name: String, _ candidate: UtteranceWindow, _ baseline: UtteranceWindow) -> (Double?, Double?) {
        func value(_ w: UtteranceWindow) -> Double? {
            if let n = w.numeric[name] { return n.isEmpty ? nil : n.reduce(0, +) / Double(n.count) }
            return rate(w.categorical[name] ?? []).rate
        }
        return (value(candidate), value(baseline))
    }
}
