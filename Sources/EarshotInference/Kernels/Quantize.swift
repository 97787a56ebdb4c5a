/// QUANTIZE: float → int8/uint8 (`AffineQuantize`), or int8/uint8 → int8/uint8 (`Requantize`).
final class QuantizeKernel: Kernel {
    enum Source { case float(UnsafePointer<Float>), int8(UnsafePointer<Int8>), uint8(UnsafePointer<UInt8>) }
    let source: Source
    let output: UnsafeMutableRawPointer, outputType: TensorType, count: Int
    let scale: Float, inputZeroPoint: Int32, outputZeroPoint: Int32
    let multiplier: Int32, shift: Int

    init(_ c: KernelContext) throws(ModelError) {
        let input = try c.input(0), output = try c.output(0)
        try c.expect(input, [.float32, .int8, .uint8], "input"); try c.expect(output, [.int8, .uint8], "output")
        try c.expectQuantized(output, "output")
        guard input.count == output.count else { throw c.error("input and output sizes differ") }
        switch input.type {
        case .float32: source = .float(UnsafePointer(input.pointer(Float.self)))
        case .int8: source = .int8(UnsafePointer(input.pointer(Int8.self)))
        default: source = .uint8(UnsafePointer(input.pointer(UInt8.self)))
        }
        if input.type != .float32 { try c.expectQuantized(input, "input") }
        scale = output.scale
        inputZeroPoint = input.type == .float32 ? 0 : input.zeroPoint
        outputZeroPoint = output.zeroPoint
        let effective = input.type == .float32 ? 1 : Double(input.scale) / Double(output.scale)
        (multiplier, shift) = FixedPointMath.quantizeMultiplier(effective)
        self.output = output.data; outputType = output.type; count = input.count
    }

    func run() {
        let (low, high): (Int32, Int32) = outputType == .uint8 ? (0, 255) : (-128, 127)
        for i in 0..<count {
            let value: Int32
            switch source {
            case .float(let x):
                value = Int32((x[i] / scale).rounded(.toNearestOrAwayFromZero)) &+ outputZeroPoint
            case .int8(let x):
                value = FixedPointMath.multiplyByQuantizedMultiplier(Int32(x[i]) - inputZeroPoint, multiplier, shift) &+ outputZeroPoint
            case .uint8(let x):
                value = FixedPointMath.multiplyByQuantizedMultiplier(Int32(x[i]) - inputZeroPoint, multiplier, shift) &+ outputZeroPoint
            }
            let clamped = min(max(value, low), high)
            if outputType == .uint8 { output.storeBytes(of: UInt8(clamped), toByteOffset: i, as: UInt8.self) }
            else { output.storeBytes(of: Int8(clamped), toByteOffset: i, as: Int8.self) }
        }
    }
}

/// DEQUANTIZE: int8/uint8 → float, scale·(q − zero point) computed in double as TFLite does.
final class DequantizeKernel: Kernel {
    let input: UnsafeRawPointer, signed: Bool, output: UnsafeMutablePointer<Float>, count: Int
    let scale: Double, zeroPoint: Int32

    init(_ c: KernelContext) throws(ModelError) {
        let input = try c.input(0), output = try c.output(0)
        try c.expect(input, [.int8, .uint8], "input"); try c.expect(output, [.float32], "output")
        try c.expectQuantized(input, "input")
        guard input.count == output.count else { throw c.error("input and output sizes differ") }
        self.input = UnsafeRawPointer(input.data); signed = input.type == .int8
        self.output = output.pointer(Float.self); count = input.count
        scale = Double(input.scale); zeroPoint = input.zeroPoint
    }

    func run() {
        for i in 0..<count {
            let q = signed ? Int32(input.load(fromByteOffset: i, as: Int8.self)) : Int32(input.load(fromByteOffset: i, as: UInt8.self))
            output[i] = Float(scale * Double(q - zeroPoint))
        }
    }
}
