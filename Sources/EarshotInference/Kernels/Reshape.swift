/// RESHAPE (and any op that only reinterprets bytes): copies the input's bytes to the output.
final class CopyKernel: Kernel {
    let source: UnsafeRawPointer, destination: UnsafeMutableRawPointer, byteCount: Int

    init(_ c: KernelContext) throws(ModelError) {
        let input = try c.input(0), output = try c.output(0)
        guard input.count == output.count, input.type == output.type else {
            throw c.error("input \(input.shape) \(input.type) and output \(output.shape) \(output.type) differ in size or type")
        }
        if input.info.quantization.isQuantized && output.info.quantization.isQuantized {
            guard input.scale == output.scale && input.zeroPoint == output.zeroPoint else { throw c.error("input and output quantisation differ") }
        }
        source = UnsafeRawPointer(input.data); destination = output.data; byteCount = input.info.byteCount
    }

    func run() {
        if source != UnsafeRawPointer(destination) { destination.copyMemory(from: source, byteCount: byteCount) }
    }
}
