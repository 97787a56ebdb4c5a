/// Per-tensor or per-channel affine quantisation: real = scale × (q − zeroPoint).
public struct Quantization: Sendable, Hashable {
    public var scales: [Float]
    public var zeroPoints: [Int64]
    /// The axis the scales run along when there is more than one.
    public var dimension: Int

    /// True when there is at least one scale.
    public var isQuantized: Bool { !scales.isEmpty }
    /// The single scale of a per-tensor quantised tensor.
    public var scale: Float { scales.first ?? 0 }
    /// The single zero point of a per-tensor quantised tensor.
    public var zeroPoint: Int32 { Int32(truncatingIfNeeded: zeroPoints.first ?? 0) }
}

/// A tensor as the model declares it.
public struct TensorInfo: Sendable {
    public var name: String
    public var type: TensorType
    public var shape: [Int]
    public var quantization: Quantization
    /// Constant data inside the model file, if any.
    public var data: Range<Int>?
    public var isVariable: Bool

    /// Number of elements.
    public var elementCount: Int { shape.reduce(1, *) }
    /// Bytes the tensor occupies.
    public var byteCount: Int { elementCount * type.size }
}

/// One operator node as the model declares it.
public struct OperatorInfo: Sendable {
    /// The builtin code (or −1 for custom operators).
    public var code: Int32
    /// The custom operator's name, if it is one.
    public var customName: String?
    public var inputs: [Int]
    public var outputs: [Int]
    /// The options table of the operator, decoded lazily by its kernel.
    var options: FlatBuffer.Table?
    /// The operator's name for messages ("CONV_2D", "CUSTOM(SignalWindow)", "BUILTIN#63").
    public var name: String {
        if let customName { return "CUSTOM(\(customName))" }
        return BuiltinOperator(rawValue: code)?.description ?? "BUILTIN#\(code)"
    }
}

/// One graph of the model.
public struct SubgraphInfo: Sendable {
    public var name: String
    public var tensors: [TensorInfo]
    public var inputs: [Int]
    public var outputs: [Int]
    public var operators: [OperatorInfo]
}

/// A parsed, validated TFLite model. Immutable; the interpreter plans memory for it and runs it.
public struct Model: Sendable {
    /// A label for messages (usually the file name).
    public let label: String
    public let version: UInt32
    public let description: String?
    public let subgraphs: [SubgraphInfo]
    let buffer: FlatBuffer

    /// The raw bytes of a constant tensor.
    func constantBytes(_ tensor: TensorInfo) -> ArraySlice<UInt8>? {
        tensor.data.map { buffer.bytes[$0] }
    }
}
