/// DEPTHWISE_CONV_2D, the fast variant: same arithmetic as `DepthwiseConv2DKernel`, reordered so the inner loop
/// runs over contiguous channels with no bounds checks (the valid filter window is computed per output pixel).
/// Integer arithmetic is exact, so results equal the reference bit for bit (tested).
final class FastDepthwiseConv2DKernel: Kernel {
    let reference: DepthwiseConv2DKernel
    let accumulators: UnsafeMutablePointer<Int32>
    let biasOrZero: UnsafeMutablePointer<Int32>

    init(_ c: KernelContext) throws(ModelError) {
        reference = try DepthwiseConv2DKernel(c)
        accumulators = .allocate(capacity: max(1, reference.outputDepth))
        biasOrZero = .allocate(capacity: max(1, reference.outputDepth))
        for oc in 0..<reference.outputDepth { biasOrZero[oc] = reference.bias?[oc] ?? 0 }
    }

    deinit {
        accumulators.deallocate()
        biasOrZero.deallocate()
    }

    func run() {
        let r = reference
        let depth = r.outputDepth, inputDepth = r.inputDepth, multiplier = r.depthMultiplier
        let offset = r.inputOffset
        let vectorized = depth % 8 == 0
        r.multipliers.withUnsafeBufferPointer { outputMultiplier in
        r.shifts.withUnsafeBufferPointer { outputShift in
            for b in 0..<r.batches {
                for oy in 0..<r.outputHeight {
                    let inYOrigin = oy * r.strideH - r.padH
                    // Filter rows whose input row lies inside the image.
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
                                    let x = r.input + ((b * r.inputHeight + inY) * r.inputWidth + inX) * inputDepth
                                    let w = r.filter + (fy * r.filterWidth + fx) * depth
                                    if vectorized {
                                        // Eight output channels at a time: widen int8 to int32 lanes and multiply-add.
                                        var oc = 0
                                        while oc < depth {
                                            let weights = SIMD8<Int32>(truncatingIfNeeded: UnsafeRawPointer(w + oc).loadUnaligned(as: SIMD8<Int8>.self))
                                            var values = SIMD8<Int32>()
                                            for lane in 0..<8 { values[lane] = Int32(x[(oc + lane) / multiplier]) &+ offset }
                                            let sums = UnsafeMutableRawPointer(accumulators + oc)
                                            sums.storeBytes(of: sums.loadUnaligned(as: SIMD8<Int32>.self) &+ weights &* values, as: SIMD8<Int32>.self)
                                            oc += 8
                                        }
                                    } else if multiplier == 1 {
                                        for ic in 0..<inputDepth {
                                            accumulators[ic] &+= Int32(w[ic]) &* (Int32(x[ic]) &+ offset)
                                        }
                                    } else {
                                        for ic in 0..<inputDepth {
                                            let value = Int32(x[ic]) &+ offset
                                            let base = ic * multiplier
                                            for m in 0..<multiplier { accumulators[base + m] &+= Int32(w[base + m]) &* value }
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
