import Foundation

/// Per-channel automatic gain control (PCAN): divides each channel by a power of its noise estimate, then
/// compresses with a "shrink" curve. Matches TFLM's `PcanGainControlApply` and its lookup-table construction.
public final class PCANGainControl {
    /// Fractional bits of the SNR (`kPcanSnrBits`).
    public static let snrBits = 12
    /// Fractional bits of the output (`kPcanOutputBits`).
    public static let outputBits = 6
    /// Bits covered by the piecewise gain function (`kWideDynamicFunctionBits`).
    public static let wideDynamicBits = 32
    public let channelCount: Int
    /// Right shift taking signal × gain to Q(snrBits).
    public let snrShift: Int
    /// The gain function as TFLM lays it out: f(0), f(1), then per octave (value, slope, curvature, unused).
    public let gainTable: [Int16]

    /// Builds the table for `gain = 2^gainBits · (x + offset)^−strength`, x being the noise estimate as a float.
    /// - Parameters:
    ///   - smoothingBits: the noise reducer's extra estimate bits.
    ///   - inputCorrectionBits: log2(FFT size) − 1 − 6, the filterbank's leftover scale.
    public init(channelCount: Int, strength: Float, offset: Float, gainBits: Int, smoothingBits: Int, inputCorrectionBits: Int) {
        self.channelCount = channelCount
        snrShift = gainBits - inputCorrectionBits - Self.snrBits
        precondition(snrShift >= 0 && snrShift < 64, "PCAN gain bits \(gainBits) leave no valid SNR shift")
        let inputBits = smoothingBits - inputCorrectionBits
        func gain(_ x: UInt32) -> Int16 {
            let xAsFloat = Float(x) / Float(UInt32(1) << UInt32(inputBits))
            let value = Float(UInt32(1) << UInt32(gainBits)) * pow(xAsFloat + offset, -strength)
            if value > Float(Int16.max) { return .max }
            return Int16(value + 0.5)
        }
        var table = [Int16](repeating: 0, count: 4 * Self.wideDynamicBits - 3)
        table[0] = gain(0)
        table[1] = gain(1)
        for interval in 2...Self.wideDynamicBits {
            let x0 = UInt32(1) << UInt32(interval - 1)
            let x1 = x0 + (x0 >> 1)
            let x2 = interval == Self.wideDynamicBits ? x0 + (x0 - 1) : 2 * x0
            let y0 = gain(x0), y1 = gain(x1), y2 = gain(x2)
            let diff1 = Int32(y1) - Int32(y0), diff2 = Int32(y2) - Int32(y0)
            let a1 = 4 * diff1 - diff2
            let a2 = diff2 - a1
            let base = 4 * interval - 6
            table[base] = y0
            table[base + 1] = Int16(truncatingIfNeeded: a1)
            table[base + 2] = Int16(truncatingIfNeeded: a2)
        }
        gainTable = table
    }

    /// The gain for noise estimate `x` by piecewise quadratic interpolation (`WideDynamicFunction`).
    @inline(__always)
    static func wideDynamicFunction(_ x: UInt32, _ table: UnsafePointer<Int16>) -> Int16 {
        if x <= 2 { return table[Int(x)] }
        let interval = Bits.mostSignificantBit(x)
        let lut = table + (4 * interval - 6)
        let shifted = interval < 11 ? x &<< UInt32(11 - interval) : x >> UInt32(interval - 11)
        let fraction = Int32(Int16(truncatingIfNeeded: shifted) & 0x3FF)
        var result = (Int32(lut[2]) &* fraction) >> 5
        result = result &+ Int32(bitPattern: UInt32(bitPattern: Int32(lut[1])) &<< 5)
        result = result &* fraction
        result = (result &+ (1 << 14)) >> 15
        result = result &+ Int32(lut[0])
        return Int16(truncatingIfNeeded: result)
    }

    /// x²/4 below 2, x − 1 above, from Q12 to Q6 (`PcanShrink`).
    @inline(__always)
    static func shrink(_ x: UInt32) -> UInt32 {
        if x < (2 << UInt32(snrBits)) {
            return (x &* x) >> UInt32(2 + 2 * snrBits - outputBits)
        }
        return (x >> UInt32(snrBits - outputBits)) &- (1 << UInt32(outputBits))
    }

    /// Applies the gain in place, reading the noise estimate of the noise reducer.
    public func apply(_ signal: UnsafeMutablePointer<UInt32>, noiseEstimate: UnsafePointer<UInt32>) {
        gainTable.withUnsafeBufferPointer { table in
            for i in 0..<channelCount {
                let gain = UInt32(bitPattern: Int32(Self.wideDynamicFunction(noiseEstimate[i], table.baseAddress!)))
                let snr = UInt32(truncatingIfNeeded: (UInt64(signal[i]) &* UInt64(gain)) >> UInt64(snrShift))
                signal[i] = Self.shrink(snr)
            }
        }
    }
}
