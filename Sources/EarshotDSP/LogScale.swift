import Foundation

/// Fixed-point natural log of each channel, scaled by 2^scaleShift (TFLM's `LogScaleApply`).
///
/// log2 comes from the leading bit plus a 128-segment table with linear interpolation; ln = log2 × 45426 / 2^16.
public enum LogScale {
    /// Q16 correction table: round(2^16 · (log2(1 + i/128) − i/128)) for i in 0…128, plus one zero of padding.
    /// Adding it to the linear fraction turns a piecewise-linear log2 into a close approximation of the real one.
    static let table: [UInt16] = (0...129).map { i in
        guard i < 128 else { return 0 }
        let x = Double(i) / 128
        return UInt16((65_536 * (Foundation.log2(1 + x) - x)).rounded())
    }
    static let scaleLog2: UInt32 = 16
    static let segmentsLog2: UInt32 = 7
    /// ln(2) in Q16.
    static let lnTwo: UInt64 = 45_426

    /// The fractional part of log2(x) in Q16, for x with its top bit at `log2x`.
    @inline(__always)
    static func log2Fraction(_ x: UInt32, _ log2x: UInt32, _ lut: UnsafePointer<UInt16>) -> UInt32 {
        var fraction = Int32(truncatingIfNeeded: Int64(x) - (Int64(1) << Int64(log2x)))
        if log2x < scaleLog2 {
            fraction = fraction &<< Int32(scaleLog2 - log2x)
        } else {
            fraction = fraction >> Int32(log2x - scaleLog2)
        }
        let segment = UInt32(bitPattern: fraction) >> (scaleLog2 - segmentsLog2)
        let segmentUnit: Int32 = Int32((UInt32(1) << scaleLog2) >> segmentsLog2)
        let c0 = Int32(lut[Int(segment)])
        let c1 = Int32(lut[Int(segment) + 1])
        let segmentBase = segmentUnit &* Int32(bitPattern: segment)
        let relative = ((c1 &- c0) &* (fraction &- segmentBase)) >> Int32(scaleLog2)
        return UInt32(bitPattern: fraction &+ c0 &+ relative)
    }

    /// ln(x) · 2^scaleShift, rounded; x > 1.
    @inline(__always)
    static func log(_ x: UInt32, scaleShift: UInt32, _ lut: UnsafePointer<UInt16>) -> UInt32 {
        let integer = UInt32(Bits.mostSignificantBit(x) - 1)
        let fraction = log2Fraction(x, integer, lut)
        let log2 = (integer &<< scaleLog2) &+ fraction                       // Q16
        let round: UInt32 = 1 << (scaleLog2 - 1)
        let loge = UInt32(truncatingIfNeeded: (lnTwo &* UInt64(log2) &+ UInt64(round)) >> UInt64(scaleLog2))   // Q16
        return ((loge &<< scaleShift) &+ round) >> scaleLog2
    }

    /// Replaces each of `count` values with its scaled log (0 for values ≤ 1 after correction), saturating at 65535.
    /// - Parameter correctionBits: shift applied first (left if positive) to undo the filterbank's scaling.
    public static func apply(_ signal: UnsafeMutablePointer<UInt32>, count: Int, correctionBits: Int, scaleShift: Int,
                             into output: UnsafeMutablePointer<UInt16>) {
        table.withUnsafeBufferPointer { lut in
            for i in 0..<count {
                var value = signal[i]
                value = correctionBits < 0 ? value >> UInt32(-correctionBits) : value &<< UInt32(correctionBits)
                value = value > 1 ? log(value, scaleShift: UInt32(scaleShift), lut.baseAddress!) : 0
                output[i] = UInt16(min(value, 0xFFFF))
            }
        }
    }
}
