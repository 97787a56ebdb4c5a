import EarshotTestSupport
import Foundation
import Testing

/// Sampled audio from device to collector and back out as a training dataset, with the real programs on both engines:
/// `earshot run --keep-audio` keeps clips, `earshot sync --upload-audio` sends each once within its budget, the
/// collector checks and bounds them, and `earshot-collector export --for-training` labels each clip with the best
/// source there is.
@Suite("audio upload and training export", .serialized)
struct TrainingExportTests {
    static let commands = Fixtures.packageRoot + "/Demo/audio/commands.flac"

    struct Box {
        let directory: String
        let db: String
        let token: String
        var spool: String { directory + "/spool" }
    }

    static func box(_ engine: String, _ label: String) throws -> Box {
        let directory = Fixtures.temporaryDirectory(label)
        let db = Engines.url(engine, directory: directory)
        let added = try Programs.run(Programs.collector, ["devices", "add", "van-1", "--site", "north", "--group", "field", "--db", db])
        #expect(added.status == 0, "\(added.stderr)")
        return Box(directory: directory, db: db, token: added.stdout.split(separator: "\n").last.map(String.init) ?? "")
    }

    static func decisions(_ run: ProcessResult) -> [[String: Any]] {
        run.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    @Test(arguments: Engines.all)
    func clipsGoOnceWithinBudgetsAndBadOnesAreRefused(_ engine: String) throws {
        let box = try Self.box(engine, "audio-upload-\(engine)")
        defer { try? FileManager.default.removeItem(atPath: box.directory) }
        let run = try Programs.earshot(["run", "--audio", Self.commands, "--spool", box.spool, "--keep-audio", "1"])
        #expect(run.status == 0, "\(run.stderr)")
        let clips = try FileManager.default.contentsOfDirectory(atPath: box.spool + "/audio").filter { $0.hasSuffix(".flac") }
        #expect(clips.count == Self.decisions(run).count && clips.count >= 5)
        var server = try ServeProcess(["--db", box.db, "--audio-max-mb-per-device", "1"], program: Programs.collector)
        func sync(_ extra: [String] = []) throws -> ProcessResult {
            try Programs.earshot(["sync", "--now", "--spool", box.spool, "--collector", server.base, "--token", box.token, "--upload-audio", "--no-rollout"] + extra)
        }
        // A small budget sends some now and leaves the rest for the next run; nothing goes twice.
        let first = try sync(["--audio-limit-mb", "0.04"])
        #expect(first.status == 0, "\(first.stderr)")
        let sent = Int(first.stdout.firstMatch(of: /audio: (\d+) clips uploaded/)?.1 ?? "") ?? -1
        #expect(sent >= 1 && sent < clips.count && first.stdout.contains("\(clips.count - sent) waiting"), "\(first.stdout)")
        let second = try sync()
        #expect(second.stdout.contains("audio: \(clips.count - sent) clips uploaded"), "\(second.stdout)")
        #expect(try sync().stdout.contains("audio: 0 clips uploaded"))
        let metrics = String(decoding: try server.request("/metrics").body, as: UTF8.self)
        let stored = clips.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: box.spool + "/audio/" + $1))?[.size] as? Int ?? 0) }
        #expect(metrics.contains("earshot_collector_audio_bytes_total \(stored)"), "\(metrics.split(separator: "\n").filter { $0.contains("audio") })")

        // Bad uploads: no token, not FLAC, a bad name, too large, the same name with other bytes.
        let flac = try Data(contentsOf: URL(fileURLWithPath: box.spool + "/audio/" + clips[0]))
        let auth = ["Authorization": "Bearer \(box.token)"]
        #expect(try server.request("/v1/audio/x.flac", method: "PUT", body: flac).status == 401)
        #expect(try server.request("/v1/audio/x.flac", method: "PUT", headers: auth, body: Data(repeating: 7, count: 100)).status == 400)
        #expect(try server.request("/v1/audio/..%2Fx.flac", method: "PUT", headers: auth, body: flac).status == 400)
        #expect(try server.request("/v1/audio/x.wav", method: "PUT", headers: auth, body: flac).status == 400)
        #expect(try server.request("/v1/audio/big.flac", method: "PUT", headers: auth, body: Data("fLaC".utf8) + Data(count: 3 * 1_048_576)).status == 413)
        var other = flac
        other[other.count - 1] ^= 0xFF
        #expect(try server.request("/v1/audio/\(clips[0])", method: "PUT", headers: auth, body: other).status == 409)
        #expect(try server.request("/v1/audio/\(clips[0])", method: "PUT", headers: auth, body: flac).status == 200)
        // A device over its bound loses its oldest clips first: 1 MiB holds about 50 of these.
        for k in 0..<70 {
            var copy = flac
            copy.append(contentsOf: Array(String(k).utf8))                 // distinct bytes, still FLAC by its signature
            #expect(try server.request("/v1/audio/fill-\(k).flac", method: "PUT", headers: auth, body: copy).status == 201)
        }
        let listed = try Programs.run(Programs.collector, ["devices", "list", "--db", box.db, "--json"])
        let device = (try JSONSerialization.jsonObject(with: listed.stdoutData) as? [[String: Any]])?.first
        let bytes = device?["audio_bytes"] as? Int ?? .max, count = device?["audio_clips"] as? Int ?? 0
        #expect(bytes <= 1_048_576 && bytes > 1_048_576 - 2 * flac.count && count >= 40 && count < clips.count + 70, "\(String(describing: device))")
        #expect(server.terminate() == 0)

        // A collector that refuses audio: the decisions still sync, the clips wait.
        server = try ServeProcess(["--db", box.db, "--no-audio"], program: Programs.collector)
        try? FileManager.default.removeItem(atPath: box.spool + "/audio/.uploaded")
        let refused = try sync()
        #expect(refused.status == 0 && refused.stdout.contains("audio: upload stopped"), "\(refused.stdout) \(refused.stderr)")
        #expect(server.terminate() == 0)
    }

    @Test(arguments: Engines.all)
    func trainingExportTakesTheBestLabelForEachClip(_ engine: String) throws {
        let box = try Self.box(engine, "training-export-\(engine)")
        defer { try? FileManager.default.removeItem(atPath: box.directory) }
        // Local answers, then a teacher that always says "stop".
        let local = try Programs.earshot(["run", "--audio", Self.commands, "--spool", box.spool, "--keep-audio", "1"])
        let teacher = try TranscriptionServer("say", text: "Stop!")
        let taught = try Programs.earshot(["run", "--audio", Self.commands, "--spool", box.spool, "--keep-audio", "1", "--cloud-url", teacher.url.absoluteString,
                                           "--policy", "cloud-first", "--cloud-format", "json"])
        #expect(local.status == 0 && taught.status == 0, "\(local.stderr) \(taught.stderr)")
        let plain = Self.decisions(local), cloud = Self.decisions(taught)
        #expect(cloud.allSatisfy { $0["source"] as? String == "cloud" && $0["text"] as? String == "stop" })
        // A technician corrects one local answer and confirms another, and corrects one the teacher labelled.
        let corrected = try #require(plain.first { $0["text"] as? String != "go" }?["id"] as? String)
        let confirmed = try #require(plain.last?["id"] as? String)
        let overruled = try #require(cloud.first?["id"] as? String)
        for arguments in [[corrected, "go"], [confirmed], [overruled, "left"]] {
            let labelled = try Programs.earshot(["label"] + arguments + ["--spool", box.spool])
            #expect(labelled.status == 0, "\(labelled.stderr)")
        }
        let server = try ServeProcess(["--db", box.db], program: Programs.collector)
        let sync = try Programs.earshot(["sync", "--now", "--spool", box.spool, "--collector", server.base, "--token", box.token, "--upload-audio", "--no-rollout"])
        #expect(sync.status == 0, "\(sync.stderr)")

        let out = box.directory + "/dataset"
        let export = try Programs.run(Programs.collector, ["export", "--for-training", "--out", out, "--db", box.db])
        #expect(export.status == 0, "\(export.stderr)")
        let lines = try String(contentsOfFile: out + "/manifest.jsonl", encoding: .utf8).split(separator: "\n")
        let items = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(items.count == plain.count + cloud.count)
        func item(_ id: String) -> [String: Any]? { items.first { $0["utterance"] as? String == id } }
        #expect(item(corrected)?["provenance"] as? String == "technician-correction" && item(corrected)?["label"] as? String == "go")
        #expect(item(confirmed)?["provenance"] as? String == "technician-confirmation" && item(confirmed)?["confidence"] as? Double == 1)
        #expect(item(overruled)?["provenance"] as? String == "technician-correction" && item(overruled)?["label"] as? String == "left"
                && item(overruled)?["teacher_text"] as? String == "stop")
        let teacherLabelled = items.filter { $0["provenance"] as? String == "cloud-teacher" }
        #expect(teacherLabelled.count == cloud.count - 1 && teacherLabelled.allSatisfy { $0["label"] as? String == "stop" && $0["local_text"] is String })
        #expect(items.filter { $0["provenance"] as? String == "local-model" }.count == plain.count - 2)
        // Every clip is there, is FLAC, carries the device's cohort tags and the decision's input statistics; labels follow
        // the conventions (lower case words).
        for i in items {
            let clip = out + "/" + (i["clip"] as? String ?? "")
            #expect(FileManager.default.contents(atPath: clip)?.prefix(4) == Data("fLaC".utf8), "\(clip)")
            #expect(i["site"] as? String == "north" && i["group"] as? String == "field" && (i["inputs"] as? [String: Any])?["snr_db"] is Double)
            #expect((i["label"] as? String ?? "X").allSatisfy { $0.isLowercase || $0 == " " })
        }
        let dataset = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/dataset.json"))) as? [String: Any])
        #expect(dataset["clips"] as? Int == items.count && (dataset["conventions"] as? String ?? "").contains("LABELLING.md"))

        // Filters: only technicians' labels; only confident ones; a cohort with no devices; an existing directory is refused.
        let technicians = try Programs.run(Programs.collector, ["export", "--for-training", "--out", out + "-tech", "--db", box.db,
                                                                 "--provenance", "technician-correction,technician-confirmation"])
        #expect(technicians.stderr.contains("3 clips"), "\(technicians.stderr)")
        let confident = try Programs.run(Programs.collector, ["export", "--for-training", "--out", out + "-sure", "--db", box.db, "--min-confidence", "0.999"])
        #expect(confident.status == 0 && confident.stderr.contains("below the confidence floor"), "\(confident.stderr)")
        let south = try Programs.run(Programs.collector, ["export", "--for-training", "--out", out + "-south", "--db", box.db, "--site", "south"])
        #expect(south.stderr.contains("0 clips"), "\(south.stderr)")
        // --cohort names a cohort by any of its tags: the site and the group select the device, another name nothing.
        for (cohort, all) in [("north", true), ("field", true), ("south", false)] {
            let r = try Programs.run(Programs.collector, ["export", "--for-training", "--out", out + "-cohort-" + cohort, "--db", box.db, "--cohort", cohort])
            #expect(r.status == 0 && r.stderr.contains(all ? "\(items.count) clips" : " 0 clips"), "\(cohort): \(r.stderr)")
        }
        let again = try Programs.run(Programs.collector, ["export", "--for-training", "--out", out, "--db", box.db])
        #expect(again.status == 64 && again.stderr.contains("not empty"), "\(again.stderr)")
        let mixed = try Programs.run(Programs.collector, ["export", "--out", out + ".csv", "--db", box.db, "--site", "north"])
        #expect(mixed.status == 64)
        #expect(server.terminate() == 0)
    }

    /// The recipe takes an export next to its synthetic data: clips cut to the labelling rules, features from the
    /// frontend, and the split made by device, so no test speaker or microphone is in training.
    @Test func theCommandRecipeReadsAnExportSplitByDevice() throws {
        let python = Fixtures.packageRoot + "/.venv-oracles/bin/python"
        try #require(FileManager.default.isExecutableFile(atPath: python), "make test makes .venv-oracles (scripts/oracles/install-venv.sh)")
        let box = try Self.box("sqlite", "training-recipe")
        defer { try? FileManager.default.removeItem(atPath: box.directory) }
        let server = try ServeProcess(["--db", box.db], program: Programs.collector)
        var tokens = [box.token]
        for name in ["van-2", "van-3", "van-4"] {
            let added = try Programs.run(Programs.collector, ["devices", "add", name, "--site", "south", "--db", box.db])
            tokens.append(added.stdout.split(separator: "\n").last.map(String.init) ?? "")
        }
        for (k, token) in tokens.enumerated() {
            let spool = box.directory + "/spool-\(k)"
            #expect(try Programs.earshot(["run", "--audio", Self.commands, "--spool", spool, "--keep-audio", "1"]).status == 0)
            let sync = try Programs.earshot(["sync", "--now", "--spool", spool, "--collector", server.base, "--token", token, "--upload-audio", "--no-rollout"])
            #expect(sync.status == 0, "\(sync.stderr)")
        }
        let export = box.directory + "/export", data = box.directory + "/data"
        #expect(try Programs.run(Programs.collector, ["export", "--for-training", "--out", export, "--db", box.db]).status == 0)
        let recipe = try Programs.run(python, [Fixtures.packageRoot + "/Models/command/recipe/deployment.py", "--export", export, "--out", data,
                                                "--earshot", Programs.earshot, "--test-share", "0.25"])
        #expect(recipe.status == 0, "\(recipe.stderr)")
        func facts(_ split: String) throws -> [[String: Any]] {
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: data + "/\(split)_facts.json"))) as? [[String: Any]] ?? []
        }
        let train = try facts("deployment_train"), test = try facts("deployment_test")
        let trainDevices = Set(train.compactMap { $0["device"] as? String }), testDevices = Set(test.compactMap { $0["device"] as? String })
        #expect(trainDevices.count == 3 && testDevices.count == 1 && trainDevices.isDisjoint(with: testDevices), "\(trainDevices) \(testDevices)")
        let manifest = try String(contentsOfFile: export + "/manifest.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(train.count + test.count == manifest.count)
        let vocabulary = Set(["silence", "unknown", "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "oh", "yes", "no",
                              "stop", "go", "start", "cancel", "repeat", "next", "back", "up", "down", "left", "right", "on", "off", "status", "help",
                              "confirm", "forward", "backward", "meters"])
        #expect((train + test).allSatisfy { vocabulary.contains($0["label"] as? String ?? "") })
        // The features are the frontend's: 49 frames × 40 channels of 16-bit values per clip (numpy's .npy header, then data).
        let features = try Data(contentsOf: URL(fileURLWithPath: data + "/deployment_train_features.npy"))
        let header = String(decoding: features.prefix(128), as: UTF8.self)
        #expect(header.contains("'shape': (\(train.count), 49, 40)") && header.contains("<u2"), "\(header)")
        #expect(server.terminate() == 0)
    }
}
