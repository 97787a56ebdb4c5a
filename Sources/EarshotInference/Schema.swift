/// TFLite tensor element types (schema.fbs `TensorType`).
public enum TensorType: Int8, Sendable, CaseIterable, CustomStringConvertible {
    case float32 = 0, float16 = 1, int32 = 2, uint8 = 3, int64 = 4, string = 5, bool = 6, int16 = 7
    case complex64 = 8, int8 = 9, float64 = 10, complex128 = 11, uint64 = 12, resource = 13, variant = 14
    case uint32 = 15, uint16 = 16, int4 = 17

    /// Bytes per element (0 for types without a fixed size).
    public var size: Int {
        switch self {
        case .int8, .uint8, .bool: 1
        case .int16, .uint16, .float16: 2
        case .float32, .int32, .uint32: 4
        case .int64, .uint64, .float64, .complex64: 8
        case .complex128: 16
        case .string, .resource, .variant, .int4: 0
        }
    }

    /// The schema's name for the type ("INT8", "FLOAT32", …).
    public var description: String {
        switch self {
        case .float32: "FLOAT32"
        case .float16: "FLOAT16"
        case .int32: "INT32"
        case .uint8: "UINT8"
        case .int64: "INT64"
        case .string: "STRING"
        case .bool: "BOOL"
        case .int16: "INT16"
        case .complex64: "COMPLEX64"
        case .int8: "INT8"
        case .float64: "FLOAT64"
        case .complex128: "COMPLEX128"
        case .uint64: "UINT64"
        case .resource: "RESOURCE"
        case .variant: "VARIANT"
        case .uint32: "UINT32"
        case .uint16: "UINT16"
        case .int4: "INT4"
        }
    }
}

/// TFLite builtin operator codes (schema.fbs `BuiltinOperator`) that Earshot knows by name.
public enum BuiltinOperator: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case add = 0, averagePool2D = 1, concatenation = 2, conv2D = 3, depthwiseConv2D = 4, dequantize = 6
    case fullyConnected = 9, logistic = 14, maxPool2D = 17, mul = 18, relu = 19, reshape = 22, softmax = 25
    case pad = 34, mean = 40, stridedSlice = 45, splitV = 102, quantize = 114, callOnce = 129
    case varHandle = 142, readVariable = 143, assignVariable = 144

    public var description: String {
        switch self {
        case .add: "ADD"
        case .averagePool2D: "AVERAGE_POOL_2D"
        case .concatenation: "CONCATENATION"
        case .conv2D: "CONV_2D"
        case .depthwiseConv2D: "DEPTHWISE_CONV_2D"
        case .dequantize: "DEQUANTIZE"
        case .fullyConnected: "FULLY_CONNECTED"
        case .logistic: "LOGISTIC"
        case .maxPool2D: "MAX_POOL_2D"
        case .mul: "MUL"
        case .relu: "RELU"
        case .reshape: "RESHAPE"
        case .softmax: "SOFTMAX"
        case .pad: "PAD"
        case .mean: "MEAN"
        case .stridedSlice: "STRIDED_SLICE"
        case .splitV: "SPLIT_V"
        case .quantize: "QUANTIZE"
        case .callOnce: "CALL_ONCE"
        case .varHandle: "VAR_HANDLE"
        case .readVariable: "READ_VARIABLE"
        case .assignVariable: "ASSIGN_VARIABLE"
        }
    }
}

/// Fused activation (schema.fbs `ActivationFunctionType`).
public enum FusedActivation: Int8, Sendable {
    case none = 0, relu = 1, reluN1To1 = 2, relu6 = 3, tanh = 4, signBit = 5
}

/// Convolution padding (schema.fbs `Padding`).
public enum Padding: Int8, Sendable {
    case same = 0, valid = 1
}
