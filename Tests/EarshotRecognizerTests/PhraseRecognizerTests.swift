import EarshotAudio
import EarshotBundles
import EarshotRecognizer
import EarshotTestSupport
import Foundation
import Testing

/// The shipped phrase-en bundle on its committed held-out sample (Models/phrase/heldout, voices never heard in
/// training) and on the real "go forward ten meters" recording.
@Suite("phrase-en")
struct PhraseRecognizerTests {
    struct Entry: Decodable {
        var text: String, engine: String, voice: String, snr: Double
        var logitsSha256: String, greedy: String, grammar: String
        enum CodingKeys: String, CodingKey { case text, engine, voice, snr, logitsSha256 = "logits_sha256", greedy, grammar }
    }
    struct HeldOut: Decodable {
        var modelSha256: String, clipSamples: Int, clips: [Entry]
        enum CodingKeys: String, CodingKey { case modelSha256 = "model_sha256", clipSamples = "clip_samples", clips }
    }

    static let root = Fixtures.packageRoot + "/Models/phrase"

    static func load() throws -> (PhraseRecognizer, HeldOut, [[Int16]]) {
        let recognizer = try PhraseRecognizer(bundle: ModelBundle(directory: root + "/phrase-en"))
        let set = try JSONDecoder().decode(HeldOut.self, from: Data(contentsOf: URL(fileURLWithPath: root + "/heldout/heldout.json")))
        let source = try ConvertingSource(try AudioFileReader(path: root + "/heldout/clips.flac"))
        var samples: [Int16] = []
        while try source.read(appendingTo: &samples, maximum: 16_000) {}
        try #require(samples.count == set.clips.count * set.clipSamples)
        return (recognizer, set, (0..<set.clips.count).map { Array(samples[($0 * set.clipSamples)..<(($0 + 1) * set.clipSamples)]) })
    }

    @Test func logitsEqualLiteRTReferenceAndDecodingsMatchTheRecipe() throws {
        let (recognizer, set, clips) = try Self.load()
        #expect(recognizer.manifest.modelSha256 == set.modelSha256)
        let graph = try WordGraph(grammar: JSGFGrammar(contentsOfFile: Self.root + "/grammars/field.gram"))
        var right = 0, errors = 0, words = 0
        for (entry, clip) in zip(set.clips, clips) {
            let raw = try recognizer.output(clip: clip).raw.map { UInt8(bitPattern: Int8($0)) }
            #expect(ModelBundle.sha256(Data(raw)) == entry.logitsSha256, "\(entry.text) by \(entry.voice)")
            // The recipe's Python greedy decoder and Earshot's agree word for word.
            #expect(try recognizer.recognize(clip: clip, grammar: nil).text == entry.greedy)
            let constrained = try recognizer.recognize(clip: clip, grammar: graph)
            #expect(constrained.text == entry.grammar)
            #expect(graph.accepts(constrained.text.split(separator: " ").map(String.init)))
            if constrained.text == entry.text { right += 1 }
            errors += Self.editDistance(constrained.words.map(\.word), entry.text.split(separator: " ").map(String.init))
            words += entry.text.split(separator: " ").count
        }
        // The sample is 8 flite clips (an engine phrase-en 0.1.0 mostly fails on, see CARD.md) and 4 espeak-ng clips:
        // 4 of 12 sentences right and 26 word errors in 46 words when written. A regression shows here first.
        #expect(right >= 4 && Double(errors) / Double(words) <= 0.6, "\(right) right, \(errors) word errors in \(words)")
    }

    static func editDistance(_ a: [String], _ b: [String]) -> Int {
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in 1...max(1, b.count) where !b.isEmpty {
                let current = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = row[j]
                row[j] = current
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }

    @Test func realRecordingWithItsOwnGrammar() throws {
        let (recognizer, _, _) = try Self.load()
        let audio = try Fixtures.int16Samples(rawFile: Fixtures.path("pocketsphinx/goforward.raw"))
        let graph = try WordGraph(grammar: JSGFGrammar(contentsOfFile: Fixtures.path("pocketsphinx/goforward.gram")))
        // Speech starts at about 0.35 s in this recording.
        let result = try recognizer.recognize(audio[...], speechStart: 5_600, speechEnd: audio.count - 1_600, grammar: graph)
        #expect(result.constrained && !result.words.isEmpty)
        #expect(graph.accepts(result.words.map(\.word)))
        #expect(zip(result.words, result.words.dropFirst()).allSatisfy { $0.end <= $1.start + 1e-9 })
        #expect(result.words.allSatisfy { $0.start >= 0 && $0.end <= Double(audio.count) / 16_000 + 0.3 })
    }

    @Test func grammarsWithWordsTheModelCannotSayAreRefused() throws {
        let (recognizer, _, clips) = try Self.load()
        let graph = try WordGraph(grammar: JSGFGrammar(source: "#JSGF V1.0; grammar g; public <a> = go (north | south) ten;"))
        do {
            _ = try recognizer.recognize(clip: clips[0], grammar: graph)
            Issue.record("accepted a grammar with unknown words")
        } catch {
            #expect(error.message.contains("north") && error.message.contains("south") && !error.message.contains("ten,"))
        }
        #expect(throws: RecognizerError.self) { try recognizer.recognize(clip: [Int16](repeating: 0, count: 10), grammar: nil) }
    }
}
