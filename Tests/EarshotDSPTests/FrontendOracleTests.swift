import EarshotDSP
import EarshotTestSupport
import Foundation
import Testing

/// The frontend against two reference implementations, bit for bit.
@Suite("Frontend vs oracles")
struct FrontendOracleTests {
    static let preprocessorClips = (try? OracleVectors.frames("frontend_signal_preprocessor_int8.json").keys.sorted()) ?? []
    static let classicClips = (try? OracleVectors.frames("frontend_classic_uint16.json").keys.sorted()) ?? []

    @Test func tablesEqualTheConstantsInsideTFLMsPreprocessorModel() throws {
        let tables = try OracleVectors.json("frontend_model_tables.json")
        let frontend = try Frontend(.microSpeech)
        #expect(frontend.windowCoefficients.map(Int.init) == tables["window"] as! [Int])
        let bank = frontend.filterbankTables
        #expect(bank.weights.map(Int.init) == tables["filterbank_weights"] as! [Int])
        #expect(bank.unweights.map(Int.init) == tables["filterbank_unweights"] as! [Int])
        #expect(bank.frequencyStarts.map(Int.init) == tables["filterbank_frequency_starts"] as! [Int])
        #expect(bank.weightStarts.map(Int.init) == tables["filterbank_weight_starts"] as! [Int])
        #expect(bank.widths.map(Int.init) == tables["filterbank_widths"] as! [Int])
        let energy = tables["energy"] as! [String: Int]
        #expect(bank.start == energy["start_index"] && bank.end == energy["end_index"])
        // TFLM leaves one slot per octave unused (uninitialised in C, zero in the model); compare the used ones.
        let lut = tables["pcan_gain_lut"] as! [Int]
        let ours = try #require(frontend.pcanGainTable).map(Int.init)
        let used = (0..<ours.count).filter { $0 < 2 || ($0 - 2) % 4 != 3 }
        #expect(used.map { ours[$0] } == used.map { lut[$0] })
        let subtraction = tables["spectral_subtraction"] as! [String: Any]
        let coefficients = frontend.noiseReductionCoefficients
        #expect(Int(coefficients.even) == subtraction["smoothing"] as? Int)
        #expect(Int(coefficients.odd) == subtraction["alternate_smoothing"] as? Int)
        #expect(Int(coefficients.minSignalRemaining) == subtraction["min_signal_remaining"] as? Int)
    }

    @Test(arguments: preprocessorClips)
    func int8FeaturesEqualTFLMsSignalPreprocessor(clip: String) throws {
        let expected = try #require(try OracleVectors.frames("frontend_signal_preprocessor_int8.json")[clip])
        let frontend = try Frontend(.microSpeech)
        let frames = frontend.frames(of: try OracleVectors.samples(clip)).map { $0.map { Int(Frontend.microSpeechInt8($0)) } }
        #expect(frames.count == expected.count)
        let mismatch = zip(frames, expected).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(mismatch == nil, "\(clip): first differing frame \(mismatch?.offset ?? -1): ours \(mismatch?.element.0 ?? []) vs \(mismatch?.element.1 ?? [])")
    }

    @Test(arguments: classicClips)
    func uint16FeaturesEqualTheClassicMicroFrontend(clip: String) throws {
        let expected = try #require(try OracleVectors.frames("frontend_classic_uint16.json")[clip])
        let frontend = try Frontend(.microWakeWord)
        let frames = frontend.frames(of: try OracleVectors.samples(clip)).map { $0.map(Int.init) }
        #expect(frames.count == expected.count)
        let mismatch = zip(frames, expected).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(mismatch == nil, "\(clip): first differing frame \(mismatch?.offset ?? -1): ours \(mismatch?.element.0 ?? []) vs \(mismatch?.element.1 ?? [])")
    }
}
