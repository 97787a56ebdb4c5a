/// DEPTHWISE_CONV_2D, int8 NHWC with per-channel weights and a depth multiplier
/// (TFLite `reference_integer_ops::DepthwiseConvPerChannel`).
final class DepthwiseConv2DKernel: Kernel {
    let input: UnsafePointer<Int8>, filter: UnsafePointer<Int8>, bias: UnsafePointer<Int32>?, output: UnsafeMutablePointer<Int8>
    let batches: Int, inputHeight: Int, inputWidth: Int, inputDepth: Int, depthMultiplier: Int
    let filterHeight: Int, filterWidth: Int, outputHeight: Int, outputWidth: Int, outputDepth: Int
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
        (filterHeight, filterWidth, outputDepth) = (filter.shape[1], filter.shape[2], filter.shape[3])
        let padding = try c.padding(0)
        strideW = Int(try c.option(1, default: Int32(1))); strideH = Int(try c.option(2, default: Int32(1)))
        dilationW = Int(try c.option(5, default: Int32(1))); dilationH = Int(try c.option(6, default: Int32(1)))
        guard inputDepth > 0, outputDepth % inputDepth == 0 else { throw c.error("output depth \(outputDepth) is not a multiple of input depth \(inputDepth)") }
        depthMultiplier = outputDepth / inputDepth
        guard output.shape.count == 4, output.shape[0] == batches, output.shape[3] == outputDepth else {
            throw c.error("output \(output.shape) should have \(batches) batches and \(outputDepth) channels")
        }
        (outputHeight, padH, outputWidth, padW) = try windowGeometry(
            c, padding: padding, input: (inputHeight, inputWidth), filter: (filterHeight, filterWidth),
            stride: (strideH, strideW), dilation: (dilationH, dilationW), expected: output.shape)
        (bias, multipliers, shifts, inputOffset, outputOffset, activationMin, activationMax) = try outputStage(
            c, input: input, filter: filter, output: output, channels: outputDepth, activationOption: 4)
        self.input = UnsafePointer(input.pointer(Int8.self)); self.filter = UnsafePointer(filter.pointer(Int8.self))
        self.output = output.pointer(Int8.self)
    }

    func run() {
        multipliers.withUnsafeBufferPointer { multiplier in
        shifts.withUnsafeBufferPointer { shift in
            for b in 0..<batches {
                for oy in 0..<outputHeight {
                    let inYOrigin = oy * strideH - padH
                    for ox in 0..<outputWidth {
                        let inXOrigin = ox * strideW - padW
                        for ic in 0..<inputDepth {
                            for m in 0..<depthMultiplier {
                                let oc = m + ic * depthMultiplier
                                var accumulator: Int32 = 0
                                for fy in 0..<filterHeight {
                                    let inY = inYOrigin + dilationH * fy
                                    if inY < 0 || inY >= inputHeight { continue }
                                    for fx in 0..<filterWidth {
                                        let inX = inXOrigin + dilationW * fx
                                        if inX < 0 || inX >= inputWidth { continue }
                                        let x = Int32(input[((b * inputHeight + inY) * inputWidth + inX) * inputDepth + ic])
                                        let w = Int32(filter[(fy * filterWidth + fx) * outputDepth + oc])
                                        accumulator &+= w &* (x &+ inputOffset)
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
            }
        }}
    }
}
