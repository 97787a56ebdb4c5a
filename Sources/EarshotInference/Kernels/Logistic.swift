import Foundation

/// LOGISTIC, int8 in and out (output scale 1/256, zero point −128), in gemmlowp fixed point
/// (TFLite `reference_integer_ops::Logistic`, as TFLM runs it).
final class LogisticKernel: Kernel {
    static let inputIntegerBits = 4
    let input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>, count: Int
    let inputZeroPoint: Int32, inputRangeRadius: Int32, inputMultiplier: Int32, inputLeftShift: Int

    init(_ c: KernelContext) throws(ModelError) {
        let input = try c.input(0), output = try c.output(0)
        try c.expect(input, [.int8], "input"); try c.expect(output, [.int8], "output")
        try c.expectQuantized(input, "input")
        guard output.zeroPoint == -128 else { throw c.unsupported("an int8 output zero point other than −128") }
        guard input.count == output.count else { throw c.error("input and output sizes differ") }
        let real = Double(input.scale) * Double(1 << (31 - Self.inputIntegerBits))
        let (fraction, exponent) = frexp(real)
        inputLeftShift = exponent
        inputMultiplier = Int32(truncatingIfNeeded: Int64((fraction * Double(Int64(1) << 31)).rounded(.toNearestOrAwayFromZero)))
        inputRangeRadius = FixedPointMath.inputRadius(integerBits: Self.inputIntegerBits, leftShift: exponent)
        inputZeroPoint = input.zeroPoint
        count = input.count
        self.input = UnsafePointer(input.pointer(Int8.self)); self.output = output.pointer(Int8.self)
    }

    func run() {
        for i in 0..<count {
            let x = Int32(input[i]) - inputZeroPoint
            if x <= -inputRangeRadius {
                output[i] = .min
            } else if x >= inputRangeRadius {
                output[i] = .max
            } else {
                let inQ4 = FixedPointMath.multiplyByQuantizedMultiplier(x, inputMultiplier, inputLeftShift)
                let inQ0 = FixedPointMath.logistic(inQ4, integerBits: Self.inputIntegerBits)
                let inQ23 = FixedPointMath.roundingDivideByPOT(inQ0, 31 - 8)
                output[i] = Int8(clamping: inQ23 &+ Int32(Int8.min))
            }
        }
    }
}
