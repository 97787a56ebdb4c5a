/// FULLY_CONNECTED, the fast variant: Σ(w + wo)(x + xo) = Σw·x + xo·Σw + wo·Σx + n·wo·xo, with Σw precomputed at
/// load, so the inner loop is a plain int8 dot product the compiler vectorises. Exact: equals the reference (tested).
final class FastFullyConnectedKernel: Kernel {
    let reference: FullyConnectedKernel
    let rowTerms: UnsafeMutablePointer<Int32>     // bias + xo·Σw + n·wo·xo per output

    init(_ c: KernelContext) throws(ModelError) {
        reference = try FullyConnectedKernel(c)
        let r = reference
        rowTerms = .allocate(capacity: max(1, r.outputDepth))
        for o in 0..<r.outputDepth {
            var sum: Int32 = 0
            for d in 0..<r.accumulationDepth { sum &+= Int32(r.filter[o * r.accumulationDepth + d]) }
            rowTerms[o] = (r.bias?[o] ?? 0) &+ r.inputOffset &* sum &+ Int32(r.accumulationDepth) &* r.filterOffset &* r.inputOffset
        }
    }

    deinit { rowTerms.deallocate() }

    /// Σ a[i]·b[i] for int8 vectors: sixteen lanes at a time, then the tail.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ count: Int) -> Int32 {
        var lanes = SIMD16<Int32>()
        var d = 0
        while d + 16 <= count {
            // int8 × int8 fits in int16: multiply in 16-bit lanes, then widen and accumulate.
            let x = SIMD16<Int16>(truncatingIfNeeded: UnsafeRawPointer(a + d).loadUnaligned(as: SIMD16<Int8>.self))
            let y = SIMD16<Int16>(truncatingIfNeeded: UnsafeRawPointer(b + d).loadUnaligned(as: SIMD16<Int8>.self))
            lanes &+= SIMD16<Int32>(truncatingIfNeeded: x &* y)
            d += 16
        }
        var sum = lanes.wrappedSum()
        while d < count {
            sum &+= Int32(a[d]) &* Int32(b[d])
            d += 1
        }
        return sum
    }

    func run() {
        let r = reference
        let depth = r.accumulationDepth
        r.multipliers.withUnsafeBufferPointer { multiplier in
        r.shifts.withUnsafeBufferPointer { shift in
            for b in 0..<r.batches {
                let row = r.input + b * depth
                var inputSum: Int32 = 0
                if r.filterOffset != 0 { for d in 0..<depth { inputSum &+= Int32(row[d]) } }
                for o in 0..<r.outputDepth {
                    var accumulator = Self.dot(r.filter + o * depth, row, depth) &+ rowTerms[o]
                    if r.filterOffset != 0 { accumulator &+= r.filterOffset &* inputSum }
                    var value = FixedPointMath.requantize(accumulator, multiplier[o], shift[o], r.rounding) &+ r.outputOffset
                    value = min(max(value, r.activationMin), r.activationMax)
                    r.output[b * r.outputDepth + o] = Int8(truncatingIfNeeded: value)
                }
            }
        }}
    }
}
