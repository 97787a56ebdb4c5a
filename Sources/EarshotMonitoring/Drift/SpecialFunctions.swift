import Foundation

/// The few special functions the drift tests need for p-values, in Double, accurate to about 1e-13 relative where the
/// drift engine uses them (checked against scipy in EarshotCollectorTests).
enum SpecialFunctions {
    /// The regularised upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a): the chi-square survival function is
    /// Q(k / 2, x / 2). A power series below x = a + 1, a Lentz continued fraction above (where Q is small and the
    /// fraction keeps its relative accuracy).
    static func upperGammaQ(_ a: Double, _ x: Double) -> Double {
        precondition(a > 0, "the gamma shape must be positive")
        if x <= 0 { return 1 }
        if x.isInfinite { return 0 }
        let logPrefix = a * log(x) - x - lgamma(a)
        if x < a + 1 {
            // P(a, x) = e^{-x} x^a / Γ(a + 1) · Σ_n x^n / ((a + 1) ⋯ (a + n))
            var term = 1.0 / a
            var sum = term
            var denominator = a
            for _ in 0..<10_000 {
                denominator += 1
                term *= x / denominator
                sum += term
                if abs(term) < abs(sum) * 1e-17 { break }
            }
            return max(0, 1 - sum * exp(logPrefix))
        }
        // Q(a, x) = e^{-x} x^a / Γ(a) · 1 / (x + 1 - a - 1·(1 - a) / (x + 3 - a - 2·(2 - a) / (x + 5 - a - …)))
        let tiny = 1e-300
        var b = x + 1 - a
        var c = 1 / tiny
        var d = 1 / b
        var fraction = d
        for i in 1..<10_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            fraction *= delta
            if abs(delta - 1) < 1e-16 { break }
        }
        return exp(logPrefix) * fraction
    }

    /// The chi-square distribution's survival function with `degrees` degrees of freedom (scipy `chi2.sf`).
    static func chiSquareSurvival(_ x: Double, degrees: Int) -> Double {
        degrees <= 0 ? 1 : upperGammaQ(Double(degrees) / 2, x / 2)
    }

    /// The limiting Kolmogorov distribution's survival function, P(K > λ) = 2 Σ_{k≥1} (-1)^{k-1} e^{-2 k² λ²}
    /// (scipy `kstwobign.sf`); below λ = 1 the equivalent theta-function form converges faster.
    static func kolmogorovSurvival(_ lambda: Double) -> Double {
        if lambda <= 0 { return 1 }
        if lambda < 1 {
            // P(K ≤ λ) = √(2π) / λ · Σ_{k≥1} e^{-(2k-1)² π² / (8 λ²)}
            var sum = 0.0
            for k in 1...20 {
                let odd = Double(2 * k - 1)
                sum += exp(-odd * odd * Double.pi * Double.pi / (8 * lambda * lambda))
            }
            return max(0, min(1, 1 - (2 * Double.pi).squareRoot() / lambda * sum))
        }
        var sum = 0.0
        var sign = 1.0
        for k in 1...100 {
            let term = exp(-2 * Double(k * k) * lambda * lambda)
            sum += sign * term
            if term < 1e-17 * sum { break }
            sign = -sign
        }
        return max(0, min(1, 2 * sum))
    }
}
