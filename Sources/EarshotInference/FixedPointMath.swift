import Foundation

/// The integer arithmetic of TFLite's quantised kernels (gemmlowp's fixed-point library and
/// `tensorflow/lite/kernels/internal/common.h`), spelled out so results match bit for bit.
///
/// Fixed-point values are raw `Int32`s in Qm.(31−m); `m` is named `integerBits` where it matters.
/// C++ signed overflow in these helpers wraps on every target TFLite ships, so wrapping operators are used.
public enum FixedPointMath {
    /// `SaturatingRoundingDoublingHighMul` (ARM VQRDMULH): (a·b·2 + 2^31 rounding) >> 32, saturating the one overflow.
    @inline(__always)
    public static func doublingHighMul(_ a: Int32, _ b: Int32) -> Int32 {
        if a == b && a == .min { return .max }
        let product = Int64(a) * Int64(b)
        let nudge: Int64 = product >= 0 ? (1 << 30) : (1 - (1 << 30))
        return Int32(truncatingIfNeeded: (product + nudge) / (1 << 31))   // C division truncates toward zero
    }

    /// `RoundingDivideByPOT`: arithmetic right shift by `exponent` (0…31), rounding half away from zero.
    @inline(__always)
    public static func roundingDivideByPOT(_ x: Int32, _ exponent: Int) -> Int32 {
        let mask = Int32(truncatingIfNeeded: (Int64(1) << Int64(exponent)) - 1)
        let remainder = x & mask
        let threshold = (mask >> 1) &+ (x < 0 ? 1 : 0)
        return (x >> Int32(exponent)) &+ (remainder > threshold ? 1 : 0)
    }

    /// `SaturatingRoundingMultiplyByPOT`: × 2^exponent, saturating when shifting left, rounding when shifting right.
    @inline(__always)
    public static func multiplyByPOT(_ x: Int32, _ exponent: Int) -> Int32 {
        if exponent == 0 { return x }
        if exponent < 0 { return roundingDivideByPOT(x, -exponent) }
        let threshold = Int32((1 << (31 - exponent)) - 1)
        if x > threshold { return .max }
        if x < -threshold { return .min }
        return x &<< Int32(exponent)
    }

    /// `MultiplyByQuantizedMultiplier` (double rounding): x · multiplier · 2^shift, multiplier in Q0.31.
    @inline(__always)
    public static func multiplyByQuantizedMultiplier(_ x: Int32, _ multiplier: Int32, _ shift: Int) -> Int32 {
        let leftShift = shift > 0 ? shift : 0
        let rightShift = shift > 0 ? 0 : -shift
        return roundingDivideByPOT(doublingHighMul(x &* (1 &<< Int32(leftShift)), multiplier), rightShift)
    }

    /// `MultiplyByQuantizedMultiplier` built with `TFLITE_SINGLE_ROUNDING`: one rounding step, half up:
    /// (x · multiplier + 2^(30 − shift)) >> (31 − shift). LiteRT's reference FULLY_CONNECTED requantises this way.
    @inline(__always)
    public static func multiplyByQuantizedMultiplierSingleRounding(_ x: Int32, _ multiplier: Int32, _ shift: Int) -> Int32 {
        let totalShift = Int64(31 - shift)
        return Int32(truncatingIfNeeded: (Int64(x) * Int64(multiplier) + (Int64(1) << (totalShift - 1))) >> totalShift)
    }

    /// Requantises with the given rounding.
    @inline(__always)
    public static func requantize(_ x: Int32, _ multiplier: Int32, _ shift: Int, _ rounding: Rounding) -> Int32 {
        rounding == .double ? multiplyByQuantizedMultiplier(x, multiplier, shift) : multiplyByQuantizedMultiplierSingleRounding(x, multiplier, shift)
    }

    /// `MultiplyByQuantizedMultiplierSmallerThanOneExp`: the same with a non-positive shift.
    @inline(__always)
    public static func multiplyByQuantizedMultiplierSmallerThanOne(_ x: Int32, _ multiplier: Int32, _ shift: Int) -> Int32 {
        roundingDivideByPOT(doublingHighMul(x, multiplier), -shift)
    }

    /// `MultiplyByQuantizedMultiplierGreaterThanOne`: the same with a non-negative shift.
    @inline(__always)
    public static func multiplyByQuantizedMultiplierGreaterThanOne(_ x: Int32, _ multiplier: Int32, _ leftShift: Int) -> Int32 {
        doublingHighMul(x &* (1 &<< Int32(leftShift)), multiplier)
    }

    /// `QuantizeMultiplier`: splits a positive real multiplier into a Q0.31 significand and a power-of-two shift.
    public static func quantizeMultiplier(_ value: Double) -> (multiplier: Int32, shift: Int) {
        if value == 0 { return (0, 0) }
        let exponentAndFraction = frexp(value)
        var shift = exponentAndFraction.1
        var fixed = Int64((exponentAndFraction.0 * Double(Int64(1) << 31)).rounded(.toNearestOrAwayFromZero))
        if fixed == Int64(1) << 31 {
            fixed /= 2
            shift += 1
        }
        if shift < -31 {
            shift = 0
            fixed = 0
        }
        return (Int32(truncatingIfNeeded: fixed), shift)
    }

    /// `CalculateInputRadius`: the largest input difference whose rescaled value still fits.
    public static func inputRadius(integerBits: Int, leftShift: Int, totalSignedBits: Int = 31) -> Int32 {
        let maxRescaled = 1.0 * Double((1 << integerBits) - 1) * Double(Int64(1) << Int64(totalSignedBits - integerBits))
            / Double(Int64(1) << Int64(leftShift))
        return Int32(floor(maxRescaled))
    }

    /// `RoundingHalfSum` for Int32: (a + b) / 2 rounded half away from zero.
    @inline(__always)
    static func roundingHalfSum(_ a: Int32, _ b: Int32) -> Int32 {
        let sum = Int64(a) + Int64(b)
        let sign: Int64 = sum >= 0 ? 1 : -1
        return Int32(truncatingIfNeeded: (sum + sign) / 2)
    }

    /// exp(a) for a in [−1/4, 0), Q0.31 in and out (Taylor series around −1/8).
    static func expOnIntervalBetweenNegativeOneQuarterAndZero(_ a: Int32) -> Int32 {
        let constantTerm: Int32 = 1_895_147_668       // exp(−1/8)
        let oneThird: Int32 = 715_827_883
        let x = a &+ (1 << 28)                         // a + 1/8
        let x2 = doublingHighMul(x, x)
        let x3 = doublingHighMul(x2, x)
        let x4 = doublingHighMul(x2, x2)
        let x4Over4 = multiplyByPOT(x4, -2)
        let polynomial = multiplyByPOT(doublingHighMul(x4Over4 &+ x3, oneThird) &+ x2, -1)
        return constantTerm &+ doublingHighMul(constantTerm, x &+ polynomial)
    }

    /// exp(a) for a ≤ 0; `a` in Q`integerBits`, result in Q0.31 (gemmlowp `exp_on_negative_values`).
    public static func expOnNegativeValues(_ a: Int32, integerBits: Int) -> Int32 {
        let fractionalBits = 31 - integerBits
        let oneQuarter = Int32(1) << Int32(fractionalBits - 2)
        let mask = oneQuarter &- 1
        let aModQuarterMinusOneQuarter = (a & mask) &- oneQuarter
        var result = expOnIntervalBetweenNegativeOneQuarterAndZero(multiplyByPOT(aModQuarterMinusOneQuarter, integerBits))
        let remainder = aModQuarterMinusOneQuarter &- a
        let barrel: [(Int, Int32)] = [(-2, 1_672_461_947), (-1, 1_302_514_674), (0, 790_015_084), (1, 290_630_308),
                                      (2, 39_332_535), (3, 720_401), (4, 242)]
        for (exponent, multiplier) in barrel where integerBits > exponent {
            let shift = fractionalBits + exponent
            if remainder & (Int32(1) &<< Int32(shift)) != 0 { result = doublingHighMul(result, multiplier) }
        }
        if integerBits > 5 {
            let clamp = -(Int32(1) << Int32(36 - integerBits))     // −32.0
            if a < clamp { result = 0 }
        }
        if a == 0 { result = .max }
        return result
    }

    /// 1 / (1 + x) for x in (0, 1), Q0.31 in and out, by three Newton–Raphson steps.
    public static func oneOverOnePlusX(_ a: Int32) -> Int32 {
        let halfDenominator = roundingHalfSum(a, .max)
        let fortyEightOver17: Int32 = 1_515_870_810        // Q2.29
        let minusThirtyTwoOver17: Int32 = -1_010_580_540   // Q2.29
        var x = fortyEightOver17 &+ doublingHighMul(halfDenominator, minusThirtyTwoOver17)
        let oneQ2: Int32 = 1 << 29
        for _ in 0..<3 {
            let halfDenominatorTimesX = doublingHighMul(halfDenominator, x)
            let oneMinus = oneQ2 &- halfDenominatorTimesX
            x = x &+ multiplyByPOT(doublingHighMul(x, oneMinus), 2)   // Q4 → Q2
        }
        return multiplyByPOT(x, 1)                                     // x/2 in Q1 → Q0
    }

    /// logistic(a) = 1 / (1 + e^−a); `a` in Q`integerBits`, result Q0.31.
    public static func logistic(_ a: Int32, integerBits: Int) -> Int32 {
        if a == 0 { return 1 << 30 }
        let absolute = a > 0 ? a : 0 &- a
        let positive = oneOverOnePlusX(expOnNegativeValues(0 &- absolute, integerBits: integerBits))
        return a > 0 ? positive : Int32.max &- positive
    }

    /// `GetReciprocal`: 1/x for x in Q`integerDigits`, as a Q0.31 scale and the bits above one.
    public static func reciprocal(_ x: Int32, integerDigits: Int) -> (scale: Int32, bitsOverUnit: Int) {
        let headroomPlusOne = UInt32(bitPattern: x).leadingZeroBitCount
        let bitsOverUnit = integerDigits - headroomPlusOne
        let shiftedSumMinusOne = Int32(bitPattern: (UInt32(bitPattern: x) &<< UInt32(headroomPlusOne)) &- (UInt32(1) << 31))
        return (oneOverOnePlusX(shiftedSumMinusOne), bitsOverUnit)
    }
}
