import Foundation

/// One column of observations, numeric or categorical; missing values are already removed and counted.
public enum DriftColumn: Sendable {
    case numeric([Double])
    case categorical([String])

    public var count: Int {
        switch self {
        case .numeric(let values): values.count
        case .categorical(let values): values.count
        }
    }
}

/// How the detector decides. The defaults are what the collector alarms on; docs/DRIFT.md explains each.
public struct DriftPolicy: Sendable, Equatable {
    /// Family-wise false-alarm rate over all columns of one comparison (Holm–Bonferroni). 1 %, not 5 %: a fleet runs
    /// many comparisons, and an alarm someone ignores is worse than one a window later.
    public var alpha = 0.01
    /// Below this many rows in either window there is no decision, only statistics.
    public var minimumSamples = 30
    /// The smallest shift worth an alarm: Wasserstein distance in reference standard deviations.
    public var minimumNumericEffect = 0.05
    /// The smallest change worth an alarm for a categorical column: Jensen–Shannon distance.
    public var minimumCategoricalEffect = 0.03
    /// Bootstrap rounds for the effect-size band under no drift at the current window size.
    public var bootstrapRounds = 200
    /// Window sizes above this are bootstrapped at this size and the band scaled by √(size / n).
    public var bootstrapSizeLimit = 4_000
    /// The bootstrap's seed: the same inputs always give the same decisions.
    public var seed: UInt64 = 0x5EED_D41F

    public init() {}
}

/// The comparison of one column: every statistic by name, the decision and why.
public struct ColumnDrift: Sendable, Equatable, Codable {
    public var column: String
    public var type: String
    public var referenceCount: Int
    public var currentCount: Int
    /// Statistics by scipy-like name: `ks_statistic`, `ks_pvalue`, `wasserstein`, `wasserstein_normed`, `psi`,
    /// `jensenshannon`, `chi2_statistic`, `chi2_pvalue`, `chi2_dof`, plus the means or top categories' shares.
    public var statistics: [String: Double]
    /// The test's p-value and the Holm-adjusted one (nil without a decision).
    public var pValue: Double?
    public var adjustedPValue: Double?
    /// The effect size that must also be large: its name, value and the threshold it had to pass.
    public var effect: String
    public var effectValue: Double
    public var effectThreshold: Double
    public var drifted: Bool
    public var decided: Bool
    public var reason: String

    enum CodingKeys: String, CodingKey {
        case column, type, statistics, effect, drifted, decided, reason
        case referenceCount = "reference_n", currentCount = "current_n", pValue = "p_value", adjustedPValue = "p_value_adjusted"
        case effectValue = "effect_value", effectThreshold = "effect_threshold"
    }
}

/// Compares a current window with a reference, column by column, and alarms only when a change is both significant
/// (a p-value that survives Holm's correction for the number of columns) and large (an effect size above both the
/// practical minimum and the band that no-drift samples of this window size reach 95 % of the time). Fixed thresholds
/// on effect sizes alone fire constantly on small windows; p-values alone fire on trivial shifts in huge ones.
public struct DriftDetector: Sendable {
    public var policy: DriftPolicy

    public init(policy: DriftPolicy = DriftPolicy()) { self.policy = policy }

    /// Compares each named column present in both; `family` widens the multiple-testing correction when the caller
    /// runs this comparison among others (devices × columns), defaulting to the columns here.
    public func compare(reference: [(String, DriftColumn)], current: [String: DriftColumn], family: Int? = nil) -> [ColumnDrift] {
        var results: [ColumnDrift] = []
        for (index, (name, ref)) in reference.enumerated() {
            guard let cur = current[name] else { continue }
            var generator = SplitMix(seed: policy.seed &+ UInt64(index))
            switch (ref, cur) {
            case (.numeric(let r), .numeric(let c)): results.append(numeric(name, r, c, &generator))
            case (.categorical(let r), .categorical(let c)): results.append(categorical(name, r, c, &generator))
            case (.numeric(let r), .categorical(let c)):
                results.append(categorical(name, r.map { String($0) }, c, &generator))
            case (.categorical(let r), .numeric(let c)):
                results.append(categorical(name, r, c.map { String($0) }, &generator))
            }
        }
        adjust(&results, family: family)
        return results
    }

    // MARK: Numeric columns

    private func numeric(_ name: String, _ reference: [Double], _ current: [Double], _ generator: inout SplitMix) -> ColumnDrift {
        var result = Self.undecided(name, "numeric", effect: "wasserstein_normed", minimum: policy.minimumNumericEffect,
                                    reference.count, current.count)
        guard result.reason.isEmpty else { return result }
        let r = reference.sorted(), c = current.sorted()
        let scale = Self.standardDeviation(r)
        let ks = DriftStatistics.kolmogorovSmirnov(sorted: r, sorted: c)
        let distance = DriftStatistics.wasserstein(sorted: r, sorted: c)
        let normed = Self.normed(distance, scale: scale)
        let edges = DriftStatistics.decileEdges(sorted: r)
        let pr = DriftStatistics.proportions(sorted: r, edges: edges), pc = DriftStatistics.proportions(sorted: c, edges: edges)
        result.statistics = [
            "ks_statistic": ks.statistic, "ks_pvalue": ks.pValue, "wasserstein": distance, "wasserstein_normed": normed,
            "psi": DriftStatistics.psi(reference: pr, current: pc), "jensenshannon": DriftStatistics.jensenShannon(pr, pc),
            "reference_mean": Self.mean(r), "current_mean": Self.mean(c), "reference_std": scale, "current_std": Self.standardDeviation(c),
        ]
        result.pValue = ks.pValue
        result.effectValue = normed
        guard enough(&result) else { return result }
        // The band: normalised Wasserstein between two no-drift samples of these sizes, both drawn from the reference.
        // Draws come out sorted (multinomial counts over the sorted reference), so no round sorts.
        var counts = [Int32](repeating: 0, count: r.count)
        let band = bootstrapBand(size: c.count, referenceSize: r.count, &generator) { left, right in
            Self.normed(DriftStatistics.wasserstein(sorted: left, sorted: right), scale: scale)
        } fill: { sample, generator in
            for k in counts.indices { counts[k] = 0 }
            for _ in 0..<sample.count { counts[Int(generator.next() % UInt64(r.count))] += 1 }
            var at = 0
            for (k, count) in counts.enumerated() where count > 0 {
                for _ in 0..<Int(count) { sample[at] = r[k]; at += 1 }
            }
        }
        result.effectThreshold = max(policy.minimumNumericEffect, band)
        return result
    }

    // MARK: Categorical columns

    private func categorical(_ name: String, _ reference: [String], _ current: [String], _ generator: inout SplitMix) -> ColumnDrift {
        var result = Self.undecided(name, "categorical", effect: "jensenshannon", minimum: policy.minimumCategoricalEffect,
                                    reference.count, current.count)
        guard result.reason.isEmpty else { return result }
        let categories = Array(Set(reference).union(current)).sorted()
        let index = Dictionary(uniqueKeysWithValues: categories.enumerated().map { ($1, $0) })
        func counts(_ values: [String]) -> [Int] {
            var counts = [Int](repeating: 0, count: categories.count)
            for v in values { counts[index[v]!] += 1 }
            return counts
        }
        let rc = counts(reference), cc = counts(current)
        let pr = rc.map { Double($0) / Double(reference.count) }, pc = cc.map { Double($0) / Double(current.count) }
        let chi = DriftStatistics.chiSquare(reference: rc, current: cc)
        let js = DriftStatistics.jensenShannon(pr, pc)
        result.statistics = ["chi2_statistic": chi.statistic, "chi2_pvalue": chi.pValue, "chi2_dof": Double(chi.degrees),
                             "jensenshannon": js, "psi": DriftStatistics.psi(reference: pr, current: pc),
                             "categories": Double(categories.count)]
        result.pValue = chi.pValue
        result.effectValue = js
        guard enough(&result) else { return result }
        // Draw category indices by the reference's proportions (a cumulative table and a binary search).
        var cumulative: [Int] = []
        var running = 0
        for count in rc { running += count; cumulative.append(running) }
        let band = bootstrapBand(size: current.count, referenceSize: reference.count, &generator) { left, right in
            var a = [Double](repeating: 0, count: categories.count), b = a
            for v in left { a[Int(v)] += 1 }
            for v in right { b[Int(v)] += 1 }
            return DriftStatistics.jensenShannon(a, b)
        } fill: { sample, generator in
            for k in sample.indices {
                let target = Int(generator.next() % UInt64(running))
                var low = 0, high = cumulative.count - 1
                while low < high {
                    let mid = (low + high) / 2
                    if cumulative[mid] > target { high = mid } else { low = mid + 1 }
                }
                sample[k] = Double(low)
            }
        }
        result.effectThreshold = max(policy.minimumCategoricalEffect, band)
        return result
    }

    // MARK: Shared parts

    /// A column's result before any statistic: no decision; the reason says why when a window is empty.
    static func undecided(_ name: String, _ type: String, effect: String, minimum: Double, _ referenceCount: Int, _ currentCount: Int) -> ColumnDrift {
        let empty = referenceCount == 0 ? "reference" : currentCount == 0 ? "current" : nil
        return ColumnDrift(column: name, type: type, referenceCount: referenceCount, currentCount: currentCount, statistics: [:], pValue: nil,
                           adjustedPValue: nil, effect: effect, effectValue: 0, effectThreshold: minimum, drifted: false, decided: false,
                           reason: empty.map { "no values in the \($0) window" } ?? "")
    }

    /// Whether both windows are large enough for a decision; marks the result decided, or says why not.
    private func enough(_ result: inout ColumnDrift) -> Bool {
        let smaller = min(result.referenceCount, result.currentCount)
        guard smaller >= policy.minimumSamples else {
            result.reason = "too few rows for a decision (\(smaller) < \(policy.minimumSamples))"
            return false
        }
        result.decided = true
        return true
    }

    /// The (1 − α) quantile of `effect` between two samples of the window sizes, both drawn with replacement from the
    /// reference: how large the effect gets with no drift at all. Large windows are bootstrapped at the size limit and
    /// the band shrunk by √(limit / size), the rate these effects shrink at.
    private func bootstrapBand(size: Int, referenceSize: Int, _ generator: inout SplitMix,
                               effect: ([Double], [Double]) -> Double, fill: (inout [Double], inout SplitMix) -> Void) -> Double {
        let limit = policy.bootstrapSizeLimit
        let currentSize = min(size, limit), baseSize = min(referenceSize, limit)
        var values: [Double] = []
        values.reserveCapacity(policy.bootstrapRounds)
        var left = [Double](repeating: 0, count: baseSize), right = [Double](repeating: 0, count: currentSize)
        for _ in 0..<policy.bootstrapRounds {
            fill(&left, &generator)
            fill(&right, &generator)
            values.append(effect(left, right))
        }
        values.sort()
        var band = DriftStatistics.quantile(sorted: values, 1 - policy.alpha)
        // Effects under no drift scale like √(1/n + 1/m).
        let actual = (1 / Double(size) + 1 / Double(referenceSize)).squareRoot()
        let sampled = (1 / Double(currentSize) + 1 / Double(baseSize)).squareRoot()
        band *= actual / sampled
        return band
    }

    /// Holm–Bonferroni: the k-th smallest of m p-values is compared with α / (m − k + 1); adjusted p-values are made
    /// monotone. A column drifts when its adjusted p-value is below α and its effect passes its threshold.
    private func adjust(_ results: inout [ColumnDrift], family: Int?) {
        let decided = results.indices.filter { results[$0].decided }
        let m = max(family ?? decided.count, decided.count)
        var running = 0.0
        for (rank, i) in decided.sorted(by: { (results[$0].pValue ?? 1) < (results[$1].pValue ?? 1) }).enumerated() {
            running = max(running, min(1, Double(m - rank) * (results[i].pValue ?? 1)))
            results[i].adjustedPValue = running
        }
        for i in decided {
            let p = results[i].adjustedPValue ?? 1
            let significant = p < policy.alpha
            let large = results[i].effectValue > results[i].effectThreshold
            results[i].drifted = significant && large
            let test = results[i].type == "numeric" ? "KS" : "chi-square"
            let effect = String(format: "%@ %.4g %@ threshold %.4g", results[i].effect, results[i].effectValue,
                                large ? ">" : "≤", results[i].effectThreshold)
            let pText = String(format: "%@ p = %.3g (Holm-adjusted over %d: %.3g) %@ %.3g", test, results[i].pValue ?? 1, m, p,
                               significant ? "<" : "≥", policy.alpha)
            switch (significant, large) {
            case (true, true): results[i].reason = "drifted: \(pText) and \(effect)"
            case (true, false): results[i].reason = "significant but too small to matter: \(pText); \(effect)"
            case (false, true): results[i].reason = "not significant at this window size: \(pText); \(effect)"
            case (false, false): results[i].reason = "no drift: \(pText); \(effect)"
            }
        }
    }

    static func normed(_ distance: Double, scale: Double) -> Double {
        scale > 0 ? distance / scale : (distance > 0 ? .infinity : 0)
    }

    static func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }

    /// Population standard deviation (numpy's `std`, ddof = 0), as Evidently normalises Wasserstein.
    static func standardDeviation(_ values: [Double]) -> Double {
        let m = mean(values)
        return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count)).squareRoot()
    }
}

/// A small, fast, seedable generator (splitmix64) so bootstrap bands are reproducible.
struct SplitMix {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
