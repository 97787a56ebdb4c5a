public import EarshotBundles
public import Crypto
public import Foundation

/// Which bundles the device runs: the active (blue) model, the previous one kept for an instant rollback, and an
/// optional candidate (green) in shadow or canary mode. Stored as `slots.json` in the model store, replaced atomically.
public struct SlotState: Sendable, Codable, Equatable {
    public enum Mode: String, Sendable, Codable {
        /// The candidate runs on a sample of utterances; its output is logged, never returned.
        case shadow
        /// The candidate answers a deterministic share of utterances.
        case canary
    }
    public struct Candidate: Sendable, Codable, Equatable {
        public var bundle: String
        public var mode: Mode
        /// Shadow: the share of utterances it runs on; canary: the share it answers. 0…1.
        public var share: Double
        public init(bundle: String, mode: Mode, share: Double) { self.bundle = bundle; self.mode = mode; self.share = share }
    }
    /// One change of slots, kept (the last 100) for `earshot models list` and the sync log.
    public struct Event: Sendable, Codable, Equatable {
        public var time: Date
        public var event: String
        public var bundle: String
        public var reason: String?
    }
    public var active: String
    public var previous: String?
    public var candidate: Candidate?
    /// When the candidate is rolled back automatically.
    public var health = CandidateHealth.Thresholds()
    public var history: [Event] = []

    public init(active: String) { self.active = active }

    mutating func record(_ event: String, _ bundle: String, reason: String? = nil) {
        history.append(Event(time: Date(), event: event, bundle: bundle, reason: reason))
        if history.count > 100 { history.removeFirst(history.count - 100) }
    }
}

/// A directory of verified bundles and the slot state: `bundles/<name>@<version>/` and `slots.json`. Every bundle is
/// verified (SHA-256, and the ed25519 signature when keys are configured) before it is installed, and again whenever
/// it is loaded; a bundle that fails is refused and nothing else changes.
public struct ModelStore: @unchecked Sendable {    // the keys are immutable values
    public let directory: String
    public let trustedKeys: [Curve25519.Signing.PublicKey]

    public init(directory: String, trustedKeys: [Curve25519.Signing.PublicKey] = []) {
        self.directory = directory
        self.trustedKeys = trustedKeys
    }

    public var statePath: String { directory + "/slots.json" }
    public func path(of id: String) -> String { directory + "/bundles/" + id }

    /// Verifies the bundle at `source` (a directory, or a tar archive of one) and copies it in as `<name>@<version>`;
    /// returns that id. Installing an id that is already there with the same model is a no-op; with a different model
    /// it is refused (versions are immutable).
    @discardableResult
    public func install(_ source: String) throws(RecognizerError) -> String {
        if BundleArchive.looksLikeArchive(source) {
            let unpacked = directory + "/bundles/.unpack-\(UInt32.random(in: 0..<UInt32.max))"
            defer { try? FileManager.default.removeItem(atPath: unpacked) }
            return try install(BundleArchive.unpack(source, into: unpacked))
        }
        let bundle = try ModelBundle(directory: source, trustedKeys: trustedKeys)
        let id = "\(bundle.manifest.name)@\(bundle.manifest.version)"
        guard !id.contains("/"), !id.hasPrefix(".") else { throw RecognizerError(.bundle, "\(id) is not a usable bundle name.") }
        let target = path(of: id)
        let fm = FileManager.default
        if fm.fileExists(atPath: target) {
            let installed = try ModelBundle(directory: target, trustedKeys: trustedKeys)
            guard installed.manifest.modelSha256 == bundle.manifest.modelSha256 else {
                throw RecognizerError(.integrity, "\(id) is already installed with a different model; give the new one a new version.")
            }
            return id
        }
        let staging = directory + "/bundles/.staging-\(UInt32.random(in: 0..<UInt32.max))"
        do {
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
            for file in ["manifest.json", "model.tflite", ModelBundle.signatureFile] where fm.fileExists(atPath: source + "/" + file) {
                try fm.copyItem(atPath: source + "/" + file, toPath: staging + "/" + file)
            }
            // Verify the copy, not just the source, then publish it with one rename.
            _ = try ModelBundle(directory: staging, trustedKeys: trustedKeys)
            try fm.moveItem(atPath: staging, toPath: target)
        } catch let error as RecognizerError {
            try? fm.removeItem(atPath: staging)
            throw error
        } catch {
            try? fm.removeItem(atPath: staging)
            throw RecognizerError(.input, "Could not install \(id) into \(directory): \(error.localizedDescription)")
        }
        return id
    }

    /// Installed bundle ids, sorted.
    public func installed() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/bundles")) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// Loads and verifies an installed bundle.
    public func bundle(_ id: String) throws(RecognizerError) -> ModelBundle {
        guard installed().contains(id) else { throw RecognizerError(.input, "\(id) is not installed in \(directory) (installed: \(installed().joined(separator: ", ")))") }
        return try ModelBundle(directory: path(of: id), trustedKeys: trustedKeys)
    }

    /// The slot state; nil before anything was activated.
    public func state() throws(RecognizerError) -> SlotState? {
        guard let data = FileManager.default.contents(atPath: statePath) else { return nil }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(SlotState.self, from: data)
        } catch {
            throw RecognizerError(.bundle, "\(statePath) is not a valid slot state: \(error)")
        }
    }

    /// Applies `change` to the state and writes it atomically (a new file renamed over the old), so a running
    /// `earshot run` sees either the old state or the new one, never half of it.
    @discardableResult
    public func update(_ change: (inout SlotState?) throws(RecognizerError) -> Void) throws(RecognizerError) -> SlotState? {
        var state = try self.state()
        try change(&state)
        guard let state else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try encoder.encode(state).write(to: URL(fileURLWithPath: statePath), options: .atomic)
        } catch {
            throw RecognizerError(.input, "Could not write \(statePath): \(error.localizedDescription)")
        }
        return state
    }

    /// Makes `id` the active model; the old active becomes `previous`. A candidate that is promoted stops being one.
    public func activate(_ id: String, reason: String? = nil) throws(RecognizerError) {
        _ = try bundle(id)
        try update { (state) throws(RecognizerError) in
            guard var s = state else { var fresh = SlotState(active: id); fresh.record("activate", id, reason: reason); state = fresh; return }
            guard s.active != id else { return }
            s.previous = s.active
            s.active = id
            if s.candidate?.bundle == id { s.candidate = nil }
            s.record("activate", id, reason: reason)
            state = s
        }
    }

    /// Restores the previous active model (the current one becomes `previous`, so a second rollback undoes it).
    public func rollback(reason: String? = nil) throws(RecognizerError) {
        try update { (state) throws(RecognizerError) in
            guard var s = state, let previous = s.previous else { throw RecognizerError(.input, "There is no previous model to roll back to.") }
            _ = try bundle(previous)
            s.previous = s.active
            s.active = previous
            s.record("rollback", previous, reason: reason)
            state = s
        }
    }

    /// Sets the candidate (shadow or canary); nil stops it.
    public func setCandidate(_ candidate: SlotState.Candidate?, reason: String? = nil) throws(RecognizerError) {
        if let candidate {
            _ = try bundle(candidate.bundle)
            guard (0...1).contains(candidate.share) else { throw RecognizerError(.input, "A candidate's share must be within 0…1.") }
        }
        try update { (state) throws(RecognizerError) in
            guard var s = state else { throw RecognizerError(.input, "Activate a model before adding a candidate.") }
            if let candidate {
                guard candidate.bundle != s.active else { throw RecognizerError(.input, "\(candidate.bundle) is already the active model.") }
                s.record(candidate.mode.rawValue, candidate.bundle, reason: reason ?? String(format: "share %.3g", candidate.share))
            } else if let old = s.candidate {
                s.record("stop", old.bundle, reason: reason)
            }
            s.candidate = candidate
            state = s
        }
    }
}
