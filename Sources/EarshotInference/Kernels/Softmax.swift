/// SOFTMAX, int8 in and out (output scale 1/256, zero point −128), in gemmlowp fixed point
/// (TFLite `reference_ops::Softmax` with `PreprocessSoftmaxScaling`).
final class SoftmaxKernel: Kernel {
    static let scaledDiffIntegerBits = 5
    static let accumulationIntegerBits = 12
    let input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>
    let outerSize: Int, depth: Int
    let inputMultiplier: Int32, inputLeftShift: Int, diffMin: Int32

    init(_ c: KernelContext) throws(ModelError) {
        let input = try c.input(0), output = try c.output(0)
        try c.expect(input, [.int8], "input"); try c.expect(output, [.int8], "output")
        try c.expectQuantized(input, "input")
        guard output.zeroPoint == -128, abs(output.scale - 1.0 / 256) < 1e-9 else {
            throw c.unsupported("an int8 output quantisation other than scale 1/256, zero point −128")
        }
        guard input.count == output.count, !input.shape.isEmpty else { throw c.error("input and output sizes differ") }
        depth = input.dimension(-1)
        outerSize = depth == 0 ? 0 : input.count / depth
        let beta = c.options == nil ? Float(1) : try c.floatOption(0, default: 0)
        // PreprocessSoftmaxScaling: beta·scale as Q(31−5) multiplier, capped below 2^31.
        let real = min(Double(beta) * Double(input.scale) * Double(1 << (31 - Self.scaledDiffIntegerBits)), Double((Int64(1) << 31) - 1))
        guard real > 1 else { throw c.unsupported("a beta × input scale this small") }
        let (multiplier, shift) = FixedPointMath.quantizeMultiplier(real)
        inputMultiplier = multiplier
        inputLeftShift = shift
        diffMin = -FixedPointMath.inputRadius(integerBits: Self.scaledDiffIntegerBits, leftShift: shift)
        self.input = UnsafePointer(input.pointer(Int8.self)); self.output = output.pointer(Int8.self)
    }

    func run() {
        for row in 0..<outerSize {
            let x = input + row * depth, y = output + row * depth
            var maximum = Int32(Int8.min)
            for i in 0..<depth { maximum = max(maximum, Int32(x[i])) }
            var sumOfExps: Int32 = 0                                              // Q12.19
            for i in 0..<depth {
                let diff = Int32(x[i]) - maximum
                if diff >= diffMin {
                    let scaled = FixedPointMath.multiplyByQuantizedMultiplierGreaterThanOne(diff, inputMultiplier, inputLeftShift)
                    let exp = FixedPointMath.expOnNegativeValues(scaled, integerBits: Self.scaledDiffIntegerBits)   // Q0.31
                    sumOfExps &+= FixedPointMath.multiplyByPOT(exp, -Self.accumulationIntegerBits)
                }
            }
            let (scale, bitsOverUnit) = FixedPointMath.reciprocal(sumOfExps, integerDigits: Self.accumulationIntegerBits)
            for i in 0..<depth {
                let diff = Int32(x[i]) - maximum
                if diff >= diffMin {
                    let scaled = FixedPointMath.multiplyByQuantizedMultiplierGreaterThanOne(diff, inputMultiplier, inputLeftShift)
                    let exp = FixedPointMath.expOnNegativeValues(scaled, integerBits: Self.scaledDiffIntegerBits)
                    let unsaturated = FixedPointMath.roundingDivideByPOT(FixedPointMath.doublingHighMul(scale, exp), bitsOverUnit + 31 - 8)
                    y[i] = Int8(clamping: unsaturated &+ Int32(Int8.min))
                } else {
                    y[i] = .min
                }
            }
        }
    }
}
