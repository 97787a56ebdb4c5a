import Crypto
import EarshotAudio
import EarshotBundles
import EarshotEdge
import EarshotRecognizer
import EarshotTestSupport
import EarshotVAD
import Foundation
import Testing

/// Blue/green model slots in the running pipeline: the store, shadow and canary candidates, switches and rollbacks
/// between utterances, automatic rollback of a bad candidate, and bundles refused for their hash or signature.
@Suite("model slots", .serialized)
struct ModelSlotsTests {
    static let words = ["stop", "seven", "forward", "left", "cancel", "status", "down", "nine"]

    /// A store with command-en 0.1.0 active, a same-network 0.2.0, and a "scrambled" bundle (labels reversed).
    static func store(_ directory: String, keys: [Curve25519.Signing.PublicKey] = []) throws -> ModelStore {
        let store = ModelStore(directory: directory + "/store", trustedKeys: keys)
        try store.install(Fixtures.packageRoot + "/Models/command/command-en")
        try store.install(Fixtures.commandBundleVariant(at: directory + "/v2") { $0["version"] = "0.2.0" })
        try store.install(Fixtures.commandBundleVariant(at: directory + "/scrambled") { m in
            m["name"] = "command-scrambled"
            let labels = m["labels"] as? [String] ?? []
            m["labels"] = Array(labels.prefix(2)) + labels.dropFirst(2).reversed()
        })
        try store.activate("command-en@0.1.0")
        return store
    }

    static func pipeline(_ slots: ModelSlots, router: Router = Router(), then: (@Sendable (Decision) -> Void)? = nil) throws -> (EdgePipeline, EdgePipelineTests.Collected) {
        let detector = try VoiceActivityDetector(bundle: Fixtures.packageRoot + "/Models/vad/earshot-vad-en")
        var configuration = EdgePipeline.Configuration()
        configuration.queueCapacity = 2
        configuration.waitWhenFull = true
        configuration.runID = "slots"
        let collected = EdgePipelineTests.Collected()
        let pipeline = EdgePipeline(detector: detector, slots: slots, policy: AutomationPolicy(), router: router, configuration: configuration) {
            collected.add($0)
            then?($0)
        }
        return (pipeline, collected)
    }

    @Test func theStoreInstallsVerifiedBundlesAndKeepsAHistory() throws {
        let directory = Fixtures.temporaryDirectory("slots-store")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Self.store(directory)
        #expect(store.installed() == ["command-en@0.1.0", "command-en@0.2.0", "command-scrambled@0.1.0"])
        try store.activate("command-en@0.2.0")
        #expect(try store.state()?.active == "command-en@0.2.0" && store.state()?.previous == "command-en@0.1.0")
        try store.rollback(reason: "test")
        let state = try #require(try store.state())
        #expect(state.active == "command-en@0.1.0" && state.previous == "command-en@0.2.0")
        #expect(state.history.map(\.event) == ["activate", "activate", "rollback"])
        // A tampered bundle is refused at install and the store is unchanged.
        let tampered = try Fixtures.tamperedCommandBundle(in: directory + "/t") { $0 / 2 }
        _ = try Fixtures.commandBundleVariant(at: directory + "/t2") { $0["version"] = "9.9.9" }
        try FileManager.default.copyItem(atPath: tampered + "/model.tflite", toPath: directory + "/t2/model.tflite.bad")
        try FileManager.default.removeItem(atPath: directory + "/t2/model.tflite")
        try FileManager.default.moveItem(atPath: directory + "/t2/model.tflite.bad", toPath: directory + "/t2/model.tflite")
        #expect(throws: RecognizerError.self) { try store.install(directory + "/t2") }
        #expect(store.installed().count == 3 && !FileManager.default.fileExists(atPath: store.path(of: "command-en@9.9.9")))
        // The same version with a different model is refused: versions are immutable.
        let changed = try Fixtures.commandBundleVariant(at: directory + "/same-version") { $0["model_sha256"] = String(repeating: "0", count: 64) }
        #expect(throws: RecognizerError.self) { try store.install(changed) }
        #expect(throws: RecognizerError.self) { try store.activate("command-en@7.0.0") }
        // A corrupt model whose manifest hash was updated to match still fails to parse, and is refused.
        let broken = try Fixtures.commandBundleVariant(at: directory + "/broken") { $0["version"] = "8.0.0" }
        var model = try Data(contentsOf: URL(fileURLWithPath: broken + "/model.tflite"))
        model.replaceSubrange(4..<8, with: Data("XXXX".utf8))      // not a TFLite file identifier any more
        try model.write(to: URL(fileURLWithPath: broken + "/model.tflite"))
        _ = try Fixtures.commandBundleVariant(at: directory + "/broken-manifest") { $0["version"] = "8.0.0"; $0["model_sha256"] = ModelBundle.sha256(model) }
        try FileManager.default.copyItem(atPath: broken + "/model.tflite", toPath: directory + "/broken-manifest/model.tflite.new")
        try FileManager.default.removeItem(atPath: directory + "/broken-manifest/model.tflite")
        try FileManager.default.moveItem(atPath: directory + "/broken-manifest/model.tflite.new", toPath: directory + "/broken-manifest/model.tflite")
        do { try store.install(directory + "/broken-manifest"); Issue.record("a corrupt model was installed") } catch { #expect(error.code == .model, "\(error)") }
        #expect(store.installed().count == 3)
    }

    @Test func signingKeysRefuseUnsignedAndWronglySignedBundles() throws {
        let directory = Fixtures.temporaryDirectory("slots-keys")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = Curve25519.Signing.PrivateKey(), other = Curve25519.Signing.PrivateKey()
        let bundle = try Fixtures.commandBundleVariant(at: directory + "/b") { $0["version"] = "0.3.0" }
        let store = ModelStore(directory: directory + "/store", trustedKeys: [key.publicKey])
        #expect(throws: RecognizerError.self) { try store.install(bundle) }            // unsigned
        try ModelBundle.sign(directory: bundle, key: other)
        #expect(throws: RecognizerError.self) { try store.install(bundle) }            // signed by a key not trusted
        try ModelBundle.sign(directory: bundle, key: key)
        #expect(try store.install(bundle) == "command-en@0.3.0")
        // A manifest edited after signing no longer verifies.
        let installed = store.path(of: "command-en@0.3.0") + "/manifest.json"
        var text = try String(contentsOfFile: installed, encoding: .utf8)
        text = text.replacingOccurrences(of: "0.95", with: "0.10")
        try text.write(toFile: installed, atomically: true, encoding: .utf8)
        #expect(throws: RecognizerError.self) { try store.bundle("command-en@0.3.0") }
    }

    /// The shadow runs on every utterance (share 1) and is logged beside the decision; the answers are exactly those
    /// of the active model alone.
    @Test func shadowNeverChangesTheOutput() throws {
        let directory = Fixtures.temporaryDirectory("slots-shadow")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Self.store(directory)
        let (audio, _) = try EdgePipelineTests.recording(Self.words)
        let (alone, plain) = try Self.pipeline(try ModelSlots(store: store))
        try alone.run(SampleArraySource(audio))
        try store.update { $0?.health.minimumSamples = 1_000 }
        try store.setCandidate(.init(bundle: "command-scrambled@0.1.0", mode: .shadow, share: 1))
        let (shadowed, collected) = try Self.pipeline(try ModelSlots(store: store))
        try shadowed.run(SampleArraySource(audio))
        #expect(collected.decisions.map(\.text) == plain.decisions.map(\.text) && plain.decisions.map(\.text) == Self.words)
        #expect(collected.decisions.map(\.confidence) == plain.decisions.map(\.confidence))
        #expect(collected.decisions.allSatisfy { $0.shadow?.model == "command-scrambled@0.1.0" && $0.canary == false && $0.models["answered"] == "command-en@0.1.0" })
        #expect(collected.decisions.filter { $0.shadow?.agrees == false }.count >= 6)
        // The candidate ran and did not fail on any utterance; without a candidate the flag is absent.
        #expect(collected.decisions.allSatisfy { $0.candidateError == false } && plain.decisions.allSatisfy { $0.candidateError == nil })
        #expect(shadowed.snapshot.shadow == Self.words.count)
    }

    /// With the cloud answering too, the shadow is compared with the cloud: a second accuracy estimate without labels.
    @Test func theShadowIsComparedWithTheCloudWhenItAnswers() throws {
        let directory = Fixtures.temporaryDirectory("slots-shadow-cloud")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Self.store(directory)
        try store.setCandidate(.init(bundle: "command-en@0.2.0", mode: .shadow, share: 1))
        let server = try TranscriptionServer("say", text: "Stop!")
        var routing = RoutingConfiguration()
        routing.policy = .cloudFirst
        let router = Router(configuration: routing, client: CloudClient(url: server.url, responseFormat: "json"))
        let words = Array(Self.words.prefix(3))
        let (audio, _) = try EdgePipelineTests.recording(words)
        let (pipeline, collected) = try Self.pipeline(try ModelSlots(store: store), router: router)
        try pipeline.run(SampleArraySource(audio))
        let d = collected.decisions
        #expect(d.map(\.text) == ["stop", "stop", "stop"] && d.allSatisfy { $0.source == "cloud" })
        // The shadow (the same network as the active model) says what the active model said; the cloud always "stop".
        #expect(d.map { $0.shadow?.text } == words && d.map { $0.shadow?.agrees } == [true, true, true])
        #expect(d.map { $0.shadow?.agreesCloud } == [true, false, false])
    }

    /// Canary assignment is a deterministic hash of the utterance id: over 20 000 ids the share is P within sampling
    /// error, and in the pipeline exactly the utterances whose hash falls under P are answered by the canary.
    @Test func canarySharesMatchPAndAreDeterministic() throws {
        for p in [0.05, 0.25, 0.5] {
            let n = 20_000
            let hits = (0..<n).filter { ModelSlots.fraction("run-\($0)") < p }.count
            let sigma = (p * (1 - p) / Double(n)).squareRoot()
            #expect(abs(Double(hits) / Double(n) - p) < 4 * sigma, "p \(p): \(hits) of \(n)")
        }
        let directory = Fixtures.temporaryDirectory("slots-canary")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Self.store(directory)
        try store.setCandidate(.init(bundle: "command-en@0.2.0", mode: .canary, share: 0.5))
        let (audio, _) = try EdgePipelineTests.recording(Self.words)
        let (pipeline, collected) = try Self.pipeline(try ModelSlots(store: store))
        try pipeline.run(SampleArraySource(audio))
        let d = collected.decisions
        #expect(d.count == Self.words.count && d.map(\.text) == Self.words)
        #expect(d.map { $0.canary == true } == d.map { ModelSlots.fraction($0.id) < 0.5 })
        #expect(d.allSatisfy { $0.models["answered"] == ($0.canary == true ? "command-en@0.2.0" : "command-en@0.1.0") })
        #expect(pipeline.snapshot.canary == d.filter { $0.canary == true }.count)
    }

    /// Activation and rollback while the pipeline runs: the switch lands on the next utterance, no decision is lost.
    @Test func switchesAndRollbacksLandBetweenUtterancesWithNoGap() throws {
        let directory = Fixtures.temporaryDirectory("slots-switch")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Self.store(directory)
        let (audio, _) = try EdgePipelineTests.recording(Self.words)
        let (pipeline, collected) = try Self.pipeline(try ModelSlots(store: store)) { d in
            if d.id == "slots-3" { try? store.activate("command-en@0.2.0") }
            if d.id == "slots-6" { try? store.rollback() }
        }
        try pipeline.run(SampleArraySource(audio))
        let d = collected.decisions
        #expect(d.map(\.id) == (1...8).map { "slots-\($0)" } && d.map(\.text) == Self.words)
        #expect(d.map { $0.models["active"] ?? "" } == Array(repeating: "command-en@0.1.0", count: 3) + Array(repeating: "command-en@0.2.0", count: 3)
                + Array(repeating: "command-en@0.1.0", count: 2))
    }

    /// A canary that disagrees with the active model is rolled back on its own once the evidence is in, and the
    /// rollback is written to the store's history; the active model answers from then on.
    @Test func aBadCanaryIsRolledBackAutomatically() throws {
        let directory = Fixtures.temporaryDirectory("slots-auto")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Self.store(directory)
        try store.update { $0?.health.minimumSamples = 3 }
        try store.setCandidate(.init(bundle: "command-scrambled@0.1.0", mode: .canary, share: 1))
        let (audio, _) = try EdgePipelineTests.recording(Self.words)
        let (pipeline, collected) = try Self.pipeline(try ModelSlots(store: store))
        try pipeline.run(SampleArraySource(audio))
        let d = collected.decisions
        #expect(d.count == Self.words.count)
        #expect(d.prefix(3).allSatisfy { $0.canary == true } && d.dropFirst(3).allSatisfy { $0.canary == nil })
        #expect(d.dropFirst(3).map(\.text) == Array(Self.words.dropFirst(3)))
        let state = try #require(try store.state())
        #expect(state.candidate == nil && state.history.last?.event == "auto-rollback" && state.history.last?.reason?.contains("agreement") == true)
        #expect(pipeline.snapshot.rollbacks == 1)
    }

    /// A bundle tampered with after activation is refused when the running slots reload, and the loaded model keeps
    /// answering.
    @Test func aTamperedBundleIsRefusedAndTheActiveModelKeepsRunning() throws {
        let directory = Fixtures.temporaryDirectory("slots-tamper")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Self.store(directory)
        let slots = try ModelSlots(store: store)
        let model = store.path(of: "command-en@0.2.0") + "/model.tflite"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: model))
        bytes[bytes.count / 3] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: model))
        try store.update { s in let old = s?.active; s?.previous = old; s?.active = "command-en@0.2.0" }      // activated before the damage
        #expect(slots.refresh() == false)
        #expect(slots.current.active.id == "command-en@0.1.0")
        #expect(slots.drainMessages().contains { $0.contains("refusing command-en@0.2.0") && $0.contains("SHA-256") })
        let (audio, _) = try EdgePipelineTests.recording(Array(Self.words.prefix(2)))
        let (pipeline, collected) = try Self.pipeline(slots)
        try pipeline.run(SampleArraySource(audio))
        #expect(collected.decisions.map(\.text) == Array(Self.words.prefix(2)) && collected.decisions.allSatisfy { $0.models["active"] == "command-en@0.1.0" })
    }
}

/// Bundles as single tar files: made by real `tar`, installed like directories, and refused, never crashing on,
/// when damaged, truncated, trying to escape the store, or mutated at random.
@Suite("bundle archives")
struct BundleArchiveTests {
    static func tarball(_ directory: String) throws -> String {
        _ = try Fixtures.commandBundleVariant(at: directory + "/command-en-0.4.0") { $0["version"] = "0.4.0" }
        let archive = directory + "/command-en-0.4.0.tar"
        let tar = try Programs.run("/bin/tar", ["-cf", archive, "-C", directory, "command-en-0.4.0"])
        try #require(tar.status == 0, "\(tar.stderr)")
        return archive
    }

    @Test func aTarOfABundleInstallsLikeItsDirectory() throws {
        let directory = Fixtures.temporaryDirectory("archive-ok")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = try Self.tarball(directory)
        #expect(BundleArchive.looksLikeArchive(archive) && !BundleArchive.looksLikeArchive(directory + "/command-en-0.4.0"))
        let store = ModelStore(directory: directory + "/store")
        #expect(try store.install(archive) == "command-en@0.4.0")
        #expect(try store.bundle("command-en@0.4.0").manifest.version == "0.4.0")
        #expect(store.installed() == ["command-en@0.4.0"])       // nothing left over from unpacking
    }

    @Test func damagedOrHostileArchivesAreRefused() throws {
        let directory = Fixtures.temporaryDirectory("archive-bad")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = try Self.tarball(directory)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: archive))
        let store = ModelStore(directory: directory + "/store")
        func refused(_ data: Data, _ name: String) throws {
            let path = directory + "/" + name
            try data.write(to: URL(fileURLWithPath: path))
            #expect(throws: RecognizerError.self, "\(name)") { try store.install(path) }
        }
        var header = bytes; header[10] ^= 0x20                       // a name byte: the checksum no longer holds
        try refused(header, "checksum.tar")
        try refused(bytes.prefix(bytes.count / 2), "truncated.tar")
        // A member that climbs out of the bundle, made by Python's tarfile (GNU tar strips "..").
        let script = """
        import io, sys, tarfile
        with tarfile.open(sys.argv[1], "w", format=tarfile.USTAR_FORMAT) as t:
            for name in ("../manifest.json", "model.tflite"):
                data = b"{}" if name.endswith("json") else b"x"
                info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
        """
        let hostile = directory + "/escape.tar"
        #expect(try Programs.run("/usr/bin/env", ["python3", "-c", script, hostile]).status == 0)
        #expect(throws: RecognizerError.self) { try store.install(hostile) }
        #expect(!FileManager.default.fileExists(atPath: directory + "/store/manifest.json"))
        // 2 000 random mutations of the first 4 KB (headers and manifest): refused or installed, never a crash.
        var generator = SeededGenerator(seed: 11)
        var installed = 0
        for i in 0..<2_000 {
            var mutated = bytes
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                mutated[Int.random(in: 0..<min(4_096, mutated.count), using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            let path = directory + "/m.tar"
            try mutated.write(to: URL(fileURLWithPath: path))
            let fuzzStore = ModelStore(directory: directory + "/fuzz-\(i % 2)")
            if (try? fuzzStore.install(path)) != nil { installed += 1 }
        }
        #expect(installed < 2_000)
        #expect(store.installed().isEmpty)
    }
}

/// A candidate's health on the device: the label-free agreement rule, and the cloud teacher's word where it answered.
@Suite("candidate health")
struct CandidateHealthTests {
    static func health(samples: Int, agreeing: Int, teacher: [(candidate: Bool, active: Bool)]) -> CandidateHealth {
        var h = CandidateHealth()
        for k in 0..<samples { h.observe(error: false, candidateNull: false, activeNull: false, agrees: k < agreeing, milliseconds: 5) }
        for t in teacher { h.observeTeacher(candidateAgrees: t.candidate, activeAgrees: t.active) }
        return h
    }

    @Test func theTeacherExcusesDisagreementOnlyWhenTheCandidateIsAtLeastAsRight() {
        let t = CandidateHealth.Thresholds()
        // 60 % agreement with the active model and no teacher: rolled back, as before.
        #expect(Self.health(samples: 40, agreeing: 24, teacher: []).breach(t)?.contains("agreement with the active model") == true)
        // The same, but the teacher sides with the candidate on 20 answers: the disagreement is the improvement.
        let better = Array(repeating: (candidate: true, active: false), count: 8) + Array(repeating: (candidate: true, active: true), count: 12)
        #expect(Self.health(samples: 40, agreeing: 24, teacher: better).breach(t) == nil)
        // Too few teacher answers (fewer than half the minimum sample) say nothing.
        #expect(Self.health(samples: 40, agreeing: 24, teacher: Array(better.prefix(9))).breach(t) != nil)
        // The teacher siding with the active model significantly (McNemar p < 0.01) rolls back even at high agreement.
        let worse = Array(repeating: (candidate: false, active: true), count: 10) + Array(repeating: (candidate: true, active: true), count: 10)
        #expect(Self.health(samples: 40, agreeing: 36, teacher: worse).breach(t)?.contains("cloud teacher") == true)
        // A small, insignificant lead of the active model is not a reason.
        let close = [(candidate: false, active: true), (false, true), (true, false)] + Array(repeating: (candidate: true, active: true), count: 17)
        #expect(Self.health(samples: 40, agreeing: 36, teacher: close).breach(t) == nil)
    }
}
