/// CONCATENATION along any axis; all inputs share the output's quantisation, as TFLite requires for int8.
final class ConcatenationKernel: Kernel {
    let inputs: [(pointer: UnsafeRawPointer, chunk: Int)], output: UnsafeMutableRawPointer, outerSize: Int, outputChunk: Int

    init(_ c: KernelContext) throws(ModelError) {
        let output = try c.output(0)
        var axis = Int(try c.option(0, default: Int32(0)))
        if axis < 0 { axis += output.shape.count }
        guard axis >= 0 && axis < output.shape.count else { throw c.error("axis \(axis) is outside \(output.shape)") }
        guard try c.activation(1) == .none else { throw c.unsupported("a fused activation") }
        let elementSize = output.type.size
        guard elementSize > 0 else { throw c.unsupported("type \(output.type)") }
        var inputs: [(UnsafeRawPointer, Int)] = []
        var total = 0
        for i in 0..<c.op.inputs.count {
            let input = try c.input(i)
            guard input.type == output.type, input.shape.count == output.shape.count else { throw c.error("input \(i) differs in type or rank") }
            for d in 0..<output.shape.count where d != axis {
                guard input.shape[d] == output.shape[d] else { throw c.error("input \(i) shape \(input.shape) does not fit \(output.shape)") }
            }
            if output.info.quantization.isQuantized {
                guard input.scale == output.scale, input.zeroPoint == output.zeroPoint else { throw c.unsupported("inputs quantised differently from the output") }
            }
            let inner = input.shape[axis...].reduce(1, *) * elementSize
            inputs.append((UnsafeRawPointer(input.data), inner))
            total += input.shape[axis]
        }
        guard total == output.shape[axis] else { throw c.error("inputs add up to \(total) along axis \(axis), output has \(output.shape[axis])") }
        outerSize = output.shape[..<axis].reduce(1, *)
        outputChunk = output.shape[axis...].reduce(1, *) * elementSize
        self.inputs = inputs; self.output = output.data
    }

    func run() {
        for o in 0..<outerSize {
            var position = output + o * outputChunk
            for input in inputs {
                position.copyMemory(from: input.pointer + o * input.chunk, byteCount: input.chunk)
                position += input.chunk
            }
        }
    }
}

/// SPLIT_V: cuts the input along an axis into pieces of the given sizes (one may be −1).
final class SplitVKernel: Kernel {
    let input: UnsafeRawPointer, outputs: [(pointer: UnsafeMutableRawPointer, chunk: Int)], outerSize: Int, inputChunk: Int

    init(_ c: KernelContext) throws(ModelError) {
        let input = try c.input(0)
        let sizes = try c.constantInt32(try c.input(1)).map(Int.init)
        let axisValues = try c.constantInt32(try c.input(2))
        guard axisValues.count == 1 else { throw c.error("axis must be a scalar") }
        var axis = Int(axisValues[0])
        if axis < 0 { axis += input.shape.count }
        guard axis >= 0 && axis < input.shape.count else { throw c.error("axis \(axis) is outside \(input.shape)") }
        guard sizes.count == c.op.outputs.count else { throw c.error("\(sizes.count) sizes for \(c.op.outputs.count) outputs") }
        let known = sizes.filter { $0 >= 0 }.reduce(0, +)
        let resolved = sizes.map { $0 < 0 ? input.shape[axis] - known : $0 }
        guard resolved.allSatisfy({ $0 >= 0 }), resolved.reduce(0, +) == input.shape[axis] else { throw c.error("sizes \(sizes) do not add up to \(input.shape[axis])") }
        let elementSize = input.type.size
        let inner = input.shape[(axis + 1)...].reduce(1, *) * elementSize
        var outputs: [(UnsafeMutableRawPointer, Int)] = []
        for (i, size) in resolved.enumerated() {
            let output = try c.output(i)
            guard output.type == input.type, output.count == input.count / max(1, input.shape[axis]) * size else { throw c.error("output \(i) has the wrong size") }
            outputs.append((output.data, size * inner))
        }
        outerSize = input.shape[..<axis].reduce(1, *)
        inputChunk = input.shape[axis...].reduce(1, *) * elementSize
        self.input = UnsafeRawPointer(input.data); self.outputs = outputs
    }

    func run() {
        for o in 0..<outerSize {
            var position = input + o * inputChunk
            for output in outputs {
                (output.pointer + o * output.chunk).copyMemory(from: position, byteCount: output.chunk)
                position += output.chunk
            }
        }
    }
}

/// STRIDED_SLICE with begin/end/shrink masks and `offset` (ellipsis and new-axis masks are refused).
final class StridedSliceKernel: Kernel {
    let input: UnsafeRawPointer, output: UnsafeMutableRawPointer, elementSize: Int
    let sourceOffsets: [Int32]

    init(_ c: KernelContext) throws(ModelError) {
        let input = try c.input(0), output = try c.output(0)
        guard input.type == output.type, input.type.size > 0 else { throw c.error("input and output types differ") }
        let rank = input.shape.count
        var begin = try c.constantInt32(try c.input(1)).map(Int.init)
        var end = try c.constantInt32(try c.input(2)).map(Int.init)
        let strides = try c.constantInt32(try c.input(3)).map(Int.init)
        guard begin.count == end.count, end.count == strides.count, begin.count <= rank else { throw c.error("begin/end/strides do not match the input rank") }
        let beginMask = Int(try c.option(0, default: Int32(0))), endMask = Int(try c.option(1, default: Int32(0)))
        let ellipsisMask = Int(try c.option(2, default: Int32(0))), newAxisMask = Int(try c.option(3, default: Int32(0)))
        let shrinkMask = Int(try c.option(4, default: Int32(0))), offset = try c.option(5, default: UInt8(0)) != 0
        guard ellipsisMask == 0, newAxisMask == 0 else { throw c.unsupported("ellipsis or new-axis masks") }
        guard strides.allSatisfy({ $0 != 0 }) else { throw c.error("a stride is zero") }
        if offset { for d in 0..<begin.count { end[d] += begin[d] } }
        // Dimensions past the given ones are taken whole.
        while begin.count < rank { begin.append(0); end.append(input.shape[begin.count - 1]) }
        let fullStrides = strides + [Int](repeating: 1, count: rank - strides.count)
        var ranges: [[Int]] = []
        for d in 0..<rank {
            let size = input.shape[d], stride = fullStrides[d]
            var start = begin[d]
            if beginMask & (1 << d) != 0 { start = stride > 0 ? 0 : size - 1 } else {
                if start < 0 { start += size }
                start = stride > 0 ? min(max(start, 0), size) : min(max(start, -1), size - 1)
            }
            var stop: Int
            if shrinkMask & (1 << d) != 0 { stop = start + 1 } else if endMask & (1 << d) != 0 { stop = stride > 0 ? size : -1 } else {
                stop = end[d]
                if stop < 0 { stop += size }
                stop = stride > 0 ? min(max(stop, 0), size) : min(max(stop, -1), size - 1)
            }
            // A shrunk axis keeps exactly the element at `start`, whatever the stride's sign.
            ranges.append(shrinkMask & (1 << d) != 0 ? [start] : Array(Swift.stride(from: start, to: stop, by: fullStrides[d])))
        }
        let total = ranges.reduce(1) { $0 * $1.count }
        guard total == output.count else { throw c.error("slice has \(total) elements, output \(output.shape) has \(output.count)") }
        var inputStrides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { inputStrides[d] = inputStrides[d + 1] * input.shape[d + 1] }
        var offsets: [Int32] = []
        offsets.reserveCapacity(total)
        func walk(_ d: Int, _ base: Int) {
            if d == rank { offsets.append(Int32(base)); return }
            for i in ranges[d] { walk(d + 1, base + i * inputStrides[d]) }
        }
        if total > 0 { walk(0, 0) }
        sourceOffsets = offsets
        self.input = UnsafeRawPointer(input.data); self.output = output.data; elementSize = input.type.size
    }

    func run() {
        sourceOffsets.withUnsafeBufferPointer { offsets in
            for (i, offset) in offsets.enumerated() {
                (output + i * elementSize).copyMemory(from: input + Int(offset) * elementSize, byteCount: elementSize)
            }
        }
    }
}

/// PAD with constant padding: the quantised zero (the output's zero point) for int8, else 0.
final class PadKernel: Kernel {
    let input: UnsafeRawPointer, output: UnsafeMutableRawPointer, elementSize: Int, outputCount: Int
    let sourceOffsets: [Int32]   // −1 where the output is padding
    let padByte: UInt8

    init(_ c: KernelContext) throws(ModelError) {
        let input = try c.input(0), output = try c.output(0)
        guard input.type == output.type, input.type.size > 0 else { throw c.error("input and output types differ") }
        let paddings = try c.constantInt32(try c.input(1)).map(Int.init)
        let rank = input.shape.count
        guard paddings.count == 2 * rank, paddings.allSatisfy({ $0 >= 0 }) else { throw c.error("paddings must be [\(rank), 2] and non-negative") }
        var outShape: [Int] = []
        for d in 0..<rank { outShape.append(input.shape[d] + paddings[2 * d] + paddings[2 * d + 1]) }
        guard outShape == output.shape else { throw c.error("output \(output.shape) should be \(outShape)") }
        if output.info.quantization.isQuantized {
            guard input.scale == output.scale, input.zeroPoint == output.zeroPoint else { throw c.error("input and output quantisation differ") }
        }
        padByte = output.type == .int8 ? UInt8(bitPattern: Int8(truncatingIfNeeded: output.zeroPoint)) :
                  output.type == .uint8 ? UInt8(truncatingIfNeeded: output.zeroPoint) : 0
        guard output.type.size == 1 || output.zeroPoint == 0 else { throw c.unsupported("a non-zero pad value for wide types") }
        var inputStrides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { inputStrides[d] = inputStrides[d + 1] * input.shape[d + 1] }
        var offsets = [Int32](repeating: -1, count: output.count)
        var counter = [Int](repeating: 0, count: rank)
        for i in 0..<output.count {
            var source = 0, inside = true
            for d in 0..<rank {
                let x = counter[d] - paddings[2 * d]
                if x < 0 || x >= input.shape[d] { inside = false; break }
                source += x * inputStrides[d]
            }
            if inside { offsets[i] = Int32(source) }
            var d = rank - 1
            while d >= 0 { counter[d] += 1; if counter[d] < outShape[d] { break }; counter[d] = 0; d -= 1 }
        }
        sourceOffsets = offsets
        self.input = UnsafeRawPointer(input.data); self.output = output.data; elementSize = input.type.size; outputCount = output.count
    }

    func run() {
        sourceOffsets.withUnsafeBufferPointer { offsets in
            for i in 0..<outputCount {
                let destination = output + i * elementSize
                if offsets[i] < 0 { destination.initializeMemory(as: UInt8.self, repeating: padByte, count: elementSize) }
                else { destination.copyMemory(from: input + Int(offsets[i]) * elementSize, byteCount: elementSize) }
            }
        }
    }
}

/// MEAN over constant axes, int8, with `keep_dims` (TFLite `reference_ops::QuantizedMeanOrSum`).
final class MeanKernel: Kernel {
    let input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>
    let outputIndex: [Int32], outputCount: Int, elementsPerOutput: Int
    let inputZeroPoint: Int32, outputZeroPoint: Int32, multiplier: Int32, shift: Int
    var sums: [Int32]

    init(_ c: KernelContext) throws(ModelError) {
        let input = try c.input(0), output = try c.output(0)
        try c.expect(input, [.int8], "input"); try c.expect(output, [.int8], "output")
        try c.expectQuantized(input, "input"); try c.expectQuantized(output, "output")
        let rank = input.shape.count
        var axes = Set<Int>()
        for a in try c.constantInt32(try c.input(1)).map(Int.init) {
            let axis = a < 0 ? a + rank : a
            guard axis >= 0 && axis < rank else { throw c.error("axis \(a) is outside \(input.shape)") }
            axes.insert(axis)
        }
        let kept = (0..<rank).filter { !axes.contains($0) }
        guard kept.map({ input.shape[$0] }).reduce(1, *) == output.count else { throw c.error("output \(output.shape) does not match the reduction") }
        var inputStrides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { inputStrides[d] = inputStrides[d + 1] * input.shape[d + 1] }
        var index = [Int32](repeating: 0, count: input.count)
        var counter = [Int](repeating: 0, count: rank)
        for i in 0..<input.count {
            var o = 0
            for d in kept { o = o * input.shape[d] + counter[d] }
            index[i] = Int32(o)
            var d = rank - 1
            while d >= 0 { counter[d] += 1; if counter[d] < input.shape[d] { break }; counter[d] = 0; d -= 1 }
        }
        outputIndex = index
        outputCount = output.count
        elementsPerOutput = axes.map { input.shape[$0] }.reduce(1, *)
        inputZeroPoint = input.zeroPoint
        outputZeroPoint = output.zeroPoint
        var (m, s) = FixedPointMath.quantizeMultiplier(Double(input.scale) / Double(output.scale))
        // Fold the 1/n of the mean into the multiplier, as TFLite does.
        if elementsPerOutput > 0 {
            var extra = 63 - UInt64(elementsPerOutput).leadingZeroBitCount
            extra = min(extra, 32, 31 + s)
            m = Int32(truncatingIfNeeded: (Int64(m) << Int64(extra)) / Int64(elementsPerOutput))
            s -= extra
        }
        multiplier = m; shift = s
        sums = [Int32](repeating: 0, count: output.count)
        self.input = UnsafePointer(input.pointer(Int8.self)); self.output = output.pointer(Int8.self)
    }

    func run() {
        sums.withUnsafeMutableBufferPointer { sum in
            for i in 0..<sum.count { sum[i] = 0 }
            outputIndex.withUnsafeBufferPointer { index in
                for i in 0..<index.count { sum[Int(index[i])] &+= Int32(input[i]) }
            }
            for o in 0..<outputCount {
                let shifted = sum[o] &- inputZeroPoint &* Int32(elementsPerOutput)
                let value = FixedPointMath.multiplyByQuantizedMultiplier(shifted, multiplier, shift) &+ outputZeroPoint
                output[o] = Int8(clamping: value)
            }
        }
    }
}
