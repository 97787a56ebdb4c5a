/// ADD and MUL on int8 with NumPy-style broadcasting (TFLite `reference_integer_ops::Add` / `Mul`).
final class ElementwiseKernel: Kernel {
    enum Operation { case add, mul }
    let operation: Operation
    let a: UnsafePointer<Int8>, b: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>
    let indexA: [Int32], indexB: [Int32]
    let offsetA: Int32, offsetB: Int32, outputOffset: Int32
    let leftShift = 20
    let multiplierA: Int32, shiftA: Int, multiplierB: Int32, shiftB: Int, outputMultiplier: Int32, outputShift: Int
    let activationMin: Int32, activationMax: Int32

    init(_ c: KernelContext, operation: Operation) throws(ModelError) {
        self.operation = operation
        let a = try c.input(0), b = try c.input(1), output = try c.output(0)
        for (tensor, role) in [(a, "input 1"), (b, "input 2"), (output, "output")] {
            try c.expect(tensor, [.int8], role); try c.expectQuantized(tensor, role)
        }
        (indexA, indexB) = try broadcastIndices(c, a.shape, b.shape, output.shape)
        offsetA = -a.zeroPoint; offsetB = -b.zeroPoint; outputOffset = output.zeroPoint
        switch operation {
        case .add:
            let twiceMax = 2 * Double(max(a.scale, b.scale))
            (multiplierA, shiftA) = FixedPointMath.quantizeMultiplier(Double(a.scale) / twiceMax)
            (multiplierB, shiftB) = FixedPointMath.quantizeMultiplier(Double(b.scale) / twiceMax)
            (outputMultiplier, outputShift) = FixedPointMath.quantizeMultiplier(twiceMax / (Double(1 << leftShift) * Double(output.scale)))
        case .mul:
            (multiplierA, shiftA, multiplierB, shiftB) = (0, 0, 0, 0)
            (outputMultiplier, outputShift) = FixedPointMath.quantizeMultiplier(Double(a.scale) * Double(b.scale) / Double(output.scale))
        }
        (activationMin, activationMax) = try activationRange(try c.activation(0), output: output)
        self.a = UnsafePointer(a.pointer(Int8.self)); self.b = UnsafePointer(b.pointer(Int8.self)); self.output = output.pointer(Int8.self)
    }

    func run() {
        indexA.withUnsafeBufferPointer { ia in
        indexB.withUnsafeBufferPointer { ib in
            for i in 0..<ia.count {
                let x = offsetA &+ Int32(a[Int(ia[i])]), y = offsetB &+ Int32(b[Int(ib[i])])
                var value: Int32
                switch operation {
                case .add:
                    let scaledX = FixedPointMath.multiplyByQuantizedMultiplierSmallerThanOne(x &* (1 << Int32(leftShift)), multiplierA, shiftA)
                    let scaledY = FixedPointMath.multiplyByQuantizedMultiplierSmallerThanOne(y &* (1 << Int32(leftShift)), multiplierB, shiftB)
                    value = FixedPointMath.multiplyByQuantizedMultiplierSmallerThanOne(scaledX &+ scaledY, outputMultiplier, outputShift) &+ outputOffset
                case .mul:
                    value = outputOffset &+ FixedPointMath.multiplyByQuantizedMultiplier(x &* y, outputMultiplier, outputShift)
                }
                output[i] = Int8(truncatingIfNeeded: min(max(value, activationMin), activationMax))
            }
        }}
    }
}

/// For each output element, the flat index of the element it reads in `a` and in `b` (NumPy broadcasting).
func broadcastIndices(_ c: KernelContext, _ a: [Int], _ b: [Int], _ out: [Int]) throws(ModelError) -> ([Int32], [Int32]) {
    let rank = max(a.count, b.count)
    let pa = [Int](repeating: 1, count: rank - a.count) + a, pb = [Int](repeating: 1, count: rank - b.count) + b
    var shape: [Int] = []
    for d in 0..<rank {
        guard pa[d] == pb[d] || pa[d] == 1 || pb[d] == 1 else { throw c.error("shapes \(a) and \(b) do not broadcast") }
        shape.append(max(pa[d], pb[d]))
    }
    guard shape.reduce(1, *) == out.reduce(1, *) else { throw c.error("output \(out) is not the broadcast of \(a) and \(b)") }
    func strides(_ s: [Int]) -> [Int] {
        var result = [Int](repeating: 0, count: rank), step = 1
        for d in stride(from: rank - 1, through: 0, by: -1) { result[d] = s[d] == 1 ? 0 : step; step *= s[d] }
        return result
    }
    let sa = strides(pa), sb = strides(pb)
    let total = shape.reduce(1, *)
    var ia = [Int32](repeating: 0, count: total), ib = [Int32](repeating: 0, count: total)
    var counter = [Int](repeating: 0, count: rank)
    var offsetA = 0, offsetB = 0
    for i in 0..<total {
        ia[i] = Int32(offsetA); ib[i] = Int32(offsetB)
        var d = rank - 1
        while d >= 0 {
            counter[d] += 1; offsetA += sa[d]; offsetB += sb[d]
            if counter[d] < shape[d] { break }
            offsetA -= sa[d] * shape[d]; offsetB -= sb[d] * shape[d]; counter[d] = 0
            d -= 1
        }
    }
    return (ia, ib)
}
