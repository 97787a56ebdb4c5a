/// How an operator requantises its int32 accumulators.
public enum Rounding: String, Sendable, Hashable, Codable, CaseIterable {
    /// gemmlowp's two steps (`SaturatingRoundingDoublingHighMul`, then `RoundingDivideByPOT`).
    case double
    /// One step, half up (`TFLITE_SINGLE_ROUNDING`).
    case single
}

/// Which implementation's requantisation the fully connected kernel follows. Everything else is the same in both.
public enum Compatibility: String, Sendable, Hashable, Codable, CaseIterable {
    /// LiteRT's reference kernels: FULLY_CONNECTED rounds once; convolutions and the rest round twice. The default.
    case liteRT
    /// TensorFlow Lite Micro's default build: every kernel rounds twice.
    case tflm

    /// The rounding FULLY_CONNECTED uses under this compatibility.
    public var fullyConnectedRounding: Rounding { self == .liteRT ? .single : .double }
}

/// Which kernel implementations the interpreter uses. Both give identical results (tested); the reference
/// versions are the plain loops that mirror TFLite's reference kernels and are never deleted.
public enum KernelSet: String, Sendable, Hashable, Codable, CaseIterable {
    /// Reordered loops with precomputed terms and transposed weights (the default).
    case fast
    /// The plain reference loops.
    case reference
}

/// Runs a `Model`: plans one arena at load, prepares every operator once, then `invoke()` only computes.
///
/// Constants are copied once into aligned storage; resource variables (VAR_HANDLE/READ/ASSIGN) get storage at load
/// and persist across invocations until `reset()`. Not `Sendable`: one owner, one thread.
public final class Interpreter {
    public let model: Model
    /// Bytes of the planned activation arena (all subgraphs).
    public let arenaSize: Int
    /// Bytes of constant data copied from the model.
    public let constantSize: Int
    /// Bytes of resource-variable storage.
    public var variableSize: Int { variables.reduce(0) { $0 + $1.size } }

    private let arena: UnsafeMutableRawPointer
    private let constants: UnsafeMutableRawPointer
    private var graphs: [[any Kernel]] = []
    private(set) var tensors: [[Tensor]] = []
    /// Resource variables by index: storage and size in bytes.
    private(set) var variables: [(pointer: UnsafeMutableRawPointer, size: Int, name: String)] = []
    /// Which subgraphs CALL_ONCE has already run.
    var initialized: Set<Int> = []

    /// The kernel implementations in use.
    public let kernels: KernelSet
    /// Whose requantisation rounding is reproduced.
    public let compatibility: Compatibility

    /// Loads `model`, planning memory and preparing every operator; fails on anything unsupported.
    /// - Parameters:
    ///   - kernels: `.fast` (default) or `.reference` loops; identical results.
    ///   - compatibility: `.liteRT` (default) or `.tflm`; they differ only in FULLY_CONNECTED's rounding.
    public init(model: Model, kernels: KernelSet = .fast, compatibility: Compatibility = .liteRT) throws(ModelError) {
        self.model = model
        self.kernels = kernels
        self.compatibility = compatibility
        // Constants: one aligned copy so kernels can read them through typed pointers.
        var constantOffsets: [[Int?]] = []
        var constantBytes = 0
        for graph in model.subgraphs {
            constantOffsets.append(graph.tensors.map { tensor in
                guard let data = tensor.data else { return nil }
                defer { constantBytes += (data.count + 15) / 16 * 16 }
                return constantBytes
            })
        }
        constantSize = constantBytes

        // Activations: lifetimes per subgraph, planned into one arena (subgraph regions side by side, since
        // CALL_ONCE runs one subgraph in the middle of another).
        var regions: [(offsets: [Int?], base: Int)] = []
        var total = 0
        for (g, graph) in model.subgraphs.enumerated() {
            var requests: [MemoryPlanner.Request] = []
            var owners: [Int] = []
            var first = [Int](repeating: Int.max, count: graph.tensors.count)
            var last = [Int](repeating: -1, count: graph.tensors.count)
            for i in graph.inputs { first[i] = -1; last[i] = max(last[i], -1) }
            for (o, op) in graph.operators.enumerated() {
                for i in op.inputs where i >= 0 { first[i] = min(first[i], o); last[i] = max(last[i], o) }
                for i in op.outputs { first[i] = min(first[i], o); last[i] = max(last[i], o) }
            }
            for i in graph.outputs { last[i] = graph.operators.count }
            for (t, tensor) in graph.tensors.enumerated() where constantOffsets[g][t] == nil && last[t] >= -1 && first[t] != .max {
                let size = tensor.type == .resource ? 4 : tensor.byteCount
                guard tensor.type.size > 0 || tensor.type == .resource else {
                    throw ModelError(.unsupportedType, "\(model.label): tensor \(tensor.name) has type \(tensor.type), which Earshot cannot hold.")
                }
                requests.append(.init(size: max(size, 1), first: first[t], last: max(last[t], first[t])))
                owners.append(t)
            }
            let (offsets, size) = MemoryPlanner.plan(requests)
            var byTensor = [Int?](repeating: nil, count: graph.tensors.count)
            for (r, t) in owners.enumerated() { byTensor[t] = offsets[r] }
            regions.append((byTensor, total))
            total += (size + 15) / 16 * 16
        }
        // Allocate only once nothing above can throw: a failing initialiser never runs `deinit`.
        arenaSize = total
        constants = .allocate(byteCount: max(16, constantBytes), alignment: 16)
        arena = .allocate(byteCount: max(16, total), alignment: 16)
        arena.initializeMemory(as: UInt8.self, repeating: 0, count: max(16, total))

        // Tensor views.
        for (g, graph) in model.subgraphs.enumerated() {
            var views: [Tensor] = []
            for (t, tensor) in graph.tensors.enumerated() {
                if let offset = constantOffsets[g][t], let bytes = model.constantBytes(tensor) {
                    let destination = constants + offset
                    bytes.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                    views.append(Tensor(info: tensor, data: destination))
                } else if let offset = regions[g].offsets[t] {
                    views.append(Tensor(info: tensor, data: arena + regions[g].base + offset))
                } else {
                    views.append(Tensor(info: tensor, data: arena))   // never read or written by any operator
                }
            }
            tensors.append(views)
        }
        try prepareVariables()
        for (g, graph) in model.subgraphs.enumerated() {
            var kernels: [any Kernel] = []
            for (o, op) in graph.operators.enumerated() {
                let context = KernelContext(model: model, graph: g, index: o, op: op, tensors: tensors[g], interpreter: self)
                kernels.append(try KernelFactory.make(context))
            }
            graphs.append(kernels)
        }
    }

    deinit {
        arena.deallocate()
        constants.deallocate()
        for variable in variables { variable.pointer.deallocate() }
    }

    /// Storage for every resource variable, sized by the values assigned to it (found by scanning ASSIGN_VARIABLE).
    private func prepareVariables() throws(ModelError) {
        var sizes: [String: Int] = [:]
        var order: [String] = []
        for (g, graph) in model.subgraphs.enumerated() {
            let handles = variableHandles(graph: g)
            for op in graph.operators where op.code == BuiltinOperator.assignVariable.rawValue {
                guard op.inputs.count == 2, op.inputs[0] >= 0, op.inputs[1] >= 0, let name = handles[op.inputs[0]] else {
                    throw ModelError(.invalidModel, "\(model.label): ASSIGN_VARIABLE in subgraph \(g) does not take a VAR_HANDLE resource.")
                }
                let size = graph.tensors[op.inputs[1]].byteCount
                if let existing = sizes[name], existing != size {
                    throw ModelError(.invalidModel, "\(model.label): variable \(name) is assigned \(existing) and \(size) bytes.")
                }
                if sizes[name] == nil { order.append(name) }
                sizes[name] = size
            }
        }
        for name in order {
            let size = sizes[name]!
            let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(16, size), alignment: 16)
            pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(16, size))
            variables.append((pointer, size, name))
        }
    }

    /// Resource tensor index → variable name, for one subgraph's VAR_HANDLE operators.
    func variableHandles(graph g: Int) -> [Int: String] {
        var handles: [Int: String] = [:]
        for op in model.subgraphs[g].operators where op.code == BuiltinOperator.varHandle.rawValue {
            guard let output = op.outputs.first else { continue }
            let container = (try? op.options?.string(0, "container")) ?? nil
            let shared = (try? op.options?.string(1, "shared_name")) ?? nil
            handles[output] = "\(container ?? "")/\(shared ?? "tensor\(output)")"
        }
        return handles
    }

    /// The variable index for a name (for VAR_HANDLE kernels).
    func variableIndex(named name: String) -> Int? { variables.firstIndex { $0.name == name } }

    /// Runs subgraph 0 once.
    public func invoke() throws(ModelError) {
        try run(graph: 0)
    }

    /// Runs one subgraph (CALL_ONCE uses this for initialisation graphs).
    func run(graph index: Int) throws(ModelError) {
        for kernel in graphs[index] { try kernel.run() }
    }

    /// Clears all variables and re-arms CALL_ONCE, as for a new stream.
    public func reset() {
        initialized.removeAll(keepingCapacity: true)
        for variable in variables { variable.pointer.initializeMemory(as: UInt8.self, repeating: 0, count: variable.size) }
    }

    /// Graph input `i` of subgraph 0.
    public func input(_ i: Int) throws(ModelError) -> Tensor {
        let graph = model.subgraphs[0]
        guard i >= 0 && i < graph.inputs.count else { throw ModelError(.invalidInput, "\(model.label) has \(graph.inputs.count) input(s); asked for input \(i).") }
        return tensors[0][graph.inputs[i]]
    }

    /// Graph output `i` of subgraph 0.
    public func output(_ i: Int) throws(ModelError) -> Tensor {
        let graph = model.subgraphs[0]
        guard i >= 0 && i < graph.outputs.count else { throw ModelError(.invalidInput, "\(model.label) has \(graph.outputs.count) output(s); asked for output \(i).") }
        return tensors[0][graph.outputs[i]]
    }

    /// Copies `values` into input `i`, checking type and count.
    public func setInput<T: FixedWidthInteger>(_ i: Int, _ values: [T]) throws(ModelError) {
        let tensor = try input(i)
        guard tensor.type.size == MemoryLayout<T>.size, values.count == tensor.count else {
            throw ModelError(.invalidInput, "\(model.label) input \(i) (\(tensor.info.name)) takes \(tensor.count) × \(tensor.type); got \(values.count) × \(T.self).")
        }
        values.withUnsafeBytes { tensor.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// Copies float `values` into a FLOAT32 input `i`.
    public func setInput(_ i: Int, _ values: [Float]) throws(ModelError) {
        let tensor = try input(i)
        guard tensor.type == .float32, values.count == tensor.count else {
            throw ModelError(.invalidInput, "\(model.label) input \(i) (\(tensor.info.name)) takes \(tensor.count) × \(tensor.type); got \(values.count) × Float.")
        }
        values.withUnsafeBytes { tensor.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// Output `i` as integers (int8, uint8, int16, int32 are widened), whatever its type.
    public func outputIntegers(_ i: Int) throws(ModelError) -> [Int] {
        let tensor = try output(i)
        switch tensor.type {
        case .int8: return (0..<tensor.count).map { Int(tensor.pointer(Int8.self)[$0]) }
        case .uint8: return (0..<tensor.count).map { Int(tensor.pointer(UInt8.self)[$0]) }
        case .int16: return (0..<tensor.count).map { Int(tensor.pointer(Int16.self)[$0]) }
        case .int32: return (0..<tensor.count).map { Int(tensor.pointer(Int32.self)[$0]) }
        default: throw ModelError(.unsupportedType, "\(model.label) output \(i) is \(tensor.type), not an integer type.")
        }
    }

    /// Output `i` as real numbers: dequantised integers, or floats as they are.
    public func outputReals(_ i: Int) throws(ModelError) -> [Double] {
        let tensor = try output(i)
        if tensor.type == .float32 { return (0..<tensor.count).map { Double(tensor.pointer(Float.self)[$0]) } }
        let scale = Double(tensor.scale), zero = Int(tensor.zeroPoint)
        return try outputIntegers(i).map { tensor.info.quantization.isQuantized ? scale * Double($0 - zero) : Double($0) }
    }
}
