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
        guard output.shape.count == 4, output.shape[0] == batches, output.shape[3] == outputDepth else {
            throw c.error("output \(output.shape) should have \(batches) batches and \(outputDepth) channels")
        }
        (outputHeight, padH, outputWidth, padW) = try windowGeometry(
            c, padding: padding, input: (inputHeight, inputWidth), filter: (filterHeight, filterWidth),
            stride: (strideH, strideW), dilation: (dilationH, dilationW), expected: output.shape)
        (bias, multipliers, shifts, inputOffset, outputOffset, activationMin, activationMax) = try outputStage(
            c, input: input, filter: filter, output: output, channels: outputDepth, activationOption: 3)
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

/// What CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED share after the accumulation: bias, per-channel requantisation,
/// the offsets and the fused activation's clamp, all read and checked once at prepare time.
func outputStage(_ c: KernelContext, input: Tensor, filter: Tensor, output: Tensor, channels: Int, activationOption: Int) throws(ModelError)
    -> (bias: UnsafePointer<Int32>?, multipliers: [Int32], shifts: [Int], inputOffset: Int32, outputOffset: Int32, activationMin: Int32, activationMax: Int32) {
    let bias = try optionalBias(c, channels: channels)
    let (multipliers, shifts) = try perChannelMultipliers(c, input: input, filter: filter, output: output, channels: channels)
    let (low, high) = try activationRange(try c.activation(activationOption), output: output)
    return (bias, multipliers, shifts, -input.zeroPoint, output.zeroPoint, low, high)
}

/// The optional int32 bias input (index 2), checked to hold one value per output channel.
func optionalBias(_ c: KernelContext, channels: Int) throws(ModelError) -> UnsafePointer<Int32>? {
    guard let bias = c.optionalInput(2) else { return nil }
    try c.expect(bias, [.int32], "bias")
    guard bias.count == channels else { throw c.error("bias has \(bias.count) values for \(channels) channels") }
    return UnsafePointer(bias.pointer(Int32.self))
}

/// Output size and padding of a 2-D window over NHWC input, checked against the output tensor's shape.
func windowGeometry(_ c: KernelContext, padding: Padding, input: (height: Int, width: Int), filter: (height: Int, width: Int),
                    stride: (height: Int, width: Int), dilation: (height: Int, width: Int), expected: [Int])
    throws(ModelError) -> (height: Int, padH: Int, width: Int, padW: Int) {
    guard stride.height > 0, stride.width > 0, dilation.height > 0, dilation.width > 0 else {
        throw c.error("strides and dilations must be positive")
    }
    let vertical = convolutionGeometry(padding: padding, input: input.height, filter: filter.height, stride: stride.height, dilation: dilation.height)
    let horizontal = convolutionGeometry(padding: padding, input: input.width, filter: filter.width, stride: stride.width, dilation: dilation.width)
    let shape = [expected[0], vertical.output, horizontal.output, expected[3]]
    guard expected == shape else { throw c.error("output \(expected) should be \(shape)") }
    return (vertical.output, vertical.padding, horizontal.output, horizontal.padding)
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
