import EarshotInference
import Foundation
import Testing

/// Single-operator models with random shapes and quantisation (scripts/oracles/make_op_vectors.py), run by our
/// interpreter and compared with LiteRT's reference kernels bit for bit.
@Suite("Operators vs LiteRT reference kernels")
struct OperatorTests {
    static var cases: [[String: Any]] {
        let url = Bundle.module.url(forResource: "Vectors/ops/cases.json", withExtension: nil)!
        let object = try? JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        return object?["cases"] as? [[String: Any]] ?? []
    }
    static let names: [String] = cases.compactMap { $0["name"] as? String }

    /// TFLM compatibility rounds FULLY_CONNECTED twice; on the wide cases some outputs must then differ from
    /// LiteRT's single rounding by exactly one (proof that the wide cases tell the two apart).
    @Test func tflmCompatibilityDiffersOnlyByOneInFullyConnected() throws {
        var differing = 0
        for name in Self.names where name.hasPrefix("fully_connected_wide") {
            let entry = try #require(Self.cases.first { $0["name"] as? String == name })
            let url = try #require(Bundle.module.url(forResource: "Vectors/ops/\(name)", withExtension: "tflite"))
            let interpreter = try Interpreter(model: try Model(contentsOf: url.path), compatibility: .tflm)
            try interpreter.setInput(0, (entry["inputs"] as! [[Double]])[0].map { Int8($0) })
            try interpreter.invoke()
            let reference = (entry["reference"] as! [[Double]])[0].map(Int.init)
            for (ours, theirs) in zip(try interpreter.outputIntegers(0), reference) where ours != theirs {
                #expect(abs(ours - theirs) == 1)
                differing += 1
            }
        }
        #expect(differing > 0)
    }

    @Test(arguments: names, KernelSet.allCases)
    func outputsEqualTheReference(name: String, kernels: KernelSet) throws {
        let entry = try #require(Self.cases.first { $0["name"] as? String == name })
        let url = try #require(Bundle.module.url(forResource: "Vectors/ops/\(name)", withExtension: "tflite"))
        let interpreter = try Interpreter(model: try Model(contentsOf: url.path), kernels: kernels)
        let inputs = entry["inputs"] as! [[Double]]
        for (index, values) in inputs.enumerated() {
            let tensor = try interpreter.input(index)
            switch tensor.type {
            case .float32: try interpreter.setInput(index, values.map { Float($0) })
            case .uint8: try interpreter.setInput(index, values.map { UInt8($0) })
            default: try interpreter.setInput(index, values.map { Int8($0) })
            }
        }
        try interpreter.invoke()
        let expected = entry["reference"] as! [[Double]]
        for (index, values) in expected.enumerated() {
            let output = try interpreter.output(index)
            let ours: [Double] = output.type == .float32 ? try interpreter.outputReals(index) : try interpreter.outputIntegers(index).map(Double.init)
            if output.type == .float32 {
                // Float outputs (DEQUANTIZE) are compared as the float32 values LiteRT produced.
                #expect(ours.map { Float($0) } == values.map { Float($0) }, "\(name) output \(index)")
            } else {
                let first = ours.indices.first { $0 >= values.count || ours[$0] != values[$0] }
                #expect(ours.count == values.count && first == nil,
                        "\(name) output \(index): element \(first ?? -1) is \(first.map { ours[$0] } ?? 0), reference \(first.map { values[$0] } ?? 0)")
            }
        }
    }
}
