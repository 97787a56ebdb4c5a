internal import CEarshotKernels

/// CONV_2D, the fast variant: weights transposed once to [kh][kw][ic][oc] so the inner loop runs over contiguous
/// output channels, and the valid filter window is computed per output pixel. A 1×1 convolution without padding (the
/// pointwise half of a depthwise-separable block) is a matrix product instead: one int8 dot product per output
/// channel by the C kernel, with the input offset folded into the bias (Σ(x + o)·w = Σx·w + o·Σw, exact in
/// wrapping int32). Exact integer arithmetic either way: equals the reference bit for bit (tested).
final class FastConv2DKernel: Kernel {
    let reference: Conv2DKernel
    let weights: UnsafeMutablePointer<Int8>          // [kh][kw][ic][oc] (ic within the group)
    let accumulators: UnsafeMutablePointer<Int32>
    let biasOrZero: UnsafeMutablePointer<Int32>
    /// For 1×1 unpadded convolutions: bias + inputOffset · Σ w, per output channel; nil otherwise.
    let pointwiseBias: UnsafeMutablePointer<Int32>?

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
        if r.filterHeight == 1 && r.filterWidth == 1 && r.padH == 0 && r.padW == 0 && r.filterInputDepth == r.inputDepth {
            let folded = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, r.outputDepth))
            for oc in 0..<r.outputDepth {
                var sum: Int32 = 0
                for ic in 0..<r.inputDepth { sum &+= Int32(r.filter[oc * r.inputDepth + ic]) }
                folded[oc] = biasOrZero[oc] &+ r.inputOffset &* sum
            }
            pointwiseBias = folded
        } else {
            pointwiseBias = nil
        }
    }

    deinit {
        weights.deallocate()
        accumulators.deallocate()
        biasOrZero.deallocate()
        pointwiseBias?.deallocate()
    }

    func run() {
        if let pointwiseBias { runPointwise(pointwiseBias); return }
        let r = reference
        // Hoisted out of the loops: the optimiser then keeps them in registers.
        let (batches, outputHeight, outputWidth, strideH, strideW, padH, padW, dilationH, dilationW, filterHeight, filterWidth, inputHeight, inputWidth, input, output, outputOffset, activationMin, activationMax, filterInputDepth, inputDepth) = (r.batches, r.outputHeight, r.outputWidth, r.strideH, r.strideW, r.padH, r.padW, r.dilationH, r.dilationW, r.filterHeight, r.filterWidth, r.inputHeight, r.inputWidth, r.input, r.output, r.outputOffset, r.activationMin, r.activationMax, r.filterInputDepth, r.inputDepth)
        let depth = r.outputDepth
        let groups = inputDepth / filterInputDepth
        let perGroup = depth / groups
        let offset = r.inputOffset
        r.multipliers.withUnsafeBufferPointer { outputMultiplier in
        r.shifts.withUnsafeBufferPointer { outputShift in
            for b in 0..<batches {
                for oy in 0..<outputHeight {
                    let inYOrigin = oy * strideH - padH
                    let fyStart = max(0, (-inYOrigin + dilationH - 1) / dilationH)
                    let fyEnd = min(filterHeight, (inputHeight - inYOrigin + dilationH - 1) / dilationH)
                    for ox in 0..<outputWidth {
                        let inXOrigin = ox * strideW - padW
                        let fxStart = max(0, (-inXOrigin + dilationW - 1) / dilationW)
                        let fxEnd = min(filterWidth, (inputWidth - inXOrigin + dilationW - 1) / dilationW)
                        accumulators.update(from: biasOrZero, count: depth)
                        if fyStart < fyEnd && fxStart < fxEnd {
                            for fy in fyStart..<fyEnd {
                                let inY = inYOrigin + dilationH * fy
                                for fx in fxStart..<fxEnd {
                                    let inX = inXOrigin + dilationW * fx
                                    let x = input + ((b * inputHeight + inY) * inputWidth + inX) * inputDepth
                                    let tap = weights + (fy * filterWidth + fx) * filterInputDepth * depth
                                    for g in 0..<groups {
                                        let first = g * perGroup
                                        for ic in 0..<filterInputDepth {
                                            let value = Int32(x[g * filterInputDepth + ic]) &+ offset
                                            let w = tap + ic * depth
                                            for oc in first..<(first + perGroup) { accumulators[oc] &+= Int32(w[oc]) &* value }
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

    /// 1×1, no padding: each output pixel is one input pixel's channels times the [oc][ic] filter.
    private func runPointwise(_ bias: UnsafeMutablePointer<Int32>) {
        let r = reference
        let (depth, inputDepth, filter, input, output) = (r.outputDepth, r.inputDepth, r.filter, r.input, r.output)
        let (outputOffset, activationMin, activationMax) = (r.outputOffset, r.activationMin, r.activationMax)
        r.multipliers.withUnsafeBufferPointer { multiplier in
        r.shifts.withUnsafeBufferPointer { shift in
            for b in 0..<r.batches {
                for oy in 0..<r.outputHeight {
                    for ox in 0..<r.outputWidth {
                        let x = input + ((b * r.inputHeight + oy * r.strideH) * r.inputWidth + ox * r.strideW) * inputDepth
                        let out = output + ((b * r.outputHeight + oy) * r.outputWidth + ox) * depth
                        for oc in 0..<depth {
                            let accumulator = bias[oc] &+ earshot_dot_i8(x, filter + oc * inputDepth, inputDepth)
                            var value = FixedPointMath.multiplyByQuantizedMultiplier(accumulator, multiplier[oc], shift[oc]) &+ outputOffset
                            value = min(max(value, activationMin), activationMax)
                            out[oc] = Int8(truncatingIfNeeded: value)
                        }
                    }
                }
            }
        }}
    }
}
