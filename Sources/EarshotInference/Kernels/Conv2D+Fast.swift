/// CONV_2D, the fast variant: weights transposed once to [kh][kw][ic][oc] so the inner loop runs over contiguous
/// output channels, and the valid filter window is computed per output pixel. Exact integer arithmetic: equals the
/// reference bit for bit (tested).
final class FastConv2DKernel: Kernel {
    let reference: Conv2DKernel
    let weights: UnsafeMutablePointer<Int8>          // [kh][kw][ic][oc] (ic within the group)
    let accumulators: UnsafeMutablePointer<Int32>
    let biasOrZero: UnsafeMutablePointer<Int32>

    init(_ c: KernelContext) throws(ModelError) {
        reference = try Conv2DKernel(c)
        let r = reference
        let count = r.outputDepth * r.filterHeight * r.filterWidth * r.filterInputDepth
        weights = .allocate(capacity: max(1, count))
        for oc in 0..<r.outputDepth {
            for fy in 0..<r.filterHeight {
                for fx in 0..<r.filterWidth {
                    for ic in 0..<r.filterInputDepth {
                        weights[((fy * r.filterWidth + fx) * r.filterInputDepth + ic) * r.outputDepth + oc] =
                            r.filter[((oc * r.filterHeight + fy) * r.filterWidth + fx) * r.filterInputDepth + ic]
                    }
                }
            }
        }
        accumulators = .allocate(capacity: max(1, r.outputDepth))
        biasOrZero = .allocate(capacity: max(1, r.outputDepth))
        for oc in 0..<r.outputDepth { biasOrZero[oc] = r.bias?[oc] ?? 0 }
    }

    deinit {
        weights.deallocate()
        accumulators.deallocate()
        biasOrZero.deallocate()
    }

    func run() {
        let r = reference
        let depth = r.outputDepth
        let groups = r.inputDepth / r.filterInputDepth
        let perGroup = depth / groups
        let offset = r.inputOffset
        r.multipliers.withUnsafeBufferPointer { outputMultiplier in
        r.shifts.withUnsafeBufferPointer { outputShift in
            for b in 0..<r.batches {
                for oy in 0..<r.outputHeight {
                    let inYOrigin = oy * r.strideH - r.padH
                    let fyStart = max(0, (-inYOrigin + r.dilationH - 1) / r.dilationH)
                    let fyEnd = min(r.filterHeight, (r.inputHeight - inYOrigin + r.dilationH - 1) / r.dilationH)
                    for ox in 0..<r.outputWidth {
                        let inXOrigin = ox * r.strideW - r.padW
                        let fxStart = max(0, (-inXOrigin + r.dilationW - 1) / r.dilationW)
                        let fxEnd = min(r.filterWidth, (r.inputWidth - inXOrigin + r.dilationW - 1) / r.dilationW)
                        accumulators.update(from: biasOrZero, count: depth)
                        if fyStart < fyEnd && fxStart < fxEnd {
                            for fy in fyStart..<fyEnd {
                                let inY = inYOrigin + r.dilationH * fy
                                for fx in fxStart..<fxEnd {
                                    let inX = inXOrigin + r.dilationW * fx
                                    let x = r.input + ((b * r.inputHeight + inY) * r.inputWidth + inX) * r.inputDepth
                                    let tap = weights + (fy * r.filterWidth + fx) * r.filterInputDepth * depth
                                    for g in 0..<groups {
                                        let first = g * perGroup
                                        for ic in 0..<r.filterInputDepth {
                                            let value = Int32(x[g * r.filterInputDepth + ic]) &+ offset
                                            let w = tap + ic * depth
                                            for oc in first..<(first + perGroup) { accumulators[oc] &+= Int32(w[oc]) &* value }
                                        }
                                    }
                                }
                            }
                        }
                        let out = r.output + ((b * r.outputHeight + oy) * r.outputWidth + ox) * depth
                        for oc in 0..<depth {
                            var value = FixedPointMath.multiplyByQuantizedMultiplier(accumulators[oc], outputMultiplier[oc], outputShift[oc]) &+ r.outputOffset
                            value = min(max(value, r.activationMin), r.activationMax)
                            out[oc] = Int8(truncatingIfNeeded: value)
                        }
                    }
                }
            }
        }}
    }
}
