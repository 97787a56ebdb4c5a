@testable import EarshotInference
import EarshotTestSupport
import Foundation
import Testing

/// The model reader on untrusted bytes: truncations, bit flips and random mutations give typed errors, never a crash.
@Suite("Model reader robustness")
struct ModelReaderTests {
    static let path = Fixtures.path("tflm-micro-speech/micro_speech_quantized.tflite")

    @Test func everyTruncationIsRejectedOrLoadsCleanly() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.path)))
        var rejected = 0
        for length in stride(from: 0, to: bytes.count, by: 37) {
            do {
                let model = try Model(bytes: Array(bytes.prefix(length)), label: "cut")
                _ = try Interpreter(model: model)
            } catch {
                rejected += 1
                #expect(!error.message.isEmpty)
            }
        }
        #expect(rejected > 0)
    }

    @Test func randomMutationsNeverCrashAndRunsStayInBounds() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.path)))
        var generator = SeededGenerator(seed: 0x5EED_F00D)
        var loaded = 0, rejected = 0
        for _ in 0..<600 {
            var mutated = bytes
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                let index = Int.random(in: 0..<mutated.count, using: &generator)
                mutated[index] = UInt8.random(in: 0...255, using: &generator)
            }
            do {
                let interpreter = try Interpreter(model: try Model(bytes: mutated, label: "fuzz"))
                try interpreter.invoke()
                loaded += 1
            } catch {
                rejected += 1
            }
        }
        #expect(loaded + rejected == 600)
    }

    @Test(arguments: [
        ([UInt8](), "bytes"), ([UInt8](repeating: 0, count: 8), "TFL3"), (Array("xxxxTFL3".utf8), "outside"),
    ])
    func tinyInputsGiveMalformed(bytes: [UInt8], word: String) {
        do { _ = try Model(bytes: bytes, label: "tiny"); Issue.record("accepted") } catch {
            #expect(error.code == .malformed)
            #expect(error.message.contains(word))
        }
    }

    @Test func unsupportedOperatorsAreNamedWithTheModel() throws {
        let model = try Model(contentsOf: Fixtures.path("tflm-micro-speech/audio_preprocessor_int8.tflite"))
        do { _ = try Interpreter(model: model); Issue.record("accepted") } catch {
            #expect(error.code == .unsupportedOperator)
            #expect(error.message.contains("SignalWindow") && error.message.contains("audio_preprocessor_int8.tflite"))
        }
    }

    @Test func missingFileIsAnIOError() {
        #expect(throws: ModelError.self) { try Model(contentsOf: "/nonexistent/model.tflite") }
    }

    @Test func invokeDoesNotAllocateAfterTheFirstRun() throws {
        // Indirect check: the arena and constants are fixed at load and invoke reuses them.
        let interpreter = try Interpreter(model: try Model(contentsOf: Self.path))
        let before = (try interpreter.input(0).data, try interpreter.output(0).data)
        try interpreter.invoke()
        try interpreter.invoke()
        #expect(try interpreter.input(0).data == before.0 && interpreter.output(0).data == before.1)
        #expect(interpreter.arenaSize > 0 && interpreter.arenaSize < 16_384)
    }

    @Test func plannerNeverOverlapsLiveBuffers() {
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<200 {
            let requests = (0..<Int.random(in: 1...30, using: &generator)).map { _ -> MemoryPlanner.Request in
                let first = Int.random(in: -1...20, using: &generator)
                return .init(size: Int.random(in: 1...5_000, using: &generator), first: first, last: first + Int.random(in: 0...6, using: &generator))
            }
            let (offsets, size) = MemoryPlanner.plan(requests)
            for i in requests.indices {
                #expect(offsets[i] + requests[i].size <= size)
                for j in requests.indices where j > i {
                    let overlapInTime = requests[i].first <= requests[j].last && requests[j].first <= requests[i].last
                    let overlapInSpace = offsets[i] < offsets[j] + requests[j].size && offsets[j] < offsets[i] + requests[i].size
                    #expect(!(overlapInTime && overlapInSpace))
                }
            }
        }
    }
}

/// Inputs the fuzzer once crashed on (Fuzz/run.sh); each must now load or fail with a typed error.
@Suite("Fuzzer regressions")
struct FuzzRegressionTests {
    static let files: [String] = {
        guard let url = Bundle.module.url(forResource: "Vectors/fuzz-regressions", withExtension: nil),
              let names = try? FileManager.default.contentsOfDirectory(atPath: url.path) else { return [] }
        return names.sorted()
    }()

    @Test(arguments: files)
    func loadsOrFailsCleanly(name: String) throws {
        let url = try #require(Bundle.module.url(forResource: "Vectors/fuzz-regressions/\(name)", withExtension: nil))
        let bytes = [UInt8](try Data(contentsOf: url))
        do {
            let interpreter = try Interpreter(model: try Model(bytes: bytes, label: name))
            try interpreter.invoke()
        } catch {
            #expect(!error.message.isEmpty)
        }
    }
}
