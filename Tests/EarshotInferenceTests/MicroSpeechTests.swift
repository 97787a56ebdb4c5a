import EarshotDSP
@testable import EarshotInference
import EarshotTestSupport
import Foundation
import Testing

/// TFLM's micro_speech model on real Speech Commands clips: our frontend plus our interpreter must give exactly the
/// scores TFLM and LiteRT give on the same audio.
@Suite("micro_speech end to end")
struct MicroSpeechTests {
    static let model = Fixtures.path("tflm-micro-speech/micro_speech_quantized.tflite")
    static let vectors = Fixtures.packageRoot + "/Tests/EarshotDSPTests/Vectors/frontend_signal_preprocessor_int8.json"

    static func wav(_ path: String) throws -> [Int16] {
        let reader = try Data(contentsOf: URL(fileURLWithPath: path))
        // The fixture WAVs are canonical 44-byte-header PCM.
        return reader.dropFirst(44).withUnsafeBytes { bytes in
            (0..<(bytes.count / 2)).map { Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self)) }
        }
    }

    @Test(arguments: ["yes", "no", "noise", "silence"], KernelSet.allCases)
    func scoresEqualTheReference(word: String, kernels: KernelSet) throws {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.vectors))) as! [String: Any]
        let expected = (object["micro_speech_scores"] as! [String: [Int]])["speech_commands_\(word)"]!
        let samples = try Self.wav(Fixtures.path("tflm-micro-speech/\(word)_1000ms.wav"))
        let frames = try Frontend(.microSpeech).frames(of: samples)
        #expect(frames.count == 49)
        let features = frames.flatMap { $0.map(Frontend.microSpeechInt8) }
        let interpreter = try Interpreter(model: try Model(contentsOf: Self.model), kernels: kernels)
        try interpreter.setInput(0, features)
        try interpreter.invoke()
        #expect(try interpreter.outputIntegers(0) == expected)
    }

    /// TFLM's own rounding (`.tflm`) gives the same scores: micro_speech runs as it does on a microcontroller.
    @Test(arguments: ["yes", "no", "noise", "silence"])
    func tflmCompatibilityGivesTheSameScores(word: String) throws {
        let samples = try Self.wav(Fixtures.path("tflm-micro-speech/\(word)_1000ms.wav"))
        let features = try Frontend(.microSpeech).frames(of: samples).flatMap { $0.map(Frontend.microSpeechInt8) }
        var outputs: [[Int]] = []
        for compatibility in Compatibility.allCases {
            let interpreter = try Interpreter(model: try Model(contentsOf: Self.model), compatibility: compatibility)
            try interpreter.setInput(0, features)
            try interpreter.invoke()
            outputs.append(try interpreter.outputIntegers(0))
        }
        #expect(outputs[0] == outputs[1])
    }

    @Test func theFixtureReadmeScoresForYesHold() throws {
        let samples = try Self.wav(Fixtures.path("tflm-micro-speech/yes_1000ms.wav"))
        let features = try Frontend(.microSpeech).frames(of: samples).flatMap { $0.map(Frontend.microSpeechInt8) }
        let interpreter = try Interpreter(model: try Model(contentsOf: Self.model))
        try interpreter.setInput(0, features)
        try interpreter.invoke()
        #expect(try interpreter.outputIntegers(0) == [-128, -128, 127, -128])
    }
}
