import Foundation

/// Two-sample statistics for drift, defined as scipy defines them where scipy has them (docs/DRIFT.md lists each):
/// `ks_2samp` (two-sided, method "auto"), `wasserstein_distance`, `chi2_contingency` (with Yates' correction at one
/// degree of freedom) and `jensenshannon` (natural log). PSI has no scipy function; its binning is written here and
/// in scripts/oracles/drift_vectors.py identically.
public enum DriftStatistics {
    /// The two-sample Kolmogorov–Smirnov test: D = sup |F_ref − F_cur| and its two-sided p-value.
    public struct KolmogorovSmirnov: Sendable, Equatable {
        public var statistic: Double
        public var pValue: Double
        /// Whether the p-value is exact (lattice paths) or Smirnov's asymptotic form (either sample over 10 000).
        public var exact: Bool
    }

    /// The largest sample size for which the p-value is computed exactly, as scipy's method "auto" does.
    public static let exactKSLimit = 10_000

    /// KS test of two samples that are already sorted ascending (NaNs removed).
    public static func kolmogorovSmirnov(sorted a: [Double], sorted b: [Double]) -> KolmogorovSmirnov {
        precondition(!a.isEmpty && !b.isEmpty, "KS needs two non-empty samples")
        let m = a.count, n = b.count
        // The largest |i·n − j·m| over the points where both empirical CDFs step: D = that / (m·n), exactly.
        var i = 0, j = 0
        var widest = 0
        while i < m || j < n {
            let value = j >= n || (i < m && a[i] <= b[j]) ? a[i] : b[j]
            while i < m && a[i] <= value { i += 1 }
            while j < n && b[j] <= value { j += 1 }
            widest = max(widest, abs(i * n - j * m))
        }
        let statistic = Double(widest) / (Double(m) * Double(n))
        if widest == 0 { return KolmogorovSmirnov(statistic: 0, pValue: 1, exact: true) }
        if max(m, n) <= exactKSLimit {
            let p = m == n ? equalSizeTail(n: n, steps: widest / n) : latticeTail(m: m, n: n, widest: widest)
            return KolmogorovSmirnov(statistic: statistic, pValue: min(1, max(0, p)), exact: true)
        }
        // Smirnov's limit with Stephens' finite-sample correction of the argument.
        let effective = (Double(m) * Double(n) / Double(m + n)).rounded()
        let root = effective.squareRoot()
        let p = SpecialFunctions.kolmogorovSurvival((root + 0.12 + 0.11 / root) * statistic)
        return KolmogorovSmirnov(statistic: statistic, pValue: p, exact: false)
    }

    /// P(D ≥ h / n) for two samples of n each: 2 Σ_{k≥1} (−1)^{k+1} C(2n, n − k·h) / C(2n, n), evaluated from the
    /// innermost term outwards so the alternating sum never cancels.
    static func equalSizeTail(n: Int, steps h: Int) -> Double {
        // Direct Horner form: P = 2·A1·(1 − A2·(1 − A3·(…))), A_k = C(2n, n − kh) / C(2n, n − (k−1)h).
        var total = 0.0
        var k = n / h
        while k >= 1 {
            var a = 1.0
            for j in 0..<h {
                let top = Double(n - (k - 1) * h - j)
                let bottom = Double(n + (k - 1) * h + j + 1)
                a *= top / bottom
            }
            total = a * (1 - total)
            k -= 1
        }
        return 2 * total
    }

    /// P(max |i·n − j·m| ≥ widest) over the uniformly random interleavings of m and n draws: the probability mass of
    /// the lattice walk from (0, 0) to (m, n) that ever touches the boundary, summed as it leaves, so a small p-value
    /// keeps its relative accuracy. O(m · band) time, O(n) memory.
    static func latticeTail(m: Int, n: Int, widest: Int) -> Double {
        // Row i holds the walk's mass at (i, j) for the j still inside |i·n − j·m| < widest; cells outside are zero.
        func floorDivide(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
        var row = [Double](repeating: 0, count: n + 1)
        var outside = 0.0
        var previousLow = 0
        for i in 0...m {
            let low = max(0, floorDivide(i * n - widest, m) + 1)
            let high = min(n, floorDivide(i * n + widest - 1, m))
            // Cells from the previous row's first inside cell to one past this row's last: the only ones with mass
            // arriving (band edges only move right as i grows).
            var left = 0.0
            for j in min(previousLow, low)...min(n, high + 1) {
                let fromAbove = i == 0 ? (j == 0 ? 1 : 0) : row[j] * Double(m - i + 1) / Double(m - i + 1 + n - j)
                let fromLeft = j == 0 ? 0 : left * Double(n - j + 1) / Double(m - i + n - j + 1)
                let mass = fromAbove + fromLeft
                if j >= low && j <= high { row[j] = mass } else { outside += mass; row[j] = 0 }
                left = row[j]
            }
            previousLow = low
        }
        return outside
    }

    /// The first Wasserstein distance between two sorted samples: ∫ |F_a(x) − F_b(x)| dx (scipy
    /// `wasserstein_distance` with unit weights).
    public static func wasserstein(sorted a: [Double], sorted b: [Double]) -> Double {
        precondition(!a.isEmpty && !b.isEmpty, "Wasserstein needs two non-empty samples")
        var i = 0, j = 0
        var total = 0.0
        var previous = min(a[0], b[0])
        let m = Double(a.count), n = Double(b.count)
        while i < a.count || j < b.count {
            let value = j >= b.count || (i < a.count && a[i] <= b[j]) ? a[i] : b[j]
            total += abs(Double(i) / m - Double(j) / n) * (value - previous)
            previous = value
            while i < a.count && a[i] <= value { i += 1 }
            while j < b.count && b[j] <= value { j += 1 }
        }
        return total
    }

    /// Interior bin edges at the reference's deciles (numpy's linear quantiles), duplicates removed; the outer bins
    /// are open. A value goes to the bin of the edges at or below it (numpy `searchsorted(…, side="right")`).
    public static func decileEdges(sorted reference: [Double], bins: Int = 10) -> [Double] {
        var edges: [Double] = []
        for k in 1..<bins {
            let value = quantile(sorted: reference, Double(k) / Double(bins))
            if edges.last != value { edges.append(value) }
        }
        return edges
    }

    /// numpy's default (linear) quantile of a sorted sample.
    public static func quantile(sorted values: [Double], _ q: Double) -> Double {
        precondition(!values.isEmpty, "a quantile needs values")
        let position = q * Double(values.count - 1)
        let low = Int(position.rounded(.down))
        let high = min(low + 1, values.count - 1)
        let fraction = position - Double(low)
        return values[low] + (values[high] - values[low]) * fraction
    }

    /// Proportions of a sorted sample in the bins that `edges` make (edges.count + 1 bins).
    public static func proportions(sorted values: [Double], edges: [Double]) -> [Double] {
        var counts = [Double](repeating: 0, count: edges.count + 1)
        var bin = 0
        for v in values {
            while bin < edges.count && v >= edges[bin] { bin += 1 }
            counts[bin] += 1
        }
        let total = Double(values.count)
        return counts.map { $0 / total }
    }

    /// The floor PSI puts under empty bins so the logarithm stays finite.
    public static let psiFloor = 1e-4

    /// Population stability index Σ (cur − ref) · ln(cur / ref) over bins, each proportion floored at `psiFloor`.
    public static func psi(reference: [Double], current: [Double]) -> Double {
        zip(reference, current).reduce(0) { total, pair in
            let r = max(pair.0, psiFloor), c = max(pair.1, psiFloor)
            return total + (c - r) * log(c / r)
        }
    }

    /// The Jensen–Shannon distance (the square root of the divergence, natural log) between two distributions over
    /// the same bins (scipy `spatial.distance.jensenshannon`).
    public static func jensenShannon(_ p: [Double], _ q: [Double]) -> Double {
        let sp = p.reduce(0, +), sq = q.reduce(0, +)
        var divergence = 0.0
        for (a, b) in zip(p, q) {
            let x = a / sp, y = b / sq, mid = (x + y) / 2
            if x > 0 { divergence += x * log(x / mid) }
            if y > 0 { divergence += y * log(y / mid) }
        }
        return max(0, divergence / 2).squareRoot()
    }

    /// A chi-square test of homogeneity on a 2 × k table (reference counts, current counts) as scipy's
    /// `chi2_contingency` does it: categories empty in both samples dropped, Yates' correction at one degree of freedom.
    public struct ChiSquare: Sendable, Equatable {
        public var statistic: Double
        public var pValue: Double
        public var degrees: Int
    }

    public static func chiSquare(reference: [Int], current: [Int]) -> ChiSquare {
        let pairs = zip(reference, current).filter { $0.0 + $0.1 > 0 }
        let degrees = pairs.count - 1
        let rowR = Double(pairs.reduce(0) { $0 + $1.0 }), rowC = Double(pairs.reduce(0) { $0 + $1.1 })
        let total = rowR + rowC
        guard degrees > 0, rowR > 0, rowC > 0 else { return ChiSquare(statistic: 0, pValue: 1, degrees: max(degrees, 0)) }
        var statistic = 0.0
        for (r, c) in pairs {
            let column = Double(r + c)
            for (observed, row) in [(Double(r), rowR), (Double(c), rowC)] {
                let expected = row * column / total
                var difference = abs(observed - expected)
                if degrees == 1 { difference = max(0, difference - min(0.5, difference)) }
                statistic += difference * difference / expected
            }
        }
        return ChiSquare(statistic: statistic, pValue: SpecialFunctions.chiSquareSurvival(statistic, degrees: degrees), degrees: degrees)
    }

    /// McNemar's exact two-sided test for paired yes/no outcomes: the binomial probability, at p = ½, of a split of
    /// the `b + c` discordant pairs at least as uneven as `b` against `c` (for example two models judged against one
    /// teacher on the same utterances).
    public static func mcNemar(_ b: Int, _ c: Int) -> Double {
        let n = b + c
        guard n > 0 else { return 1 }
        var tail = 0.0
        for i in 0...min(b, c) {
            tail += exp(lgamma(Double(n + 1)) - lgamma(Double(i + 1)) - lgamma(Double(n - i + 1)) - Double(n) * log(2.0))
        }
        return min(1, 2 * tail)
    }
}
