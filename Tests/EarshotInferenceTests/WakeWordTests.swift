import EarshotDSP
import EarshotInference
import EarshotTestSupport
import Foundation
import Testing

/// The microWakeWord models shipped in pymicro-wakeword, streamed through our frontend and interpreter, against
/// the package's own pipeline (its frontend, its quantisation, its TensorFlow Lite library) invocation by invocation.
@Suite("microWakeWord models vs pymicro-wakeword")
struct WakeWordTests {
    static var reference: [String: Any] {
        let url = Bundle.module.url(forResource: "Vectors/wakeword_reference.json", withExtension: nil)!
        return (try? JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]) ?? [:]
    }
    static let cases: [(String, String)] = {
        let models = reference["models"] as? [String: [String: Any]] ?? [:]
        return models.keys.sorted().flatMap { model in models[model]!.keys.sorted().map { (model, $0) } }
    }()

    /// Where the installed package keeps its models: `$EARSHOT_MWW_MODELS`, else `.venv-oracles` (scripts/oracles/install-venv.sh).
    static var modelDirectory: String? {
        if let path = ProcessInfo.processInfo.environment["EARSHOT_MWW_MODELS"] { return path }
        let lib = Fixtures.packageRoot + "/.venv-oracles/lib"
        guard let python = try? FileManager.default.contentsOfDirectory(atPath: lib).first(where: { $0.hasPrefix("python") }) else { return nil }
        let path = "\(lib)/\(python)/site-packages/pymicro_wakeword/models"
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    static func samples(_ clip: String) throws -> [Int16] {
        if let url = Bundle.module.url(forResource: "Vectors/audio/\(clip)", withExtension: "raw") {
            return try Fixtures.int16Samples(rawFile: url.path)
        }
        if clip == "espeak_okay_nabu_twice" {
            let once = try samples("espeak_okay_nabu")
            return once + [Int16](repeating: 0, count: 8_000) + once
        }
        if clip.hasPrefix("espeak_") {
            return try Fixtures.int16Samples(rawFile: Fixtures.packageRoot + "/Tests/EarshotDSPTests/Vectors/audio/\(clip).raw")
        }
        if clip == "pocketsphinx_goforward" { return try Fixtures.int16Samples(rawFile: Fixtures.path("pocketsphinx/goforward.raw")) }
        let word = clip.replacingOccurrences(of: "speech_commands_", with: "")
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tflm-micro-speech/\(word)_1000ms.wav")))
        return data.dropFirst(44).withUnsafeBytes { bytes in
            (0..<(bytes.count / 2)).map { Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self)) }
        }
    }

    /// Every invocation equals LiteRT's reference kernels (BUILTIN_REF) on the same inputs, bit for bit.
    @Test(arguments: cases)
    func streamingOutputsEqualLiteRTReferenceKernels(model: String, clip: String) throws {
        let outputs = try run(model: model, clip: clip)
        #expect(try run(model: model, clip: clip, kernels: .reference) == outputs, "fast and reference kernels agree")
        let expected = (((Self.reference["models"] as! [String: [String: Any]])[model]![clip]) as! [String: Any])["litert_reference_outputs"] as! [Int]
        let first = outputs.indices.first { $0 >= expected.count || outputs[$0] != expected[$0] }
        #expect(outputs.count == expected.count)
        #expect(first == nil, "\(model)/\(clip): invocation \(first ?? -1) gives \(first.map { outputs[$0] } ?? 0), LiteRT reference \(first.map { expected[$0] } ?? 0)")
    }

    /// Against the package's own library (LiteRT's optimised kernels, which differ from the reference kernels by an
    /// LSB in some depthwise convolutions): the wake-word decisions are identical and no probability is off by more
    /// than 16/256.
    @Test(arguments: cases)
    func decisionsEqualThePackage(model: String, clip: String) throws {
        let outputs = try run(model: model, clip: clip)
        let expected = (((Self.reference["models"] as! [String: [String: Any]])[model]![clip]) as! [String: Any])["outputs"] as! [Int]
        #expect(outputs.count == expected.count)
        let worst = zip(outputs, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 16, "\(model)/\(clip): largest difference \(worst)/256")
        #expect(Self.detections(outputs) == Self.detections(expected), "\(model)/\(clip): wake-word decisions differ")
    }

    /// microWakeWord's decision rule: the mean of the last 5 probabilities above the model's cutoff (0.85 for these).
    static func detections(_ outputs: [Int]) -> [Bool] {
        outputs.indices.map { i in
            let window = outputs[max(0, i - 4)...i]
            return window.count == 5 && Double(window.reduce(0, +)) / 5 / 256 > 0.85
        }
    }

    func run(model: String, clip: String, kernels: KernelSet = .fast) throws -> [Int] {
        let directory = try #require(Self.modelDirectory, "pymicro-wakeword is not installed: run scripts/oracles/install-venv.sh (make test does)")
        let expected = ((Self.reference["models"] as! [String: [String: Any]])[model]![clip]) as! [String: Any]
        let expectedInputs = expected["inputs"] as! [[Int]]
        let interpreter = try Interpreter(model: try Model(contentsOf: "\(directory)/\(model).tflite"), kernels: kernels)
        let input = try interpreter.input(0)
        let stride = input.dimension(1)
        let frames = try Frontend(.microWakeWord).frames(of: try Self.samples(clip))
        var inputs: [[Int]] = [], outputs: [Int] = []
        var pending: [Int8] = []
        for frame in frames {
            pending += frame.map { WakeWordQuantization.int8(feature: $0, scale: input.scale, zeroPoint: input.zeroPoint) }
            if pending.count == stride * frame.count {
                inputs.append(pending.map(Int.init))
                try interpreter.setInput(0, pending)
                try interpreter.invoke()
                outputs.append(try interpreter.outputIntegers(0)[0])
                pending.removeAll()
            }
        }
        #expect(inputs.count == expectedInputs.count)
        let firstInput = inputs.indices.first { $0 < expectedInputs.count && inputs[$0] != expectedInputs[$0] }
        #expect(firstInput == nil, "\(model)/\(clip): quantised features first differ at invocation \(firstInput ?? -1)")
        return outputs
    }
}

/// microWakeWord's input quantisation: features as floats (value / 25.6), divided by the input scale in double
/// precision, plus the zero point, rounded half to even (NumPy's `round`).
enum WakeWordQuantization {
    static func int8(feature: UInt16, scale: Float, zeroPoint: Int32) -> Int8 {
        let value = (Double(feature) * 0.0390625 / Double(scale) + Double(zeroPoint)).rounded(.toNearestOrEven)
        return Int8(clamping: Int(value))
    }
}
