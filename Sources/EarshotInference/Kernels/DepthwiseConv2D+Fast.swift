internal import CEarshotKernels

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
        // Hoisted out of the loops: the optimiser then keeps them in registers.
        let (batches, outputHeight, outputWidth, strideH, strideW, padH, padW, dilationH, dilationW, filterHeight, filterWidth, inputHeight, inputWidth, input, filter, output, outputOffset, activationMin, activationMax) = (r.batches, r.outputHeight, r.outputWidth, r.strideH, r.strideW, r.padH, r.padW, r.dilationH, r.dilationW, r.filterHeight, r.filterWidth, r.inputHeight, r.inputWidth, r.input, r.filter, r.output, r.outputOffset, r.activationMin, r.activationMax)
        let depth = r.outputDepth, inputDepth = r.inputDepth, multiplier = r.depthMultiplier
        let offset = r.inputOffset
        let offset16 = Int16(truncatingIfNeeded: offset)
        let vectorized = depth % 8 == 0 && (multiplier == 1 || multiplier % 8 == 0)
        r.multipliers.withUnsafeBufferPointer { outputMultiplier in
        r.shifts.withUnsafeBufferPointer { outputShift in
            for b in 0..<batches {
                for oy in 0..<outputHeight {
                    let inYOrigin = oy * strideH - padH
                    // Filter rows whose input row lies inside the image.
                    let fyStart = max(0, (-inYOrigin + dilationH - 1) / dilationH)
                    let fyEnd = min(filterHeight, (inputHeight - inYOrigin + dilationH - 1) / dilationH)
                    for ox in 0..<outputWidth {
                        let inXOrigin = ox * strideW - padW
                        let fxStart = max(0, (-inXOrigin + dilationW - 1) / dilationW)
                        let fxEnd = min(filterWidth, (inputWidth - inXOrigin + dilationW - 1) / dilationW)
                        if vectorized && multiplier == 1 {
                            // One input channel per output channel: eight at a time, the accumulator kept in a register
                            // across all taps (measured faster here than the C kernel for the wake-word models' short filters).
                            var oc = 0
                            while oc < depth {
                                var sums = UnsafeRawPointer(biasOrZero + oc).loadUnaligned(as: SIMD8<Int32>.self)
                                if fyStart < fyEnd && fxStart < fxEnd {
                                    for fy in fyStart..<fyEnd {
                                        let inY = inYOrigin + dilationH * fy
                                        for fx in fxStart..<fxEnd {
                                            let inX = inXOrigin + dilationW * fx
                                            let x = input + ((b * inputHeight + inY) * inputWidth + inX) * inputDepth
                                            let w = filter + (fy * filterWidth + fx) * depth + oc
                                            // |w| ≤ 128 and |x + offset| ≤ 255, so each product fits in 16 bits: multiply in
                                            // int16 lanes (one instruction on every SIMD ISA), then widen and accumulate.
                                            let weights = SIMD8<Int16>(truncatingIfNeeded: UnsafeRawPointer(w).loadUnaligned(as: SIMD8<Int8>.self))
                                            let values = SIMD8<Int16>(truncatingIfNeeded: UnsafeRawPointer(x + oc).loadUnaligned(as: SIMD8<Int8>.self)) &+ offset16
                                            sums &+= SIMD8<Int32>(truncatingIfNeeded: weights &* values)
                                        }
                                    }
                                }
                                UnsafeMutableRawPointer(accumulators + oc).storeBytes(of: sums, as: SIMD8<Int32>.self)
                                oc += 8
                            }
                        } else if vectorized {
                            // Depth multiplier a multiple of 8 (eight output channels share one input channel, as in
                            // micro_speech's first layer): each C call runs one line of the valid filter window, two taps
                            // per pmaddwd on x86 (exact: |w| ≤ 128, |x + offset| ≤ 255). Lines run along the filter's rows,
                            // or along its column when it is one tap wide, so each call gets as many taps as possible.
                            accumulators.update(from: biasOrZero, count: depth)
                            if fyStart < fyEnd && fxStart < fxEnd {
                                let byColumn = fxEnd - fxStart == 1 && fyEnd - fyStart > 1
                                let lines = byColumn ? 1 : fyEnd - fyStart
                                let taps = byColumn ? fyEnd - fyStart : fxEnd - fxStart
                                let wStride = byColumn ? filterWidth * depth : depth
                                let xStride = byColumn ? dilationH * inputWidth * inputDepth : dilationW * inputDepth
                                let inX = inXOrigin + dilationW * fxStart
                                for line in 0..<lines {
                                    let fy = fyStart + line
                                    let inY = inYOrigin + dilationH * fy
                                    let x = input + ((b * inputHeight + inY) * inputWidth + inX) * inputDepth
                                    let w = filter + (fy * filterWidth + fxStart) * depth
                                    var oc = 0
                                    while oc < depth {
                                        earshot_depthwise_row8(accumulators + oc, w + oc, wStride,
                                                               x + oc / multiplier, xStride,
                                                               offset, taps, 1)
                                        oc += 8
                                    }
                                }
                            }
                        } else {
                            accumulators.update(from: biasOrZero, count: depth)
                            if fyStart < fyEnd && fxStart < fxEnd {
                                for fy in fyStart..<fyEnd {
                                    let inY = inYOrigin + dilationH * fy
                                    for fx in fxStart..<fxEnd {
                                        let inX = inXOrigin + dilationW * fx
                                        let x = input + ((b * inputHeight + inY) * inputWidth + inX) * inputDepth
                                        let w = filter + (fy * filterWidth + fx) * depth
                                        if multiplier == 1 {
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
                        }
                        let out = output + ((b * outputHeight + oy) * outputWidth + ox) * depth
                        for oc in 0..<depth {
                            var value = FixedPointMath.multiplyByQuantizedMultiplier(accumulators[oc], outputMultiplier[oc], outputShift[oc]) &+ outputOffset
                            value = min(max(value, activationMin), activationMax)
                            out[oc] = Int8(truncatingIfNeeded: value)
                        }
                    }
                }
            }
        }}
    }
}
