import EarshotAudio
import EarshotTestSupport
import Foundation
import Testing

/// PocketSphinx hosted by `earshot serve` (Debian's libpocketsphinx and en-us model) behind the same OpenAI-compatible
/// endpoint: grammar mode on the fixture's own grammar and on the command vocabulary, dictation on the LibriVox
/// readings, and the edge's cloud path using it as its teacher.
@Suite("earshot serve with PocketSphinx", .serialized)
struct PocketSphinxServeTests {
    static let fixtures = Fixtures.root + "/pocketsphinx"

    static func wav(_ samples: [Int16], _ path: String) throws -> Data {
        let writer = try AudioFileWriter(path: path, sampleRate: 16_000)
        try writer.write(samples)
        try writer.close()
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    static func server(_ extra: [String] = []) throws -> ServeProcess {
        try ServeProcess(["--pocketsphinx", "--pocketsphinx-grammar", fixtures + "/goforward.gram", "--pocketsphinx-commands"] + extra)
    }

    /// Word error rate: edit distance over words ÷ reference words.
    static func wordErrors(_ reference: String, _ hypothesis: String) -> Int {
        let r = reference.lowercased().split(separator: " "), h = hypothesis.lowercased().split(separator: " ")
        var row = Array(0...h.count)
        for i in 1...max(1, r.count) where !r.isEmpty {
            var next = [i] + Array(repeating: 0, count: h.count)
            for j in stride(from: 1, through: h.count, by: 1) {
                next[j] = min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (r[i - 1] == h[j - 1] ? 0 : 1))
            }
            row = next
        }
        return row[h.count]
    }

    @Test func grammarModeReadsTheFixtureAndListsEveryEngine() throws {
        let server = try Self.server()
        #expect(server.banner.contains("pocketsphinx:goforward@5prealpha") && server.banner.contains("pocketsphinx:commands@5prealpha"), "\(server.banner)")
        let directory = Fixtures.temporaryDirectory("sphinx-grammar")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let audio = try Self.wav(Fixtures.int16Samples(rawFile: Self.fixtures + "/goforward.raw"), directory + "/goforward.wav")
        let (status, object, _) = try ServeCommandTests.post(server, [("model", "pocketsphinx:goforward"), ("response_format", "verbose_json")], file: audio)
        #expect(status == 200)
        #expect(object?["text"] as? String == "go forward ten meters" && object?["model"] as? String == "pocketsphinx:goforward@5prealpha")
        let words = try #require(object?["words"] as? [[String: Any]])
        #expect(words.map { $0["word"] as? String ?? "" } == ["go", "forward", "ten", "meters"])
        let starts = words.map { $0["start"] as? Double ?? -1 }, ends = words.map { $0["end"] as? Double ?? -1 }
        #expect(starts == starts.sorted() && zip(starts, ends).allSatisfy { $0 < $1 } && (ends.last ?? 9) <= 2.8, "\(words)")
        // Every engine is listed; unknown model names still go to the first (Earshot's own) model.
        let (_, list) = try server.request("/v1/models")
        let ids = ((try JSONSerialization.jsonObject(with: list) as? [String: Any])?["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
        #expect(ids == ["command-en", "pocketsphinx", "pocketsphinx:goforward", "pocketsphinx:commands"])
        let metrics = String(decoding: try server.request("/metrics").body, as: UTF8.self)
        #expect(metrics.contains("earshot_model_info{kind=\"grammar\",model=\"pocketsphinx:goforward@5prealpha\"} 1"), "\(metrics.prefix(600))")
        #expect(server.terminate() == 0)
    }

    /// Dictation with the trigram model on the two LibriVox readings: measured 4 word errors in 16 (25 %).
    @Test func dictationReadsTheLibriVoxClips() throws {
        let server = try Self.server()
        var errors = 0, words = 0
        for (clip, reference) in [("0880", "he was not an ill disposed young man"), ("0930", "he might even have been made amiable himself")] {
            let audio = try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/sense_and_sensibility_01_austen_64kb-\(clip).wav"))
            let (status, object, _) = try ServeCommandTests.post(server, [("model", "pocketsphinx"), ("response_format", "verbose_json")], file: audio)
            #expect(status == 200)
            let text = object?["text"] as? String ?? ""
            errors += Self.wordErrors(reference, text)
            words += reference.split(separator: " ").count
            // Dictation gives posterior word probabilities within [0, 1], not all 1.
            let probabilities = (object?["words"] as? [[String: Any]] ?? []).compactMap { $0["probability"] as? Double }
            #expect(!probabilities.isEmpty && probabilities.allSatisfy { (0...1).contains($0) } && probabilities.contains { $0 < 0.999 })
        }
        #expect(Double(errors) / Double(words) <= 0.35, "WER \(errors)/\(words)")
        #expect(Self.wordErrors("a b c", "a x c d") == 2)
        #expect(server.terminate() == 0)
    }

    /// The command vocabulary as a grammar, on the held-out synthetic clips of command words (voices and noises no
    /// model here was trained on). Measured: flite clean 31/32, espeak clean 20/32, flite at 10 dB SNR 19/32.
    @Test func theCommandGrammarReadsHeldOutVoices() throws {
        let server = try Self.server()
        let directory = Fixtures.temporaryDirectory("sphinx-commands")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var right: [String: Int] = [:], total: [String: Int] = [:]
        for (k, clip) in try HeldOutCommands.load().enumerated() where !["unknown", "silence"].contains(clip.label) {
            let audio = try Self.wav(clip.samples, directory + "/\(k).wav")
            let (status, object, _) = try ServeCommandTests.post(server, [("model", "pocketsphinx:commands"), ("response_format", "json")], file: audio)
            #expect(status == 200)
            let slice = clip.snr == 60 ? "clean" : "noisy"
            total[slice, default: 0] += 1
            if object?["text"] as? String == clip.label { right[slice, default: 0] += 1 }
        }
        let clean = Double(right["clean"] ?? 0) / Double(max(1, total["clean"] ?? 0)), noisy = Double(right["noisy"] ?? 0) / Double(max(1, total["noisy"] ?? 0))
        #expect((total["clean"] ?? 0) >= 60 && clean >= 0.7, "clean \(right["clean"] ?? 0)/\(total["clean"] ?? 0)")
        #expect((total["noisy"] ?? 0) >= 30 && noisy >= 0.45, "noisy \(right["noisy"] ?? 0)/\(total["noisy"] ?? 0)")
        #expect(server.terminate() == 0)
    }

    /// The edge asks PocketSphinx as its cloud (cloud-first): the decisions carry its answers, and the local model's
    /// beside them with their agreement: the teacher signal the fleet's gate and drift use.
    @Test func theEdgeUsesPocketSphinxAsItsTeacher() throws {
        let server = try Self.server()
        let run = try Programs.earshot(["run", "--audio", ServeCommandTests.commands, "--cloud-url", server.transcriptions.absoluteString,
                                        "--cloud-model", "pocketsphinx:commands", "--policy", "cloud-first", "--budget-ms", "5000",
                                        "--cloud-timeout-ms", "4000"])
        #expect(run.status == 0, "\(run.stderr)")
        let decisions = run.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(decisions.count >= 5)
        #expect(decisions.allSatisfy { $0["source"] as? String == "cloud" && ($0["local"] as? [String: Any])?["agrees"] is Bool }, "\(run.stdout.prefix(800))")
        #expect(decisions.filter { (($0["local"] as? [String: Any])?["agrees"] as? Bool) == true }.count >= 3)
        #expect(server.terminate() == 0)
    }

    /// The edge binary links nothing of PocketSphinx (BLAS, LAPACK, gfortran, PulseAudio would come with it): serve
    /// opens the library at run time, only when an engine is asked for.
    @Test func theEdgeBinaryDoesNotLinkPocketSphinx() throws {
        let ldd = try Programs.run("/usr/bin/ldd", [Programs.earshot])
        #expect(ldd.status == 0 && ldd.stdout.contains("libc.so"))
        for library in ["sphinx", "lapack", "blas", "gfortran", "pulse"] { #expect(!ldd.stdout.contains(library), "\(library)") }
    }

    @Test func badGrammarsAndMissingModelsAreClearErrors() throws {
        let directory = Fixtures.temporaryDirectory("sphinx-errors")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let grammar = directory + "/odd.gram"
        try "#JSGF V1.0;\ngrammar odd;\npublic <x> = go | flibbertigibbetzz;\n".write(toFile: grammar, atomically: true, encoding: .utf8)
        let odd = try Programs.earshot(["serve", "--port", "0", "--pocketsphinx-grammar", grammar])
        #expect(odd.status == 65 && odd.stderr.contains("flibbertigibbetzz"), "\(odd.stderr)")
        try "#JSGF V1.0;\ngrammar broken;\npublic <x> = go | (stop ;\n".write(toFile: grammar, atomically: true, encoding: .utf8)
        let broken = try Programs.earshot(["serve", "--port", "0", "--pocketsphinx-grammar", grammar])
        #expect(broken.status == 65 && broken.stderr.contains("grammar broken is not JSGF"), "\(broken.stderr)")
        let missing = try Programs.earshot(["serve", "--port", "0", "--pocketsphinx", "--pocketsphinx-model", directory + "/nowhere"])
        #expect(missing.status == 66 && missing.stderr.contains("pocketsphinx-en-us"), "\(missing.stderr)")
        let unreadable = try Programs.earshot(["serve", "--port", "0", "--pocketsphinx-grammar", directory + "/none.gram"])
        #expect(unreadable.status == 66, "\(unreadable.stderr)")
    }
}
