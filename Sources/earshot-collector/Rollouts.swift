import ArgumentParser
import Crypto
import EarshotBundles
import EarshotCollector
import Foundation

extension Collector {
    /// `earshot-collector models push|list`: the model registry devices download from.
    struct Models: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The model registry: verified, signed bundles for rollouts.",
                                                        subcommands: [Push.self, List.self])

        struct Push: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Verify a bundle (hash, signature with --trusted-key) and store it; prints NAME@VERSION.",
                discussion: "With trusted keys (--trusted-key or $EARSHOT_TRUSTED_KEYS, colon-separated), unsigned bundles and bundles signed by another key are refused (exit 65).")
            @Argument(help: ArgumentHelp("A bundle directory or archive.", valueName: "bundle")) var bundle: String
            @Option(name: .customLong("trusted-key"), help: ArgumentHelp("An ed25519 public key file.", valueName: "file")) var trustedKeys: [String] = []
            @OptionGroup var database: DatabaseOptions

            func run() async throws {
                let files = trustedKeys.isEmpty ? (ProcessInfo.processInfo.environment["EARSHOT_TRUSTED_KEYS"] ?? "").split(separator: ":").map(String.init) : trustedKeys
                let temporary = NSTemporaryDirectory() + "earshot-push-\(UUID().uuidString)"
                defer { try? FileManager.default.removeItem(atPath: temporary) }
                let verified: ModelBundle, archive: Data
                do {
                    let keys = try files.map { (file) throws(RecognizerError) in try ModelBundle.publicKey(file: file) }
                    let directory = BundleArchive.looksLikeArchive(bundle) ? try BundleArchive.unpack(bundle, into: temporary) : bundle
                    verified = try ModelBundle(directory: directory, trustedKeys: keys)
                    archive = try BundleArchive.pack(directory: directory)
                } catch {
                    throw fail("\(bundle) is refused: \(error.message)", error.code == .input ? .inputMissing : .corruptInput)
                }
                let m = verified.manifest
                let manifestText = String(decoding: FileManager.default.contents(atPath: verified.directory + "/manifest.json") ?? Data(), as: UTF8.self)
                let entry = RegisteredModel(id: "\(m.name)@\(m.version)", name: m.name, version: m.version, kind: m.kind, modelSha256: m.modelSha256,
                                            archiveSha256: ModelBundle.sha256(archive), archiveBytes: archive.count,
                                            signed: !files.isEmpty && FileManager.default.fileExists(atPath: verified.directory + "/" + ModelBundle.signatureFile),
                                            manifest: manifestText, pushedAt: Date().timeIntervalSince1970)
                let added = try await database.using(status: { $0.status == 409 ? .usage : .unavailable }) { store throws(CollectorError) in
                    try await store.register(entry, archive: archive)
                }
                FileHandle.standardError.write(Data("earshot-collector: \(entry.id) \(added ? "stored" : "was stored already") (\(archive.count) bytes, archive sha256 \(entry.archiveSha256.prefix(16))…\(entry.signed ? ", signature verified" : ", not signed"))\n".utf8))
                print(entry.id)
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List registered models.")
            @OptionGroup var database: DatabaseOptions
            @Flag(help: "One JSON array on stdout.") var json = false

            func run() async throws {
                let models = try await database.using { store throws(CollectorError) in try await store.registeredModels() }
                if json { print(try Collector.json(models)); return }
                for m in models {
                    print("\(m.id.padding(toLength: 32, withPad: " ", startingAt: 0)) \(m.kind.padding(toLength: 10, withPad: " ", startingAt: 0)) \(String(m.archiveBytes).leftPadded(9)) B  \(m.signed ? "signed  " : "unsigned")  \(m.archiveSha256.prefix(16))…")
                }
            }
        }
    }

    /// `earshot-collector rollout …`: staged, quality-gated rollouts of registered models to device groups.
    struct Rollout: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Staged rollouts: start, list, show, pause, resume, abort, promote, evaluate.",
            discussion: """
            A plan moves a registered model through steps over a device group: `shadow` (every device runs it beside \
            the active model, logged only), `shadow:P`, then canary percentages of the group's devices (on those, the \
            candidate answers --utterance-share of utterances, the active model running beside it), and 100 = the \
            full switch. Which devices are in a step is fixed by a hash of model and device name (pinned devices \
            first). The gate (`evaluate`, and `serve` every --rollout-check seconds) compares the candidate's \
            decisions with the baseline model's in the group and promotes, holds for a human, or rolls back.
            """,
            subcommands: [Start.self, List.self, Show.self, Pause.self, Resume.self, Abort.self, Promote.self, Evaluate.self])

        struct Start: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Start a rollout of a registered model to a group; prints the rollout id.")
            @Argument(help: ArgumentHelp("NAME@VERSION in the registry.", valueName: "model")) var model: String
            @Option(help: "The device group.") var group: String
            @Option(help: "Comma-separated steps: shadow, shadow:P, then canary percentages (100 = the full switch).") var steps = "5,25,50,100"
            @Option(help: "Least time in each step before promotion: 90s, 30m, 1h.") var interval = "1h"
            @Option(help: "On canary devices, the share of utterances the candidate answers (0…1).") var utteranceShare = 0.5
            @Option(help: "Candidate decisions needed before a step is promoted.") var minSamples = 30
            @Option(help: "Least agreement between candidate and active model (0…1).") var minAgreement = 0.7
            @Option(help: "Hold for a human when a step has too little evidence after this long (default: 3 intervals).") var holdAfter: String?
            @Option(help: "The model compared with (default: the group's most used model).") var baseline: String?
            @Flag(help: "Promote a step only when the candidate agrees with the cloud teacher significantly more often than the active model (McNemar p < 0.05 on the same utterances).")
            var requireTeacherGain = false
            @Option(name: .customLong("pin"), help: "A device always in the first step (repeat).") var pinned: [String] = []
            @Option(name: .customLong("exclude"), help: "A device never in this rollout (repeat).") var excluded: [String] = []
            @Option(help: "The rollout's id (default: MODEL-GROUP-TIME).") var id: String?
            @OptionGroup var database: DatabaseOptions

            func run() async throws {
                var request: RolloutController.Request
                do {
                    let parsed = try steps.split(separator: ",").map { (text) throws(CollectorError) in try RolloutStep(parsing: String(text).trimmingCharacters(in: .whitespaces)) }
                    request = RolloutController.Request(model: model, group: group, steps: parsed, interval: try parseDuration(interval))
                    request.holdAfter = try holdAfter.map { (text) throws(CollectorError) in try parseDuration(text) }
                } catch { throw fail(error.message, .usage) }
                request.utteranceShare = utteranceShare
                request.minimumSamples = minSamples
                request.minimumAgreement = minAgreement
                request.baseline = baseline
                request.requireTeacherGain = requireTeacherGain
                request.pinned = pinned
                request.excluded = excluded
                request.id = id
                let plan = try await database.using(status: { $0.status == 2 || $0.status == 409 ? .usage : .unavailable }) { store throws(CollectorError) in
                    try await RolloutController(store: store).start(request)
                }
                FileHandle.standardError.write(Data("earshot-collector: rollout \(plan.id): \(plan.model) to group \(plan.group), baseline \(plan.baseline ?? "none"), steps \(plan.steps.map(\.description).joined(separator: ", "))\n".utf8))
                print(plan.id)
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List rollouts, newest first.")
            @OptionGroup var database: DatabaseOptions
            @Flag(help: "One JSON array on stdout.") var json = false

            func run() async throws {
                let plans = try await database.using { store throws(CollectorError) in try await store.rollouts() }
                if json { print(try Collector.json(plans)); return }
                for p in plans {
                    print("\(p.id)  \(p.model) → \(p.group)  \(p.state.rawValue)  step \(p.step + 1)/\(p.steps.count) (\(p.currentStep))  \(p.reason ?? "")")
                }
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "A rollout's plan, its devices by step, and its log with the gate's evidence.")
            @Argument(help: "The rollout id.") var id: String
            @OptionGroup var database: DatabaseOptions
            @Flag(help: "One JSON object on stdout: plan, members, log.") var json = false

            func run() async throws {
                struct Shown: Encodable { var plan: RolloutPlan; var members: [String]; var group: [String]; var log: [RolloutLogEntry] }
                let shown = try await database.using { store throws(CollectorError) -> Shown? in
                    guard let plan = try await store.rollout(id) else { return nil }
                    let group = try await store.groupDevices(plan.group)
                    return Shown(plan: plan, members: plan.members(of: group), group: group, log: try await store.rolloutLog(id))
                }
                guard let shown else { throw fail("no rollout named \(id)", .usage) }
                if json { print(try Collector.json(shown)); return }
                let p = shown.plan
                print("rollout \(p.id): \(p.model) → group \(p.group) (\(shown.group.count) devices), baseline \(p.baseline ?? "none")")
                print("state \(p.state.rawValue), step \(p.step + 1) of \(p.steps.count): \(p.steps.enumerated().map { $0.offset == p.step ? "[\($0.element)]" : $0.element.description }.joined(separator: " → "))")
                print("devices in this step: \(shown.members.joined(separator: ", "))")
                print("reason: \(p.reason ?? "")")
                let formatter = ISO8601DateFormatter()
                for e in shown.log.reversed() {
                    print("  \(formatter.string(from: Date(timeIntervalSince1970: e.at)))  step \(e.step)  \(e.action): \(e.reason)")
                }
            }
        }

        /// The four operator actions share one shape.
        struct Operation: ParsableArguments {
            @Argument(help: "The rollout id.") var id: String
            @Option(help: "Why, for the log.") var reason: String?
            @OptionGroup var database: DatabaseOptions

            func run(_ action: RolloutController.Action) async throws {
                let plan = try await database.using(status: { [404, 409].contains($0.status) ? .usage : .unavailable }) { store throws(CollectorError) in
                    try await RolloutController(store: store).operate(id, action, reason: reason)
                }
                print("\(plan.id): \(plan.state.rawValue), step \(plan.step + 1)/\(plan.steps.count) (\(plan.currentStep))")
            }
        }
        struct Pause: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Stop advancing; devices keep their assignment.")
            @OptionGroup var operation: Operation
            func run() async throws { try await operation.run(.pause) }
        }
        struct Resume: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Resume a paused or held rollout (the step's evidence starts again).")
            @OptionGroup var operation: Operation
            func run() async throws { try await operation.run(.resume) }
        }
        struct Abort: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Roll the candidate back on every device of the group.")
            @OptionGroup var operation: Operation
            func run() async throws { try await operation.run(.abort) }
        }
        struct Promote: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Advance one step now, whatever the gate says (a human's decision, logged).")
            @OptionGroup var operation: Operation
            func run() async throws { try await operation.run(.promote) }
        }

        struct Evaluate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Run the quality gate once over every running rollout; prints each verdict.")
            @OptionGroup var database: DatabaseOptions
            @Flag(help: "One JSON array on stdout: [{rollout, state, step, verdict}].") var json = false

            func run() async throws {
                let results = try await database.using { store throws(CollectorError) in try await RolloutController(store: store).evaluate() }
                if json {
                    struct Item: Encodable { var rollout: String; var state: String; var step: Int; var verdict: RolloutGate.Verdict }
                    print(try Collector.json(results.map { Item(rollout: $0.0.id, state: $0.0.state.rawValue, step: $0.0.step + 1, verdict: $0.1) }))
                    return
                }
                for (plan, verdict) in results {
                    print("\(plan.id): \(verdict.outcome.rawValue) → \(plan.state.rawValue), step \(plan.step + 1)/\(plan.steps.count): \(verdict.reason)")
                }
            }
        }
    }

    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
