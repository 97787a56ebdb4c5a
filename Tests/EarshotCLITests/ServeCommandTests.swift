import EarshotAudio
import EarshotEdge
import EarshotTestSupport
import Foundation
import Testing

/// `earshot serve` as a real process on 127.0.0.1, spoken to over HTTP by Earshot's own cloud client and by plain
/// requests: the OpenAI-compatible answers, the errors a client gets for bad requests, health and metrics.
@Suite("earshot serve", .serialized)
struct ServeCommandTests {
    static let commands = Fixtures.packageRoot + "/Demo/audio/commands.flac"

    static func form(_ fields: [(String, String)], file: Data?, filename: String = "a.flac") -> (Data, String) {
        let boundary = "test-\(UInt32.random(in: 0..<UInt32.max))"
        var body = Data()
        for (name, value) in fields { body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8) }
        if let file {
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\n\r\n".utf8) + file + Data("\r\n".utf8)
        }
        body += Data("--\(boundary)--\r\n".utf8)
        return (body, "multipart/form-data; boundary=\(boundary)")
    }

    static func post(_ server: ServeProcess, _ fields: [(String, String)], file: Data?, headers: [String: String] = [:]) throws -> (status: Int, object: [String: Any]?, body: Data) {
        let (body, type) = form(fields, file: file)
        let (status, data) = try server.request("/v1/audio/transcriptions", method: "POST", headers: headers.merging(["Content-Type": type]) { a, _ in a }, body: body)
        return (status, try? JSONSerialization.jsonObject(with: data) as? [String: Any], data)
    }

    /// The served answer is the local model's, utterance for utterance, as `earshot transcribe` finds them; the cloud
    /// client reads it with segments, words and a confidence.
    @Test func servedTranscriptsMatchTheLocalModelAndParseAsACloudAnswer() throws {
        let server = try ServeProcess()
        #expect(server.banner.contains("model command-en@"))
        let local = try Programs.earshot(["transcribe", Self.commands, "--json"])
        let utterances = try #require((try JSONSerialization.jsonObject(with: local.stdoutData) as? [String: Any])?["utterances"] as? [[String: Any]])
        let (status, object, _) = try Self.post(server, [("model", "whisper-1"), ("response_format", "verbose_json")],
                                                file: try Data(contentsOf: URL(fileURLWithPath: Self.commands)))
        #expect(status == 200)
        let segments = try #require(object?["segments"] as? [[String: Any]])
        #expect(segments.count == utterances.count && segments.count >= 5)
        for (s, u) in zip(segments, utterances) {
            #expect(s["label"] as? String == ((u["top_k"] as? [[String: Any]])?.first?["label"] as? String))
            #expect(abs((s["start"] as? Double ?? -1) - (u["start"] as? Double ?? -2)) < 0.002)
        }
        let words = segments.compactMap { ($0["text"] as? String).flatMap { $0.isEmpty ? nil : $0 } }
        #expect(object?["text"] as? String == words.joined(separator: " "))
        // Earshot's own cloud client reads the same endpoint (WAV upload, verbose_json): words with probabilities.
        let source = try ConvertingSource(try AudioFileReader(path: Self.commands))
        var samples: [Int16] = []
        while try source.read(appendingTo: &samples, maximum: 16_000) {}
        let answer = try CloudClient(url: server.transcriptions).transcribe(samples, timeout: 30)
        #expect(answer.text == words.joined(separator: " ") && answer.words.count == words.count && answer.confidence != nil)
        let text = try Self.post(server, [("response_format", "text")], file: try Data(contentsOf: URL(fileURLWithPath: Self.commands)))
        #expect(String(decoding: text.body, as: UTF8.self) == answer.text + "\n")
        // Health and metrics.
        let health = try server.request("/healthz")
        #expect(health.status == 200 && String(decoding: health.body, as: UTF8.self).contains("\"ok\""))
        let metrics = String(decoding: try server.request("/metrics").body, as: UTF8.self)
        #expect(metrics.contains("earshot_serve_requests_total{status=\"200\"} 3"))
        #expect(metrics.contains("earshot_serve_real_time_factor_count 3") && metrics.contains("process_resident_memory_bytes "))
        #expect(server.terminate() == 0)     // SIGTERM: a clean shutdown
    }

    /// Bad requests get a 4xx in OpenAI's error shape and the server keeps serving.
    @Test func badRequestsGetClearErrorsAndTheServerCarriesOn() throws {
        let server = try ServeProcess(["--max-upload-mb", "1", "--max-seconds", "5"])
        func error(_ r: (status: Int, object: [String: Any]?, body: Data)) -> String { ((r.object?["error"] as? [String: Any])?["message"] as? String) ?? "" }
        let notMultipart = try server.request("/v1/audio/transcriptions", method: "POST", headers: ["Content-Type": "application/json"], body: Data("{}".utf8))
        #expect(notMultipart.status == 415)
        let noFile = try Self.post(server, [("model", "x")], file: nil)
        #expect(noFile.status == 400 && error(noFile).contains("no file"))
        let garbage = try Self.post(server, [], file: Data((0..<4_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }))
        #expect(garbage.status == 422 && error(garbage).contains("a.flac"), "\(error(garbage))")
        let long = try Self.post(server, [], file: try Data(contentsOf: URL(fileURLWithPath: Self.commands)))
        #expect(long.status == 413 && error(long).contains("limit"), "\(error(long))")
        let huge = try Self.post(server, [], file: Data(count: 2 * 1_024 * 1_024))
        #expect(huge.status == 413)
        let format = try Self.post(server, [("response_format", "srt")], file: Data(count: 10))
        #expect(format.status == 400 && error(format).contains("srt"))
        let truncated = try server.request("/v1/audio/transcriptions", method: "POST",
                                           headers: ["Content-Type": "multipart/form-data; boundary=xyz"], body: Data("--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc".utf8))
        #expect(truncated.status == 400)
        #expect(try server.request("/healthz").status == 200)
    }

    /// One serve, two models: the form's `model` field picks one by name; any other name gets the first.
    @Test func severalModelsAreChosenByTheModelField() throws {
        let root = Fixtures.packageRoot + "/Models"
        let server = try ServeProcess(["--model", root + "/command/command-en", "--model", root + "/phrase/phrase-en",
                                       "--grammar", root + "/phrase/grammars/field.gram"])
        let audio = try Data(contentsOf: URL(fileURLWithPath: Self.commands))
        for (asked, answered) in [("phrase-en", "phrase-en@"), ("command-en", "command-en@"), ("whisper-1", "command-en@")] {
            let r = try Self.post(server, [("model", asked), ("response_format", "verbose_json")], file: audio)
            #expect(r.status == 200 && (r.object?["model"] as? String)?.hasPrefix(answered) == true, "\(asked): \(r.object?["model"] ?? "-")")
        }
        let models = try JSONSerialization.jsonObject(with: try server.request("/v1/models").body) as? [String: Any]
        #expect((models?["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["command-en", "phrase-en"])
        let grammarOnly = try Programs.earshot(["serve", "--port", "0", "--model", root + "/command/command-en", "--grammar", root + "/phrase/grammars/field.gram"])
        #expect(grammarOnly.status == 64 && grammarOnly.stderr.contains("needs a phrase model"))
    }

    @Test func aTokenGuardsTheAPI() throws {
        let server = try ServeProcess([], environment: ["EARSHOT_SERVE_TOKEN": "sesame"])
        let audio = try Data(contentsOf: URL(fileURLWithPath: Self.commands))
        #expect(try Self.post(server, [], file: audio).status == 401)
        #expect(try Self.post(server, [], file: audio, headers: ["Authorization": "Bearer wrong"]).status == 401)
        #expect(try Self.post(server, [], file: audio, headers: ["Authorization": "Bearer sesame"]).status == 200)
        #expect(try server.request("/v1/models").status == 401)
        #expect(try server.request("/v1/models", headers: ["Authorization": "Bearer sesame"]).status == 200)
    }

    /// The product's loop on one machine: `earshot run` with `earshot serve` as its cloud (cloud-first): every
    /// decision comes from the cloud and agrees with the local model on the same audio.
    @Test func runUsesServeAsItsCloud() throws {
        let server = try ServeProcess()
        let result = try Programs.earshot(["run", "--audio", Self.commands, "--cloud-url", server.transcriptions.absoluteString,
                                           "--policy", "cloud-first", "--budget-ms", "60000", "--cloud-timeout-ms", "30000"])   // about the loop, not timing
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count >= 5)
        #expect(lines.allSatisfy { $0["source"] as? String == "cloud" && $0["offline"] as? Bool == false }, "\(result.stdout)")
        let agreeing = lines.filter { ($0["local"] as? [String: Any])?["agrees"] as? Bool == true }
        #expect(agreeing.count >= lines.count - 1, "\(result.stdout)")
    }
}
