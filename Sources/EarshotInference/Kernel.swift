/// A prepared operator: shapes checked, parameters computed and pointers resolved at load, so `run` only computes.
protocol Kernel: AnyObject {
    /// Executes once. Must not allocate.
    func run() throws(ModelError)
}

/// What a kernel's `prepare` sees: its operator, tensors and options, plus helpers that name the op in errors.
struct KernelContext {
    let model: Model
    let graph: Int
    let index: Int
    let op: OperatorInfo
    let tensors: [Tensor]
    let interpreter: Interpreter

    var name: String { op.name }

    func error(_ message: String) -> ModelError {
        ModelError(.invalidModel, "\(model.label): \(op.name) (operator \(index) of subgraph \(graph)): \(message).")
    }

    func unsupported(_ message: String) -> ModelError {
        ModelError(.unsupportedOperator, "\(model.label): \(op.name) (operator \(index) of subgraph \(graph)): \(message) is not supported.")
    }

    /// Input `i`, which must exist.
    func input(_ i: Int) throws(ModelError) -> Tensor {
        guard i < op.inputs.count, op.inputs[i] >= 0 else { throw error("input \(i) is missing") }
        return tensors[op.inputs[i]]
    }

    /// Input `i` if present (optional inputs are −1).
    func optionalInput(_ i: Int) -> Tensor? {
        guard i < op.inputs.count, op.inputs[i] >= 0 else { return nil }
        return tensors[op.inputs[i]]
    }

    func output(_ i: Int) throws(ModelError) -> Tensor {
        guard i < op.outputs.count else { throw error("output \(i) is missing") }
        return tensors[op.outputs[i]]
    }

    /// Requires a type, naming the tensor's role in the error.
    func expect(_ tensor: Tensor, _ types: Set<TensorType>, _ role: String) throws(ModelError) {
        guard types.contains(tensor.type) else {
            throw ModelError(.unsupportedType, "\(model.label): \(op.name) (operator \(index)): \(role) \(tensor.info.name) is \(tensor.type); supported: \(types.map(\.description).sorted().joined(separator: ", ")).")
        }
    }

    /// Requires per-tensor quantisation with a zero point inside the type's range.
    func expectQuantized(_ tensor: Tensor, _ role: String) throws(ModelError) {
        guard tensor.info.quantization.isQuantized else { throw error("\(role) \(tensor.info.name) is not quantised") }
        let zp = tensor.zeroPoint
        let range: ClosedRange<Int32> = tensor.type == .uint8 ? 0...255 : tensor.type == .int16 ? 0...0 : -128...127
        guard range.contains(zp) else { throw error("\(role) \(tensor.info.name) has zero point \(zp) outside \(range)") }
    }

    /// The options table field reader (nil options read as all defaults).
    var options: FlatBuffer.Table? { op.options }

    func option<T: FixedWidthInteger>(_ field: Int, default value: T) throws(ModelError) -> T {
        guard let options else { return value }
        return try options.scalar(field, default: value)
    }

    func floatOption(_ field: Int, default value: Float) throws(ModelError) -> Float {
        guard let options else { return value }
        return try options.float(field, default: value)
    }

    func activation(_ field: Int) throws(ModelError) -> FusedActivation {
        let raw: Int8 = try option(field, default: 0)
        guard let activation = FusedActivation(rawValue: raw) else { throw error("unknown fused activation \(raw)") }
        return activation
    }

    func padding(_ field: Int) throws(ModelError) -> Padding {
        let raw: Int8 = try option(field, default: 0)
        guard let padding = Padding(rawValue: raw) else { throw error("unknown padding \(raw)") }
        return padding
    }

    /// The constant int32 contents of a tensor (shape arguments, axes).
    func constantInt32(_ tensor: Tensor) throws(ModelError) -> [Int32] {
        guard tensor.info.data != nil else { throw unsupported("a non-constant \(tensor.info.name)") }
        guard tensor.type == .int32 || tensor.type == .int64 else { throw error("\(tensor.info.name) must be INT32") }
        if tensor.type == .int64 { return (0..<tensor.count).map { Int32(truncatingIfNeeded: tensor.pointer(Int64.self)[$0]) } }
        return (0..<tensor.count).map { tensor.pointer(Int32.self)[$0] }
    }
}

/// Quantised activation bounds (`CalculateActivationRangeQuantized`).
func activationRange(_ activation: FusedActivation, output: Tensor) throws(ModelError) -> (min: Int32, max: Int32) {
    let (qmin, qmax): (Int32, Int32) = switch output.type {
    case .uint8: (0, 255)
    case .int16: (-32_768, 32_767)
    default: (-128, 127)
    }
    let scale = output.scale, zero = output.zeroPoint
    func quantize(_ f: Float) -> Int32 { zero &+ Int32((f / scale).rounded(.toNearestOrAwayFromZero)) }
    switch activation {
    case .none: return (qmin, qmax)
    case .relu: return (max(qmin, quantize(0)), qmax)
    case .relu6: return (max(qmin, quantize(0)), min(qmax, quantize(6)))
    case .reluN1To1: return (max(qmin, quantize(-1)), min(qmax, quantize(1)))
    case .tanh, .signBit: throw ModelError(.unsupportedOperator, "Fused \(activation) activation is not supported.")
    }
}

/// Output size and padding of a convolution or pooling along one axis (`ComputeOutSize`, `ComputePaddingWithOffset`).
func convolutionGeometry(padding: Padding, input: Int, filter: Int, stride: Int, dilation: Int) -> (output: Int, padding: Int) {
    let effective = (filter - 1) * dilation + 1
    let output = padding == .same ? (input + stride - 1) / stride : (input + stride - effective) / stride
    let total = max(0, (output - 1) * stride + effective - input)
    return (output, total / 2)
}
