/// AVERAGE_POOL_2D and MAX_POOL_2D, int8 NHWC (TFLite `reference_integer_ops::AveragePool` / `MaxPool`).
final class PoolingKernel: Kernel {
    enum Kind { case average, max }
    let kind: Kind
    let input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>
    let batches: Int, inputHeight: Int, inputWidth: Int, depth: Int
    let filterHeight: Int, filterWidth: Int, outputHeight: Int, outputWidth: Int
    let strideH: Int, strideW: Int, padH: Int, padW: Int
    let activationMin: Int32, activationMax: Int32

    init(_ c: KernelContext, kind: Kind) throws(ModelError) {
        self.kind = kind
        let input = try c.input(0), output = try c.output(0)
        try c.expect(input, [.int8], "input"); try c.expect(output, [.int8], "output")
        guard input.shape.count == 4, output.shape.count == 4 else { throw c.error("tensors must be 4-D NHWC") }
        guard input.scale == output.scale, input.zeroPoint == output.zeroPoint else {
            throw c.unsupported("different input and output quantisation")
        }
        (batches, inputHeight, inputWidth, depth) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let padding = try c.padding(0)
        strideW = Int(try c.option(1, default: Int32(1))); strideH = Int(try c.option(2, default: Int32(1)))
        filterWidth = Int(try c.option(3, default: Int32(1))); filterHeight = Int(try c.option(4, default: Int32(1)))
        guard filterWidth > 0, filterHeight > 0 else { throw c.error("filter sizes must be positive") }
        guard output.shape[0] == batches, output.shape[3] == depth else { throw c.error("output \(output.shape) should keep \(batches) batches and \(depth) channels") }
        (outputHeight, padH, outputWidth, padW) = try windowGeometry(
            c, padding: padding, input: (inputHeight, inputWidth), filter: (filterHeight, filterWidth),
            stride: (strideH, strideW), dilation: (1, 1), expected: output.shape)
        (activationMin, activationMax) = try activationRange(try c.activation(5), output: output)
        self.input = UnsafePointer(input.pointer(Int8.self)); self.output = output.pointer(Int8.self)
    }

    func run() throws(ModelError) {
        for b in 0..<batches {
            for oy in 0..<outputHeight {
                for ox in 0..<outputWidth {
                    let inXOrigin = ox * strideW - padW, inYOrigin = oy * strideH - padH
                    let fxStart = max(0, -inXOrigin), fxEnd = min(filterWidth, inputWidth - inXOrigin)
                    let fyStart = max(0, -inYOrigin), fyEnd = min(filterHeight, inputHeight - inYOrigin)
                    for ch in 0..<depth {
                        var value: Int32
                        switch kind {
                        case .average:
                            var sum: Int32 = 0
                            var count: Int32 = 0
                            for fy in fyStart..<max(fyStart, fyEnd) {
                                for fx in fxStart..<max(fxStart, fxEnd) {
                                    sum &+= Int32(input[((b * inputHeight + inYOrigin + fy) * inputWidth + inXOrigin + fx) * depth + ch])
                                    count += 1
                                }
                            }
                            if count == 0 { throw ModelError(.invalidModel, "AVERAGE_POOL_2D window covers no input.") }
                            // Round half away from zero, as TFLite does.
                            value = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count
                        case .max:
                            value = -128
                            for fy in fyStart..<max(fyStart, fyEnd) {
                                for fx in fxStart..<max(fxStart, fxEnd) {
                                    value = Swift.max(value, Int32(input[((b * inputHeight + inYOrigin + fy) * inputWidth + inXOrigin + fx) * depth + ch]))
                                }
                            }
                        }
                        value = min(max(value, activationMin), activationMax)
                        output[((b * outputHeight + oy) * outputWidth + ox) * depth + ch] = Int8(truncatingIfNeeded: value)
                    }
                }
            }
        }
    }
}
