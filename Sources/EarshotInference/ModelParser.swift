import Foundation

extension Model {
    /// The largest model accepted (bytes): well above any edge speech model, well below memory trouble.
    public static let maximumSize = 256 << 20
    /// The largest tensor accepted (elements).
    public static let maximumTensorElements = 1 << 28

    /// Reads and validates a `.tflite` file.
    public init(contentsOf path: String) throws(ModelError) {
        let data: Data
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            if let size = attributes[.size] as? Int, size > Self.maximumSize {
                throw ModelError(.invalidModel, "\(path) is \(size) bytes; models over \(Self.maximumSize >> 20) MiB are refused.")
            }
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch let error as ModelError {
            throw error
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw ModelError(.io, "Model \(path) \(reason).")
        }
        try self.init(bytes: [UInt8](data), label: (path as NSString).lastPathComponent)
    }

    /// Parses and validates model bytes. Every offset, index, length and shape is checked; bad input throws.
    public init(bytes: [UInt8], label: String = "model") throws(ModelError) {
        func fail(_ message: String) -> ModelError { ModelError(.malformed, "\(label): malformed model: \(message).") }
        guard bytes.count >= 8 else { throw fail("only \(bytes.count) bytes") }
        guard bytes.count <= Self.maximumSize else { throw ModelError(.invalidModel, "\(label): \(bytes.count) bytes is too large.") }
        guard bytes[4..<8].elementsEqual(Array("TFL3".utf8)) else {
            throw fail("no TFL3 identifier; this is not a TensorFlow Lite flatbuffer")
        }
        let buffer = FlatBuffer(bytes: bytes)
        do throws(ModelError) {
            let root = try buffer.root()
            let version = try root.scalar(0, default: UInt32(0))
            guard version == 3 else { throw ModelError.invalid("schema version \(version); only version 3 is supported") }

            // Operator codes: the builtin code is the larger of the two fields (TFLite's own rule).
            var codes: [(code: Int32, custom: String?)] = []
            for table in try root.tables(1, "operator_codes") {
                let deprecated = Int32(try table.scalar(0, default: Int8(0)))
                let builtin = try table.scalar(3, default: Int32(0))
                codes.append((max(deprecated, builtin), try table.string(1, "custom_code")))
            }

            // Buffers: inline data, or an offset/size into the file for large models.
            var buffers: [Range<Int>?] = []
            for (index, table) in try root.tables(4, "buffers").enumerated() {
                if let range = try table.byteRange(0, "buffers[\(index)].data"), !range.isEmpty {
                    buffers.append(range)
                    continue
                }
                let offset = try table.scalar(1, default: UInt64(0))
                let size = try table.scalar(2, default: UInt64(0))
                if offset > 1 && size > 0 {
                    guard offset < UInt64(bytes.count), size <= UInt64(bytes.count) - offset else {
                        throw ModelError.malformed("buffers[\(index)] points past the end of the file")
                    }
                    buffers.append(Int(offset)..<Int(offset + size))
                } else {
                    buffers.append(nil)
                }
            }

            var subgraphs: [SubgraphInfo] = []
            let subgraphTables = try root.tables(2, "subgraphs")
            guard !subgraphTables.isEmpty else { throw ModelError.invalid("no subgraphs") }
            for (graphIndex, graph) in subgraphTables.enumerated() {
                let where_ = "subgraph \(graphIndex)"
                var tensors: [TensorInfo] = []
                for (index, table) in try graph.tables(0, "\(where_) tensors").enumerated() {
                    tensors.append(try Self.parseTensor(table, index: index, buffers: buffers, where: where_))
                }
                func checkIndices(_ list: [Int32], _ what: String, optional: Bool) throws(ModelError) -> [Int] {
                    try list.map { (i) throws(ModelError) -> Int in
                        if optional && i == -1 { return -1 }
                        guard i >= 0 && Int(i) < tensors.count else {
                            throw ModelError.malformed("\(where_) \(what) names tensor \(i) of \(tensors.count)")
                        }
                        return Int(i)
                    }
                }
                var operators: [OperatorInfo] = []
                for (index, table) in try graph.tables(3, "\(where_) operators").enumerated() {
                    let opcode = Int(try table.scalar(0, default: UInt32(0)))
                    guard opcode < codes.count else {
                        throw ModelError.malformed("\(where_) operator \(index) uses operator code \(opcode) of \(codes.count)")
                    }
                    let inputs = try checkIndices(try table.scalars(1, Int32.self, "inputs"), "operator \(index) input", optional: true)
                    let outputs = try checkIndices(try table.scalars(2, Int32.self, "outputs"), "operator \(index) output", optional: false)
                    let options = try table.table(4, "operator \(index) options")
                    operators.append(OperatorInfo(code: codes[opcode].code, customName: codes[opcode].custom,
                                                  inputs: inputs, outputs: outputs, options: options))
                }
                subgraphs.append(SubgraphInfo(
                    name: try graph.string(4, "name") ?? "subgraph\(graphIndex)", tensors: tensors,
                    inputs: try checkIndices(try graph.scalars(1, Int32.self, "inputs"), "input", optional: false),
                    outputs: try checkIndices(try graph.scalars(2, Int32.self, "outputs"), "output", optional: false),
                    operators: operators))
            }
            self.init(label: label, version: version, description: try root.string(3, "description"),
                      subgraphs: subgraphs, buffer: buffer)
        } catch {
            throw ModelError(error.code, "\(label): \(error.message)")
        }
    }

    private static func parseTensor(_ table: FlatBuffer.Table, index: Int, buffers: [Range<Int>?], where place: String) throws(ModelError) -> TensorInfo {
        let name = try table.string(3, "tensor name") ?? "tensor\(index)"
        let rawType = try table.scalar(1, default: Int8(0))
        guard let type = TensorType(rawValue: rawType) else {
            throw ModelError.invalid("\(place) tensor \(index) (\(name)) has unknown type \(rawType)")
        }
        let shape = try table.scalars(0, Int32.self, "tensor \(name) shape").map(Int.init)
        guard shape.count <= 6 else { throw ModelError.invalid("tensor \(name) has \(shape.count) dimensions; at most 6 are supported") }
        var elements = 1
        for dimension in shape {
            guard dimension >= 0 else { throw ModelError.invalid("tensor \(name) has a negative dimension \(dimension)") }
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= maximumTensorElements else { throw ModelError.invalid("tensor \(name) is too large") }
            elements = product
        }
        let bufferIndex = Int(try table.scalar(2, default: UInt32(0)))
        guard bufferIndex < max(1, buffers.count) else {
            throw ModelError.malformed("tensor \(name) uses buffer \(bufferIndex) of \(buffers.count)")
        }
        let data = bufferIndex < buffers.count ? buffers[bufferIndex] : nil
        if let data, type.size > 0, data.count != elements * type.size {
            throw ModelError.invalid("tensor \(name) holds \(data.count) bytes but \(shape) × \(type) needs \(elements * type.size)")
        }
        var quantization = Quantization(scales: [], zeroPoints: [], dimension: 0)
        if let q = try table.table(4, "tensor \(name) quantization") {
            quantization.scales = try q.floats(2, "tensor \(name) scales")
            quantization.zeroPoints = try q.scalars(3, Int64.self, "tensor \(name) zero points")
            quantization.dimension = Int(try q.scalar(6, default: Int32(0)))
            if !quantization.scales.isEmpty {
                guard quantization.scales.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                    throw ModelError.invalid("tensor \(name) has a non-positive or non-finite scale")
                }
                guard quantization.zeroPoints.count == quantization.scales.count || quantization.zeroPoints.count <= 1 else {
                    throw ModelError.invalid("tensor \(name) has \(quantization.scales.count) scales but \(quantization.zeroPoints.count) zero points")
                }
                if quantization.scales.count > 1 {
                    guard quantization.dimension >= 0, quantization.dimension < shape.count,
                          shape[quantization.dimension] == quantization.scales.count else {
                        throw ModelError.invalid("tensor \(name)'s \(quantization.scales.count) per-channel scales do not match dimension \(quantization.dimension) of \(shape)")
                    }
                }
            }
        }
        return TensorInfo(name: name, type: type, shape: shape, quantization: quantization, data: data,
                          isVariable: try table.scalar(5, default: UInt8(0)) != 0)
    }
}
