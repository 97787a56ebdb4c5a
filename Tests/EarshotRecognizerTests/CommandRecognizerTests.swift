import EarshotAudio
import EarshotBundles
import EarshotDSP
import EarshotMonitoring
import EarshotRecognizer
import EarshotTestSupport
import Foundation
import Testing

/// The shipped command-en bundle against the committed held-out set (Models/command/heldout: voices and engines the
/// model never heard, written by Models/command/recipe/evaluate.py with LiteRT's reference logits).
@Suite("command-en")
struct CommandRecognizerTests {
    struct Entry: Decodable {
        var label: String
        var text: String
        var engine: String
        var voice: String
        var noise: String
        var snr: Double?
        var expectedLogits: [Int]
        var expectedText: String
        enum CodingKeys: String, CodingKey {
            case label, text, engine, voice, noise, snr, expectedLogits = "expected_logits", expectedText = "expected_text"
        }
    }
    struct HeldOut: Decodable {
        var modelSha256: String
        var clipSamples: Int
        var baseline: RecognitionBaseline
        var clips: [Entry]
        enum CodingKeys: String, CodingKey { case modelSha256 = "model_sha256", clipSamples = "clip_samples", baseline, clips }
    }

    static let bundlePath = Fixtures.packageRoot + "/Models/command/command-en"
    static let heldOutPath = Fixtures.packageRoot + "/Models/command/heldout"

    static func heldOut() throws -> (HeldOut, [[Int16]]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: heldOutPath + "/heldout.json"))
        let set = try JSONDecoder().decode(HeldOut.self, from: data)
        let source = try ConvertingSource(try AudioFileReader(path: heldOutPath + "/clips.flac"))
        var samples: [Int16] = []
        while try source.read(appendingTo: &samples, maximum: 16_000) {}
        try #require(samples.count == set.clips.count * set.clipSamples, "clips.flac holds \(samples.count) samples")
        let clips = (0..<set.clips.count).map { Array(samples[($0 * set.clipSamples)..<(($0 + 1) * set.clipSamples)]) }
        return (set, clips)
    }

    static func recognizer() throws -> CommandRecognizer {
        try CommandRecognizer(bundle: try ModelBundle(directory: bundlePath))
    }

    @Test func logitsEqualLiteRTReferenceBitForBit() throws {
        let (set, clips) = try Self.heldOut()
        let recognizer = try Self.recognizer()
        #expect(recognizer.manifest.modelSha256 == set.modelSha256, "heldout.json was written for another model")
        for (entry, clip) in zip(set.clips, clips) {
            let result = try recognizer.recognize(clip: clip)
            #expect(result.logits == entry.expectedLogits, "\(entry.label) by \(entry.engine) \(entry.voice): \(firstDifference(result.logits, entry.expectedLogits) ?? "")")
            #expect(result.text == entry.expectedText, "\(entry.label) by \(entry.voice) at \(entry.snr.map { "\($0) dB" } ?? "no speech")")
        }
    }

    /// Accuracy floors on held-out voices: the model card's numbers are over 4 000+ clips; these are the small
    /// committed sample's (96 word clips, 64 of them flite: 67 right at top-1 and 29 accepted and right when written;
    /// none of the 13 out-of-vocabulary and noise clips accepted), with a margin of a few clips.
    @Test func heldOutAccuracyAndRejection() throws {
        let (set, clips) = try Self.heldOut()
        let recognizer = try Self.recognizer()
        var words = 0, right = 0, topRight = 0, falseAccepts = 0, negatives = 0
        for (entry, clip) in zip(set.clips, clips) {
            let result = try recognizer.recognize(clip: clip)
            if entry.label == "unknown" || entry.label == "silence" {
                negatives += 1
                if result.accepted { falseAccepts += 1 }
                #expect(!result.accepted || entry.label == "unknown", "noise accepted as \(result.text)")
            } else {
                words += 1
                if result.accepted && result.text == entry.label { right += 1 }
                if result.best == entry.label { topRight += 1 }
            }
            #expect((0...1).contains(result.confidence))
            #expect(result.topK.count == 3 && result.topK[0].label == result.best)
            #expect(zip(result.topK, result.topK.dropFirst()).allSatisfy { $0.probability >= $1.probability })
        }
        #expect(words == 96 && topRight >= 62 && right >= 25, "top-1 \(topRight), accepted and right \(right) of \(words)")
        #expect(falseAccepts <= 1, "\(falseAccepts) of \(negatives) out-of-vocabulary or noise clips accepted")
    }

    /// Models/LABELLING.md's rules, checked on the committed sample: labels from the manifest's set in lower-case
    /// letters, 1.000 s clips, speech level within −45…−10 dBFS and clean clips quiet in their 50 ms margins.
    @Test func committedLabelsFollowTheLabellingRules() throws {
        let (set, clips) = try Self.heldOut()
        let labels = try Self.recognizer().manifest.labels
        #expect(set.clipSamples == 16_000)
        for (entry, clip) in zip(set.clips, clips) {
            #expect(labels.contains(entry.label), "\(entry.label) is not a label")
            #expect(entry.label.allSatisfy { $0.isLetter && $0.isLowercase && $0.isASCII }, "\(entry.label)")
            #expect(!entry.text.contains { $0.isNumber }, "numbers are written as words: \(entry.text)")
            guard entry.label != "silence" else { continue }
            let blocks = stride(from: 0, to: clip.count, by: 160).map { Self.blockDBFS(clip[$0..<($0 + 160)]) }
            let loudest = blocks.max() ?? -120
            #expect(loudest > -45 - 10 && loudest < -10 + 10, "speech level \(loudest) dBFS")
            if let snr = entry.snr, snr >= 60 {
                let margins = blocks.prefix(5) + blocks.suffix(5)
                #expect(margins.allSatisfy { $0 < loudest - 30 }, "\(entry.text) by \(entry.voice): speech inside the 50 ms margins")
            }
        }
    }

    /// A block's mean power in dBFS.
    static func blockDBFS(_ block: ArraySlice<Int16>) -> Double {
        var sum = 0.0
        for v in block { sum += Double(v) * Double(v) }
        return 10 * log10(sum / Double(block.count) / (32_768.0 * 32_768.0) + 1e-12)
    }

    /// The manifest's baseline statistics mean the same in Swift as in the recipe: recomputed here over the committed
    /// clips, they equal what the recipe's Python computed over the same clips, number for number.
    @Test func baselineStatisticsAreRecomputedIdentically() throws {
        let (set, clips) = try Self.heldOut()
        let recognizer = try Self.recognizer()
        let frontend = try Frontend(recognizer.manifest.frontend)
        var accumulator = RecognitionBaseline.Accumulator(channels: recognizer.manifest.frontend.channelCount,
                                                          labels: recognizer.manifest.labels.count)
        for clip in clips {
            frontend.reset()
            let features = frontend.frames(of: clip).map { $0.map(Frontend.microSpeechInt8) }
            accumulator.add(features: features, probabilities: try recognizer.recognize(clip: clip).probabilities)
        }
        var computed = accumulator.baseline
        computed.source = set.baseline.source
        #expect(computed == set.baseline)
        let shipped = try #require(recognizer.manifest.baseline)
        #expect(shipped.featureChannelMean.count == 40 && shipped.confidenceHistogram.reduce(0, +) == shipped.clips)
        #expect(abs(shipped.topLabelShare.reduce(0, +) - 1) < 1e-4)
    }

    @Test func clipIsCentredOnTheSpeechAndZeroBeyondTheAudio() throws {
        let recognizer = try Self.recognizer()
        let audio = (0..<40_000).map { Int16(truncatingIfNeeded: $0) }
        let middle = recognizer.clip(of: audio[...], speechStart: 20_000, speechEnd: 22_000)
        #expect(middle.count == 16_000 && middle.first == Int16(truncatingIfNeeded: 13_000) && middle.last == Int16(truncatingIfNeeded: 28_999))
        let early = recognizer.clip(of: audio[...], speechStart: 0, speechEnd: 2_000)
        #expect(early.prefix(7_000).allSatisfy { $0 == 0 } && early[7_000] == 0 && early[7_001] == 1)
        let late = recognizer.clip(of: audio[30_000...], speechStart: 39_000, speechEnd: 40_000)
        #expect(late.suffix(7_500).allSatisfy { $0 == 0 } && late[0] == Int16(truncatingIfNeeded: 31_500))
        #expect(throws: RecognizerError.self) { try recognizer.recognize(clip: [Int16](repeating: 0, count: 100)) }
    }

    @Test func manifestsThatCannotDriveACommandModelAreRefused() throws {
        let bundle = try ModelBundle(directory: Self.bundlePath)
        var manifest = bundle.manifest
        manifest.kind = "vad"
        #expect(throws: RecognizerError.self) { try CommandRecognizer(bundle: ModelBundle(manifest: manifest, model: bundle.model)) }
        manifest = bundle.manifest
        manifest.clipSamples = 12_000
        #expect(throws: RecognizerError.self) { try CommandRecognizer(bundle: ModelBundle(manifest: manifest, model: bundle.model)) }
        for bad in [#"0"#, #"-1"#, #""x""#] {
            var text = try String(contentsOfFile: Self.bundlePath + "/manifest.json", encoding: .utf8)
            text = text.replacingOccurrences(of: #""temperature": "#, with: #""temperature": \#(bad), "was": "#)
            #expect(throws: (any Error).self) { try JSONDecoder().decode(BundleManifest.self, from: Data(text.utf8)) }
        }
    }
}
