import EarshotBundles
import EarshotTestSupport
import EarshotVAD
import Foundation
import Testing

/// The shipped VAD bundle on real fixture audio and generated noise.
@Suite("Voice activity detector")
struct VoiceActivityDetectorTests {
    static let bundle = Fixtures.packageRoot + "/Models/vad/earshot-vad-en"

    static func wav(_ relative: String) throws -> [Int16] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(relative)))
        return data.dropFirst(44).withUnsafeBytes { bytes in
            (0..<(bytes.count / 2)).map { Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self)) }
        }
    }

    static var reference: [String: [String: Any]] {
        let url = Fixtures.packageRoot + "/Tests/EarshotVADTests/Vectors/reference_scores.json"
        let object = try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: url))) as? [String: Any]
        return object?["clips"] as? [String: [String: Any]] ?? [:]
    }

    /// Scores equal an independent computation (earshot features + NumPy windows + LiteRT's reference kernels),
    /// block for block, and there is exactly one score per 10 ms block.
    @Test(arguments: ["yes", "no", "silence", "noise", "librivox_0880"])
    func scoresEqualTheReferenceComputation(clip: String) throws {
        let entry = try #require(Self.reference[clip])
        let expected = entry["scores_x256"] as! [Int]
        let samples = try Self.wav(entry["file"] as! String)
        let detector = try VoiceActivityDetector(bundle: Self.bundle)
        detector.levelFloorDBFS = nil   // the reference is the model's score; the level gate is tested below
        let scores = try detector.probabilities(samples).map { Int(($0 * 256).rounded()) }
        #expect(scores.count == samples.count / 160)
        let first = scores.indices.first { $0 >= expected.count || scores[$0] != expected[$0] }
        #expect(first == nil, "\(clip): block \(first ?? -1) is \(first.map { scores[$0] } ?? 0)/256, reference \(first.map { expected[$0] } ?? 0)/256")
    }

    /// Generated noise of several kinds, 4 s each at a moderate level: no frame crosses the threshold.
    @Test(arguments: ["silence", "white", "brown", "hum", "chords"])
    func noiseAloneGivesNoSpeech(kind: String) throws {
        var generator = SeededGenerator(seed: 42)
        var brown = 0.0
        let samples: [Int16] = (0..<64_000).map { i in
            let t = Double(i) / 16_000
            let white = Double.random(in: -1...1, using: &generator)
            let value: Double
            switch kind {
            case "silence": value = 0
            case "white": value = 0.05 * white
            case "brown": brown = 0.995 * brown + 0.02 * white; value = brown
            case "hum": value = 0.1 * sin(2 * .pi * 50 * t) + 0.05 * sin(2 * .pi * 150 * t) + 0.002 * white
            default: value = 0.05 * (sin(2 * .pi * 261.6 * t) + sin(2 * .pi * 329.6 * t) + sin(2 * .pi * 392 * t)) * (1 + sin(2 * .pi * 0.5 * t)) / 2
            }
            return Int16(max(-32_768, min(32_767, value * 32_768)))
        }
        let probabilities = try VoiceActivityDetector(bundle: Self.bundle).probabilities(samples)
        let alarms = probabilities.filter { $0 >= 0.5 }.count
        let check = { #expect(Double(alarms) / Double(probabilities.count) <= 0.005, "\(kind): \(alarms) of \(probabilities.count) frames called speech") }
        if kind == "chords" {
            // Known shortfall of model v0.1.0: steady synthetic chords are called speech 16 % of the time (target ≤ 2 %
            // for music-like noise); the benchmark's music clips (decaying notes) stay at 0.2 %. Tracked in issue 4.
            withKnownIssue("VAD v0.1.0 fires on steady synthetic chords") { check() }
        } else {
            check()
        }
    }

    /// The LibriVox recording's word alignment gives per-frame labels; frame F1 must stay above 0.9.
    @Test func librivoxFrameF1IsAboveTheFloor() throws {
        var truePositives = 0, falsePositives = 0, falseNegatives = 0
        for name in ["0880", "0930"] {
            let base = "pocketsphinx/sense_and_sensibility_01_austen_64kb-\(name)"
            let samples = try Self.wav(base + ".wav")
            let alignment = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path(base + ".json")))) as! [String: Any]
            var labels = [Bool](repeating: false, count: samples.count / 160)
            for word in alignment["w"] as! [[String: Any]] where !["<sil>", "<s>", "</s>"].contains(word["t"] as? String ?? "") {
                let begin = Int((word["b"] as! Double) * 100), end = Int(((word["b"] as! Double) + (word["d"] as! Double)) * 100)
                for i in begin...min(end, labels.count - 1) where i >= 0 { labels[i] = true }
            }
            let decisions = try VoiceActivityDetector(bundle: Self.bundle).probabilities(samples).map { $0 >= 0.5 }
            for (decision, label) in zip(decisions, labels) {
                if decision && label { truePositives += 1 } else if decision { falsePositives += 1 } else if label { falseNegatives += 1 }
            }
        }
        let precision = Double(truePositives) / Double(max(1, truePositives + falsePositives))
        let recall = Double(truePositives) / Double(max(1, truePositives + falseNegatives))
        let f1 = 2 * precision * recall / max(1e-9, precision + recall)
        #expect(f1 > 0.9, "LibriVox frame F1 \(f1)")
    }

    @Test func stateAndWeightsFitTheBudget() throws {
        let detector = try VoiceActivityDetector(bundle: Self.bundle)
        #expect(detector.stateBytes <= 4_096, "state \(detector.stateBytes) bytes")
        #expect(detector.weightBytes <= 65_536, "weights \(detector.weightBytes) bytes")
    }

    /// Speech 60 dB quieter than the fixture (about −85 dBFS, below any real microphone's noise floor) is gated to
    /// zero, while the ungated model does call some of it speech; at the fixture's own level the gate changes nothing
    /// inside the utterance.
    @Test func theLevelGateSilencesInaudibleSpeechOnly() throws {
        let samples = try Self.wav("pocketsphinx/sense_and_sensibility_01_austen_64kb-0880.wav")
        let quiet = samples.map { Int16((Double($0) / 1000).rounded()) }
        let gated = try VoiceActivityDetector(bundle: Self.bundle)
        let ungated = try VoiceActivityDetector(bundle: Self.bundle)
        ungated.levelFloorDBFS = nil
        let quietUngated = try ungated.probabilities(quiet).filter { $0 >= 0.5 }.count
        #expect(quietUngated > 0, "the ungated model ignores −85 dBFS speech already, so this test proves nothing")
        #expect(try gated.probabilities(quiet).allSatisfy { $0 == 0 })
        let normalGated = try gated.probabilities(samples), normalUngated = try ungated.probabilities(samples)
        let changed = zip(normalGated, normalUngated).filter { $0 != $1 }
        #expect(changed.allSatisfy { $0.0 == 0 }, "the gate only ever zeroes a score")
        #expect(changed.filter { $0.1 >= 0.5 }.count <= normalUngated.count / 100,
                "gate removed \(changed.filter { $0.1 >= 0.5 }.count) speech decisions at normal level")
    }

    @Test func chunkingDoesNotChangeScores() throws {
        let samples = try Self.wav("tflm-micro-speech/yes_1000ms.wav")
        let whole = try VoiceActivityDetector(bundle: Self.bundle).probabilities(samples)
        let detector = try VoiceActivityDetector(bundle: Self.bundle)
        var streamed: [Double] = []
        for start in stride(from: 0, to: samples.count, by: 333) {
            try samples[start..<min(samples.count, start + 333)].withUnsafeBufferPointer { buffer in
                try detector.process(buffer) { _, q15 in streamed.append(Double(q15) / 32_768) }
            }
        }
        #expect(Array(streamed.prefix(whole.count)) == whole)
    }

    @Test func aClassifierBundleIsRefusedAsAVAD() throws {
        let directory = Fixtures.temporaryDirectory("notvad")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let model = try Data(contentsOf: URL(fileURLWithPath: Self.bundle + "/model.tflite"))
        try model.write(to: URL(fileURLWithPath: directory + "/model.tflite"))
        var manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.bundle + "/manifest.json"))) as! [String: Any]
        manifest["kind"] = "classifier"
        try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: directory + "/manifest.json"))
        #expect(throws: RecognizerError.self) { try VoiceActivityDetector(bundle: directory) }
    }
}
