import ArgumentParser
import Crypto
import EarshotBundles
import EarshotEdge
import EarshotSync
import Foundation

/// Options every `earshot models` subcommand shares: where the store is and which keys sign bundles.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The model store (default: $EARSHOT_STORE, else /var/lib/earshot/models).", valueName: "dir")) var store: String?
    @Option(name: .customLong("trusted-key"), help: ArgumentHelp("An ed25519 public key file; when given (or $EARSHOT_TRUSTED_KEYS, colon-separated), every bundle must be signed by one.", valueName: "file"))
    var trustedKeys: [String] = []

    var directory: String { store ?? ProcessInfo.processInfo.environment["EARSHOT_STORE"].flatMap { $0.isEmpty ? nil : $0 } ?? "/var/lib/earshot/models" }

    func open() throws(RecognizerError) -> ModelStore {
        let files = trustedKeys.isEmpty ? (ProcessInfo.processInfo.environment["EARSHOT_TRUSTED_KEYS"] ?? "").split(separator: ":").map(String.init) : trustedKeys
        var keys: [Curve25519.Signing.PublicKey] = []
        for file in files { keys.append(try ModelBundle.publicKey(file: file)) }
        return ModelStore(directory: directory, trustedKeys: keys)
    }
}

extension Earshot {
    /// `earshot models …`: the device's model slots (blue/green), shadow and canary candidates, rollback.
    struct Models: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install, activate, shadow, canary and roll back recognition models.",
            discussion: """
            The store holds verified bundles (bundles/NAME@VERSION) and slots.json: the active model, the previous one \
            (kept for an instant rollback) and an optional candidate in shadow or canary mode. A running \
            `earshot run --store DIR` follows every change at its next utterance without stopping capture, and \
            rolls a candidate back on its own when it breaches the health thresholds in slots.json.
            """,
            subcommands: [List.self, Install.self, Activate.self, Rollback.self, Shadow.self, Canary.self, Stop.self, Keygen.self, Sign.self])
    }
}

extension Earshot.Models {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show installed bundles, the slots and the recent history.")
        @OptionGroup var options: StoreOptions
        @Flag(help: "Print one JSON object.") var json = false

        func run() throws {
            try reportingErrors {
                let store = try options.open()
                let state = try store.state()
                let rollout = RolloutAgent.load(store)
                if json {
                    struct Listing: Encodable { var store: String; var installed: [String]; var slots: SlotState?; var rollout: RolloutAgent.State? }
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    encoder.dateEncodingStrategy = .iso8601
                    print(String(decoding: try encoder.encode(Listing(store: store.directory, installed: store.installed(), slots: state,
                                                                                                 rollout: rollout.rollout == nil ? nil : rollout)), as: UTF8.self))
                    return
                }
                print("store: \(store.directory)")
                for id in store.installed() {
                    var roles: [String] = []
                    if state?.active == id { roles.append("active") }
                    if state?.previous == id { roles.append("previous") }
                    if let c = state?.candidate, c.bundle == id { roles.append(String(format: "candidate (%@, share %.3g)", c.mode.rawValue, c.share)) }
                    print("  \(id)\(roles.isEmpty ? "" : "  " + roles.joined(separator: ", "))")
                }
                if let id = rollout.rollout {
                    print("rollout: \(id) — \(rollout.model ?? "?"), step \(rollout.step ?? 0) of \(rollout.steps ?? 0), this device: \(rollout.action ?? "none")"
                          + (rollout.action == "canary" || rollout.action == "shadow" ? String(format: " (share %.3g)", rollout.share ?? 0) : "")
                          + ", plan \(rollout.planState ?? "?")")
                }
                let formatter = ISO8601DateFormatter()
                for e in state?.history.suffix(10) ?? [] {
                    print("  \(formatter.string(from: e.time))  \(e.event) \(e.bundle)\(e.reason.map { " (\($0))" } ?? "")")
                }
            }
        }
    }

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Verify a bundle directory (hash, and signature when keys are set) and copy it into the store.")
        @Argument(help: ArgumentHelp("A bundle directory.", valueName: "bundle")) var bundle: String
        @Flag(help: "Also make it the active model.") var activate = false
        @OptionGroup var options: StoreOptions

        func run() throws {
            try reportingErrors {
                let store = try options.open()
                let id = try store.install(bundle)
                if activate { try store.activate(id, reason: "installed with --activate") }
                print(id)
            }
        }
    }

    struct Activate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make an installed bundle the active model (the current one becomes previous).")
        @Argument(help: ArgumentHelp("NAME@VERSION of an installed bundle.", valueName: "id")) var id: String
        @OptionGroup var options: StoreOptions
        func run() throws { try reportingErrors { try options.open().activate(id, reason: "earshot models activate") } }
    }

    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restore the previous active model (again to undo).")
        @OptionGroup var options: StoreOptions
        func run() throws { try reportingErrors { try options.open().rollback(reason: "earshot models rollback") } }
    }

    struct Shadow: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run a candidate beside the active model on a sample of utterances; log it, never return it.")
        @Argument(help: ArgumentHelp("NAME@VERSION, or a bundle directory to install first.", valueName: "bundle")) var bundle: String
        @Option(help: "Share of utterances the shadow runs on, 0…1.") var sample = 1.0
        @OptionGroup var options: StoreOptions
        func validate() throws { guard (0...1).contains(sample) else { throw ValidationError("--sample must be within 0…1.") } }
        func run() throws {
            try reportingErrors {
                let store = try options.open()
                let id = FileManager.default.fileExists(atPath: bundle + "/manifest.json") || BundleArchive.looksLikeArchive(bundle) ? try store.install(bundle) : bundle
                try store.setCandidate(.init(bundle: id, mode: .shadow, share: sample))
            }
        }
    }

    struct Canary: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a candidate answer a deterministic share of utterances (hash of the utterance id).")
        @Argument(help: ArgumentHelp("NAME@VERSION, or a bundle directory to install first.", valueName: "bundle")) var bundle: String
        @Option(help: "Percentage of utterances the canary answers, 0…100.") var percent: Double
        @OptionGroup var options: StoreOptions
        func validate() throws { guard (0...100).contains(percent) else { throw ValidationError("--percent must be within 0…100.") } }
        func run() throws {
            try reportingErrors {
                let store = try options.open()
                let id = FileManager.default.fileExists(atPath: bundle + "/manifest.json") || BundleArchive.looksLikeArchive(bundle) ? try store.install(bundle) : bundle
                try store.setCandidate(.init(bundle: id, mode: .canary, share: percent / 100))
            }
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove the candidate (end a shadow or canary); the active model is unchanged.")
        @OptionGroup var options: StoreOptions
        func run() throws { try reportingErrors { try options.open().setCandidate(nil, reason: "earshot models stop") } }
    }

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make an ed25519 signing key pair: NAME.key (private, mode 600) and NAME.pub.")
        @Argument(help: ArgumentHelp("Path prefix of the two files.", valueName: "name")) var name: String
        func run() throws {
            let key = Curve25519.Signing.PrivateKey()
            guard FileManager.default.createFile(atPath: name + ".key", contents: Data((key.rawRepresentation.base64EncodedString() + "\n").utf8),
                                                 attributes: [.posixPermissions: 0o600]),
                  FileManager.default.createFile(atPath: name + ".pub", contents: Data((key.publicKey.rawRepresentation.base64EncodedString() + "\n").utf8)) else {
                throw fail("cannot write \(name).key and \(name).pub", .cannotCreate)
            }
            print(name + ".pub")
        }
    }

    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sign a bundle's manifest.json with a private key (writes manifest.sig).")
        @Argument(help: ArgumentHelp("A bundle directory.", valueName: "bundle")) var bundle: String
        @Option(help: ArgumentHelp("The private key file from `earshot models keygen`.", valueName: "file")) var key: String
        func run() throws {
            try reportingErrors {
                _ = try ModelBundle(directory: bundle)      // only sign what verifies
                do { try ModelBundle.sign(directory: bundle, key: try ModelBundle.privateKey(file: key)) } catch let error as RecognizerError { throw error } catch {
                    throw RecognizerError(.input, "Could not write \(bundle)/\(ModelBundle.signatureFile): \(error.localizedDescription)")
                }
            }
        }
    }
}
