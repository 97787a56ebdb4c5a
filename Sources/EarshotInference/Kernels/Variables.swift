/// VAR_HANDLE: writes the resource id of a named variable into its output.
final class VarHandleKernel: Kernel {
    let output: UnsafeMutablePointer<Int32>, id: Int32

    init(_ c: KernelContext) throws(ModelError) {
        let output = try c.output(0)
        let container = try c.options?.string(0, "container") ?? ""
        let shared = try c.options?.string(1, "shared_name") ?? "tensor\(c.op.outputs[0])"
        // A handle never assigned anywhere has no storage: it can only be read, which is an error at load.
        guard let index = c.interpreter.variableIndex(named: "\(container)/\(shared)") else {
            throw c.error("variable \(shared) is never assigned")
        }
        self.output = output.data.assumingMemoryBound(to: Int32.self)
        id = Int32(index)
    }

    func run() { output.pointee = id }
}

/// READ_VARIABLE: copies a variable's value to the output.
final class ReadVariableKernel: Kernel {
    let resource: UnsafePointer<Int32>, output: UnsafeMutableRawPointer, byteCount: Int
    unowned let interpreter: Interpreter

    init(_ c: KernelContext) throws(ModelError) {
        let resource = try c.input(0), output = try c.output(0)
        self.resource = UnsafePointer(resource.data.assumingMemoryBound(to: Int32.self))
        self.output = output.data; byteCount = output.info.byteCount; interpreter = c.interpreter
    }

    func run() throws(ModelError) {
        let id = Int(resource.pointee)
        guard id >= 0 && id < interpreter.variables.count, interpreter.variables[id].size == byteCount else {
            throw ModelError(.invalidModel, "READ_VARIABLE of an unknown or differently sized variable.")
        }
        output.copyMemory(from: interpreter.variables[id].pointer, byteCount: byteCount)
    }
}

/// ASSIGN_VARIABLE: copies the value input into the variable.
final class AssignVariableKernel: Kernel {
    let resource: UnsafePointer<Int32>, value: UnsafeRawPointer, byteCount: Int
    unowned let interpreter: Interpreter

    init(_ c: KernelContext) throws(ModelError) {
        let resource = try c.input(0), value = try c.input(1)
        self.resource = UnsafePointer(resource.data.assumingMemoryBound(to: Int32.self))
        self.value = UnsafeRawPointer(value.data); byteCount = value.info.byteCount; interpreter = c.interpreter
    }

    func run() throws(ModelError) {
        let id = Int(resource.pointee)
        guard id >= 0 && id < interpreter.variables.count, interpreter.variables[id].size == byteCount else {
            throw ModelError(.invalidModel, "ASSIGN_VARIABLE to an unknown or differently sized variable.")
        }
        interpreter.variables[id].pointer.copyMemory(from: value, byteCount: byteCount)
    }
}

/// CALL_ONCE: runs an initialisation subgraph the first time, and never again until `reset()`.
final class CallOnceKernel: Kernel {
    let subgraph: Int
    unowned let interpreter: Interpreter

    init(_ c: KernelContext) throws(ModelError) {
        let index = Int(try c.option(0, default: Int32(0)))
        guard index > 0, index < c.model.subgraphs.count, index != c.graph else { throw c.error("init subgraph \(index) does not exist") }
        subgraph = index; interpreter = c.interpreter
    }

    func run() throws(ModelError) {
        guard !interpreter.initialized.contains(subgraph) else { return }
        interpreter.initialized.insert(subgraph)
        try interpreter.run(graph: subgraph)
    }
}
