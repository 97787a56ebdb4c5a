/// Maps each operator to its prepared kernel, or an error naming the unsupported operator and model.
enum KernelFactory {
    static func make(_ c: KernelContext) throws(ModelError) -> any Kernel {
        guard c.op.customName == nil, let builtin = BuiltinOperator(rawValue: c.op.code) else {
            throw ModelError(.unsupportedOperator, "\(c.model.label): operator \(c.op.name) (operator \(c.index) of subgraph \(c.graph)) is not supported by Earshot.")
        }
        let fast = c.interpreter.kernels == .fast
        switch builtin {
        case .fullyConnected: return fast ? try FastFullyConnectedKernel(c) : try FullyConnectedKernel(c)
        case .conv2D: return fast ? try FastConv2DKernel(c) : try Conv2DKernel(c)
        case .depthwiseConv2D: return fast ? try FastDepthwiseConv2DKernel(c) : try DepthwiseConv2DKernel(c)
        case .averagePool2D: return try PoolingKernel(c, kind: .average)
        case .maxPool2D: return try PoolingKernel(c, kind: .max)
        case .reshape: return try CopyKernel(c)
        case .softmax: return try SoftmaxKernel(c)
        case .logistic: return try LogisticKernel(c)
        case .quantize: return try QuantizeKernel(c)
        case .dequantize: return try DequantizeKernel(c)
        case .varHandle: return try VarHandleKernel(c)
        case .readVariable: return try ReadVariableKernel(c)
        case .assignVariable: return try AssignVariableKernel(c)
        case .callOnce: return try CallOnceKernel(c)
        case .add: return try ElementwiseKernel(c, operation: .add)
        case .mul: return try ElementwiseKernel(c, operation: .mul)
        case .concatenation: return try ConcatenationKernel(c)
        case .splitV: return try SplitVKernel(c)
        case .stridedSlice: return try StridedSliceKernel(c)
        case .pad: return try PadKernel(c)
        case .mean: return try MeanKernel(c)
        case .relu: throw c.unsupported("standalone RELU")
        }
    }
}
