/// CONV_2D, int8 NHWC with per-channel (or per-tensor) weights, dilation and groups
/// (TFLite `reference_integer_ops::ConvPerChannel`).
final class Conv2DKernel: Kernel {
    let input: UnsafePointer<Int8>, filter: UnsafePointer<Int8>, bias: UnsafePointer<Int32>?, output: UnsafeMutablePointer<Int8>
    let batches: Int, inputHeight: Int, inputWidth: Int, inputDepth: Int
    let filterHeight: Int, filterWidth: Int, filterInputDepth: Int
    let outputHeight: Int, outputWidth: Int, outputDepth: Int
    let strideH: Int, strideW: Int, dilationH: Int, dilationW: Int, padH: Int, padW: Int
    let inputOffset: Int32, outputOffset: Int32
    let multipliers: [Int32], shifts: [Int]
    let activationMin: Int32, activationMax: Int32

    init(_ c: KernelContext) throws(ModelError) {
        let input = try c.input(0), filter = try c.input(1), output = try c.output(0)
        try c.expect(input, [.int8], "input"); try c.expect(filter, [.int8], "filter"); try c.expect(output, [.int8], "output")
        try c.expectQuantized(input, "input"); try c.expectQuantized(output, "output")
        guard input.shape.count == 4, filter.shape.count == 4, output.shape.count == 4 else { throw c.error("tensors must be 4-D NHWC") }
        guard filter.info.quantization.zeroPoints.allSatisfy({ $0 == 0 }) else { throw c.unsupported("a non-zero filter zero point") }
        (batches, inputHeight, inputWidth, inputDepth) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        (outputDepth, filterHeight, filterWidth, filterInputDepth) = (filter.shape[0], filter.shape[1], filter.shape[2], filter.shape[3])
        guard filterInputDepth > 0, inputDepth >= filterInputDepth, inputDepth % filterInputDepth == 0,
              outputDepth % (inputDepth / filterInputDepth) == 0 else {
            throw c.error("filter depth \(filterInputDepth) does not divide input depth \(inputDepth) into groups")
        }
        let padding = try c.padding(0)
        strideW = Int(try c.option(1, default: Int32(1))); strideH = Int(try c.option(2, default: Int32(1)))
        dilationW = Int(try c.option(4, default: Int32(1))); dilationH = Int(try c.option(5, default: Int32(1)))
        guard strideW > 0, strideH > 0, dilationW > 0, dilationH > 0 else { throw c.error("strides and dilations must be positive") }
        let vertical = convolutionGeometry(padding: padding, input: inputHeight, filter: filterHeight, stride: strideH, dilation: dilationH)
        let horizontal = convolutionGeometry(padding: padding, input: inputWidth, filter: filterWidth, stride: strideW, dilation: dilationW)
        (outputHeight, padH, outputWidth, padW) = (vertical.output, vertical.padding, horizontal.output, horizontal.padding)
        guard output.shape == [batches, outputHeight, outputWidth, outputDepth] else {
            throw c.error("output \(output.shape) should be \([batches, outputHeight, outputWidth, outputDepth])")
        }
        if let bias = c.optionalInput(2) {
            try c.expect(bias, [.int32], "bias")
            guard bias.count == outputDepth else { throw c.error("bias has \(bias.count) values for \(outputDepth) channels") }
            self.bias = UnsafePointer(bias.pointer(Int32.self))
        } else { self.bias = nil }
        (multipliers, shifts) = try perChannelMultipliers(c, input: input, filter: filter, output: output, channels: outputDepth)
        inputOffset = -input.zeroPoint
        outputOffset = output.zeroPoint
        (activationMin, activationMax) = try activationRange(try c.activation(3), output: output)
        self.input = UnsafePointer(input.pointer(Int8.self)); self.filter = UnsafePointer(filter.pointer(Int8.self))
        self.output = output.pointer(Int8.self)
    }

    func run() {
        let groups = inputDepth / filterInputDepth
        let filtersPerGroup = outputDepth / groups
        multipliers.withUnsafeBufferPointer { multiplier in
        shifts.withUnsafeBufferPointer { shift in
            for b in 0..<batches {
                for oy in 0..<outputHeight {
                    let inYOrigin = oy * strideH - padH
                    for ox in 0..<outputWidth {
                        let inXOrigin = ox * strideW - padW
                        for oc in 0..<outputDepth {
                            let group = oc / filtersPerGroup
                            var accumulator: Int32 = 0
                            for fy in 0..<filterHeight {
                                let inY = inYOrigin + dilationH * fy
                                if inY < 0 || inY >= inputHeight { continue }
                                for fx in 0..<filterWidth {
                                    let inX = inXOrigin + dilationW * fx
                                    if inX < 0 || inX >= inputWidth { continue }
                                    let inputBase = ((b * inputHeight + inY) * inputWidth + inX) * inputDepth + group * filterInputDepth
                                    let filterBase = ((oc * filterHeight + fy) * filterWidth + fx) * filterInputDepth
                                    for ic in 0..<filterInputDepth {
                                        accumulator &+= Int32(filter[filterBase + ic]) &* (Int32(input[inputBase + ic]) &+ inputOffset)
                                    }
                                }
                            }
                            if let bias { accumulator &+= bias[oc] }
                            var value = FixedPointMath.multiplyByQuantizedMultiplier(accumulator, multiplier[oc], shift[oc]) &+ outputOffset
                            value = min(max(value, activationMin), activationMax)
                            output[((b * outputHeight + oy) * outputWidth + ox) * outputDepth + oc] = Int8(truncatingIfNeeded: value)
                        }
                    }
                }
            }
        }}
    }
}

/// Per-channel requantisation (`PopulateConvolutionQuantizationParams`): input·filter[c]/output scales as Q31 + shift.
func perChannelMultipliers(_ c: KernelContext, input: Tensor, filter: Tensor, output: Tensor, channels: Int) throws(ModelError) -> ([Int32], [Int]) {
    let scales = filter.info.quantization.scales
    guard scales.count == 1 || scales.count == channels else { throw c.error("filter has \(scales.count) scales for \(channels) channels") }
    var multipliers: [Int32] = [], shifts: [Int] = []
    for channel in 0..<channels {
        let scale = Double(input.scale) * Double(scales.count == 1 ? scales[0] : scales[channel]) / Double(output.scale)
        let (m, s) = FixedPointMath.quantizeMultiplier(scale)
        multipliers.append(m); shifts.append(s)
    }
    return (multipliers, shifts)
}
