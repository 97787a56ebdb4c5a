/// What `earshot model inspect` shows: operators, tensors, memory and compute, computed without running the model.
public struct ModelSummary: Sendable, Codable {
    public struct Operator: Sendable, Codable {
        public var subgraph: Int
        public var index: Int
        public var op: String
        public var inputs: [Int]
        public var outputs: [Int]
        /// Multiply-accumulates per invoke (convolutions and fully connected layers).
        public var macs: Int
    }

    public struct TensorEntry: Sendable, Codable {
        public var subgraph: Int
        public var index: Int
        public var name: String
        public var type: String
        public var shape: [Int]
        public var scales: [Float]
        public var zeroPoints: [Int64]
        public var quantizedDimension: Int
        public var constant: Bool
        public var bytes: Int
    }

    public var model: String
    public var version: UInt32
    public var description: String?
    public var inputs: [TensorEntry]
    public var outputs: [TensorEntry]
    public var operators: [Operator]
    public var tensors: [TensorEntry]
    /// Bytes of the activation arena the interpreter plans.
    public var arenaBytes: Int
    /// Bytes of weights and other constants.
    public var constantBytes: Int
    /// Bytes of resource-variable state.
    public var variableBytes: Int
    /// Multiply-accumulates per invoke of subgraph 0 (init subgraphs excluded).
    public var macs: Int

    /// Summarises `interpreter`'s model (the interpreter supplies the memory plan).
    public init(_ interpreter: Interpreter) {
        let model = interpreter.model
        func entry(_ g: Int, _ t: Int) -> TensorEntry {
            let info = model.subgraphs[g].tensors[t]
            return TensorEntry(subgraph: g, index: t, name: info.name, type: info.type.description, shape: info.shape,
                               scales: info.quantization.scales, zeroPoints: info.quantization.zeroPoints,
                               quantizedDimension: info.quantization.dimension, constant: info.data != nil, bytes: info.byteCount)
        }
        var operators: [Operator] = []
        var tensors: [TensorEntry] = []
        for (g, graph) in model.subgraphs.enumerated() {
            for (o, op) in graph.operators.enumerated() {
                operators.append(Operator(subgraph: g, index: o, op: op.name, inputs: op.inputs, outputs: op.outputs,
                                          macs: Self.macs(op, graph)))
            }
            for t in graph.tensors.indices { tensors.append(entry(g, t)) }
        }
        self.model = model.label
        version = model.version
        description = model.description
        inputs = model.subgraphs[0].inputs.map { entry(0, $0) }
        outputs = model.subgraphs[0].outputs.map { entry(0, $0) }
        self.operators = operators
        self.tensors = tensors
        arenaBytes = interpreter.arenaSize
        constantBytes = interpreter.constantSize
        variableBytes = interpreter.variableSize
        macs = operators.filter { $0.subgraph == 0 }.reduce(0) { $0 + $1.macs }
    }

    /// Multiply-accumulates of one operator, from its output and filter shapes.
    static func macs(_ op: OperatorInfo, _ graph: SubgraphInfo) -> Int {
        guard let code = BuiltinOperator(rawValue: op.code), op.inputs.count >= 2, op.inputs[1] >= 0, let out = op.outputs.first else { return 0 }
        let filter = graph.tensors[op.inputs[1]].shape
        let output = graph.tensors[out].shape
        switch code {
        case .conv2D where filter.count == 4 && output.count == 4:
            return output.reduce(1, *) * filter[1] * filter[2] * filter[3]
        case .depthwiseConv2D where filter.count == 4 && output.count == 4:
            return output.reduce(1, *) * filter[1] * filter[2]
        case .fullyConnected where filter.count == 2:
            return graph.tensors[out].elementCount * filter[1]
        default:
            return 0
        }
    }
}
