/// FULLY_CONNECTED, int8 × int8 → int8 with int32 bias; per-tensor or per-channel weights
/// (TFLite `reference_integer_ops::FullyConnected[PerChannel]`).
final class FullyConnectedKernel: Kernel {
    let input: UnsafePointer<Int8>, filter: UnsafePointer<Int8>, bias: UnsafePointer<Int32>?, output: UnsafeMutablePointer<Int8>
    let batches: Int, accumulationDepth: Int, outputDepth: Int
    let inputOffset: Int32, filterOffset: Int32, outputOffset: Int32
    let multipliers: [Int32], shifts: [Int]
    let activationMin: Int32, activationMax: Int32
    let rounding: Rounding

    init(_ c: KernelContext) throws(ModelError) {
        rounding = c.interpreter.compatibility.fullyConnectedRounding
        let input = try c.input(0), filter = try c.input(1), output = try c.output(0)
        try c.expect(input, [.int8], "input"); try c.expect(filter, [.int8], "weights"); try c.expect(output, [.int8], "output")
        try c.expectQuantized(input, "input"); try c.expectQuantized(output, "output")
        guard filter.shape.count == 2 else { throw c.error("weights must be 2-D, got \(filter.shape)") }
        let weightsFormat: Int8 = try c.option(1, default: 0)
        guard weightsFormat == 0 else { throw c.unsupported("shuffled weights") }
        outputDepth = filter.shape[0]
        accumulationDepth = filter.shape[1]
        guard accumulationDepth > 0, input.count % accumulationDepth == 0 else {
            throw c.error("input \(input.shape) does not divide into rows of \(accumulationDepth)")
        }
        batches = input.count / accumulationDepth
        guard output.count == batches * outputDepth else { throw c.error("output \(output.shape) is not \(batches) × \(outputDepth)") }
        (bias, multipliers, shifts, inputOffset, outputOffset, activationMin, activationMax) = try outputStage(
            c, input: input, filter: filter, output: output, channels: outputDepth, activationOption: 0)
        filterOffset = -filter.zeroPoint
        self.input = UnsafePointer(input.pointer(Int8.self)); self.filter = UnsafePointer(filter.pointer(Int8.self))
        self.output = output.pointer(Int8.self)
    }

    func run() {
        multipliers.withUnsafeBufferPointer { multiplier in
        shifts.withUnsafeBufferPointer { shift in
            for b in 0..<batches {
                let row = input + b * accumulationDepth
                for o in 0..<outputDepth {
                    let weights = filter + o * accumulationDepth
                    var accumulator: Int32 = 0
                    for d in 0..<accumulationDepth {
                        // int8 + offset fits int16; the product fits int32 for any realistic depth
                        accumulator &+= (Int32(weights[d]) &+ filterOffset) &* (Int32(row[d]) &+ inputOffset)
                    }
                    if let bias { accumulator &+= bias[o] }
                    var value = FixedPointMath.requantize(accumulator, multiplier[o], shift[o], rounding) &+ outputOffset
                    value = min(max(value, activationMin), activationMax)
                    output[b * outputDepth + o] = Int8(truncatingIfNeeded: value)
                }
            }
        }}
    }
}
