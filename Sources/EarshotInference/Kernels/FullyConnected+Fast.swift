internal import CEarshotKernels

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

    /// Σ a[i]·b[i] for int8 vectors, by the hand-vectorised C loop (pmaddwd on SSE2, vmull/vpadal on NEON).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ count: Int) -> Int32 {
        earshot_dot_i8(a, b, count)
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
