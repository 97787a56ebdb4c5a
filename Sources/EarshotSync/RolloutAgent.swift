public import EarshotEdge
import EarshotBundles
public import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The device's side of a fleet rollout (docs/ROLLOUT.md): reports its slots and the slot events since its last report
/// (rollbacks it made on its own, even offline; bundles it refused), receives its assignment, downloads the bundle
/// with resume, verifies it (archive SHA-256 from the collector, then the store's own model hash and ed25519
/// signature against the device's keys), installs it as the candidate and follows the plan's mode.
public final class RolloutAgent: @unchecked Sendable {
    /// What the device remembers between polls (`rollout.json` in the model store).
    public struct State: Codable, Sendable, Equatable {
        public var rollout: String?
        public var model: String?
        public var action: String?
        public var share: Double?
        public var step: Int?
        public var steps: Int?
        public var planState: String?
        /// Slot events up to this time were reported.
        public var reportedThrough: Double = 0
        /// Events of the agent's own (refused bundles) not yet reported.
        public var pending: [Event] = []
        /// Archives refused (model → archive SHA-256): not downloaded again.
        public var refused: [String: String] = [:]
        public var updatedAt: Double?

        enum CodingKeys: String, CodingKey {
            case rollout, model, action, share, step, steps, pending, refused
            case planState = "plan_state", reportedThrough = "reported_through", updatedAt = "updated_at"
        }
        public init() {}
    }

    public struct Event: Codable, Sendable, Equatable {
        public var time: Double
        public var event: String
        public var bundle: String
        public var reason: String?
        public var rollout: String?
    }

    /// The collector's assignment (the wire format of `POST /v1/rollout`).
    struct Assignment: Decodable {
        var rollout: String?
        var model: String?
        var state: String?
        var step: Int?
        var steps: Int?
        var action: String
        var share: Double
        var bundleURL: String?
        var archiveSha256: String?
        var archiveBytes: Int?
        enum CodingKeys: String, CodingKey {
            case rollout, model, state, step, steps, action, share
            case bundleURL = "bundle_url", archiveSha256 = "archive_sha256", archiveBytes = "archive_bytes"
        }
    }

    /// What one poll did, for the log and `earshot sync`'s output.
    public struct Outcome: Sendable {
        public var action: String
        public var message: String
        public var downloaded = 0
    }

    public let store: ModelStore
    private let link: CollectorLink
    private var base: URL { link.base }
    /// Most bundle bytes fetched per poll (metered links); nil: no limit.
    public var downloadLimit: Int?
    public var timeout: TimeInterval { get { link.timeout } set { link.timeout = newValue } }

    public init(store: ModelStore, collector: URL, token: String) {
        self.store = store
        link = CollectorLink(base: collector, token: token)
    }

    public static func statePath(_ store: ModelStore) -> String { store.directory + "/rollout.json" }

    public static func load(_ store: ModelStore) -> State {
        guard let data = FileManager.default.contents(atPath: statePath(store)), let state = try? JSONDecoder().decode(State.self, from: data) else { return State() }
        return state
    }

    static func save(_ state: State, _ store: ModelStore) throws(SyncError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do { try encoder.encode(state).write(to: URL(fileURLWithPath: statePath(store)), options: .atomic) } catch {
            throw SyncError(.local, "cannot write \(statePath(store)): \(error.localizedDescription)")
        }
    }

    /// Reports, fetches the assignment and carries it out.
    public func poll(deviceID: String) throws(SyncError) -> Outcome {
        var state = Self.load(store)
        let slots: SlotState?
        do { slots = try store.state() } catch { throw SyncError(.local, error.message) }
        // Slot times have whole seconds, so an event in the same second as the last one reported goes again (the collector
        // stores each event once); `>` would lose it.
        let history = (slots?.history ?? []).filter { $0.time.timeIntervalSince1970 >= state.reportedThrough }
        let events = history.map { Event(time: $0.time.timeIntervalSince1970, event: $0.event, bundle: $0.bundle, reason: $0.reason, rollout: state.rollout) }
            + state.pending
        var report: [String: Any] = ["device_id": deviceID]
        report["active"] = slots?.active
        report["previous"] = slots?.previous
        report["candidate"] = slots?.candidate?.bundle
        report["mode"] = slots?.candidate?.mode.rawValue
        report["share"] = slots?.candidate?.share
        report["rollout"] = state.rollout
        report["step"] = state.step
        report["events"] = events.map { e -> [String: Any] in
            var o: [String: Any] = ["time": e.time, "event": e.event, "bundle": e.bundle]
            o["reason"] = e.reason
            o["rollout"] = e.rollout
            return o
        }
        var request = link.request(base.appendingPathComponent("v1/rollout"), method: "POST")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try? JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
        let reply = try link.send(request)
        guard reply.status == 200 else {
            throw SyncError(reply.status >= 500 || reply.status == 429 ? .transient : .permanent, "rollout poll: HTTP \(reply.status): \(reply.excerpt)")
        }
        let assignment: Assignment
        do { assignment = try JSONDecoder().decode(Assignment.self, from: reply.body) } catch {
            throw SyncError(.transient, "rollout poll: the collector's answer is not an assignment: \(reply.excerpt)")
        }
        // The report arrived: its events need not be sent again.
        state.reportedThrough = max(state.reportedThrough, events.map(\.time).max() ?? 0)
        state.pending = []
        let previousRollout = state.rollout, previousModel = state.model
        state.rollout = assignment.rollout
        state.model = assignment.model
        state.action = assignment.action
        state.share = assignment.share
        state.step = assignment.step
        state.steps = assignment.steps
        state.planState = assignment.state
        state.updatedAt = Date().timeIntervalSince1970
        var outcome = Outcome(action: assignment.action, message: "")
        do throws(SyncError) {
            outcome = try carryOut(assignment, slots: slots, state: &state, previous: (previousRollout, previousModel))
        } catch {
            try? Self.save(state, store)
            throw error
        }
        try Self.save(state, store)
        return outcome
    }

    private func carryOut(_ a: Assignment, slots: SlotState?, state: inout State, previous: (rollout: String?, model: String?)) throws(SyncError) -> Outcome {
        var outcome = Outcome(action: a.action, message: "")
        let label = "rollout \(a.rollout ?? "-") step \(a.step ?? 0)/\(a.steps ?? 0)"
        func apply(_ change: () throws(RecognizerError) -> Void) throws(SyncError) {
            do { try change() } catch { throw SyncError(.local, error.message) }
        }
        switch a.action {
        case "none":
            // A candidate a finished or withdrawn rollout left behind goes.
            if let model = previous.model, slots?.candidate?.bundle == model {
                try apply { () throws(RecognizerError) in try store.setCandidate(nil, reason: "\(previous.rollout ?? "rollout") no longer assigns this device") }
                outcome.message = "stopped candidate \(model)"
            } else {
                outcome.message = "no rollout for this device"
            }
        case "rollback":
            guard let model = a.model else { break }
            if slots?.candidate?.bundle == model {
                try apply { () throws(RecognizerError) in try store.setCandidate(nil, reason: "\(label): rolled back by the collector") }
                outcome.message = "rolled back candidate \(model)"
            } else if slots?.active == model, slots?.previous != nil {
                try apply { () throws(RecognizerError) in try store.rollback(reason: "\(label): rolled back by the collector") }
                outcome.message = "rolled back active \(model) to \(slots?.previous ?? "?")"
            } else {
                outcome.message = "\(model) is not in use here"
            }
        case "shadow", "canary", "activate":
            guard let model = a.model else { throw SyncError(.transient, "rollout poll: an assignment without a model") }
            // The id names files here: NAME@VERSION of safe characters only, whatever the collector says.
            guard Self.isBundleID(model) else { throw SyncError(.permanent, "rollout poll: \(model.prefix(80)) is not a bundle id (NAME@VERSION)") }
            // A device that rolled this candidate back on its own keeps it off; the collector heard why in the report.
            if (slots?.history ?? []).contains(where: { $0.event == "auto-rollback" && $0.bundle == model }) && a.action != "activate" {
                outcome.message = "\(model) was rolled back here by the device's own thresholds; not reinstalled"
                return outcome
            }
            if let refusedHash = state.refused[model], refusedHash == a.archiveSha256 {
                outcome.message = "\(model) was refused here (it did not verify); not downloaded again"
                return outcome
            }
            if !store.installed().contains(model) {
                let fetched = try download(a, state: &state)
                outcome.downloaded = fetched.bytes
                guard let archive = fetched.path else {
                    outcome.message = "downloading \(model): \(fetched.total) of \(a.archiveBytes ?? 0) bytes"
                    return outcome
                }
                do {
                    _ = try store.install(archive)
                    try? FileManager.default.removeItem(atPath: archive)
                } catch {
                    try? FileManager.default.removeItem(atPath: archive)
                    state.refused[model] = a.archiveSha256 ?? ""
                    state.pending.append(Event(time: Date().timeIntervalSince1970, event: "refused", bundle: model, reason: error.message, rollout: a.rollout))
                    outcome.action = "refused"
                    outcome.message = "refused \(model): \(error.message)"
                    return outcome
                }
            }
            if a.action == "activate" {
                if slots?.active != model {
                    try apply { () throws(RecognizerError) in try store.activate(model, reason: "\(label): switch") }
                    outcome.message = "activated \(model)"
                } else {
                    outcome.message = "\(model) is active"
                }
            } else {
                let mode: SlotState.Mode = a.action == "shadow" ? .shadow : .canary
                let wanted = SlotState.Candidate(bundle: model, mode: mode, share: min(1, max(0, a.share)))
                if slots?.active == model {
                    outcome.message = "\(model) is already active"
                } else if slots?.candidate != wanted {
                    try apply { () throws(RecognizerError) in try store.setCandidate(wanted, reason: "\(label): \(mode.rawValue) share \(wanted.share)") }
                    outcome.message = "candidate \(model) in \(mode.rawValue), share \(wanted.share)"
                } else {
                    outcome.message = "candidate \(model) in \(mode.rawValue) (unchanged)"
                }
            }
        default:
            outcome.message = "unknown action \(a.action) ignored"
        }
        return outcome
    }

    /// NAME@VERSION with letters, digits, '.', '_', '-' and '+' only, not starting with '.': safe as a file name.
    public static func isBundleID(_ id: String) -> Bool {
        let parts = id.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && id.count <= 128 && !id.hasPrefix(".")
            && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-+".contains($0)) } }
    }

    /// The bundle's URL on the collector: relative to it, and never another host (the request carries the token).
    public func bundleLocation(_ path: String) throws(SyncError) -> URL {
        let root = base.absoluteString.hasSuffix("/") ? base : base.appendingPathComponent("")
        guard let target = URL(string: path, relativeTo: root)?.absoluteURL, target.scheme == root.scheme, target.host == root.host,
              target.port == root.port else {
            throw SyncError(.permanent, "the bundle URL \(path.prefix(120)) is not on the collector \(base.absoluteString)")
        }
        return target
    }

    /// Fetches the bundle archive into `downloads/` with HTTP ranges, resuming a partial file; returns the complete,
    /// hash-checked archive's path, or nil when the per-poll limit stopped it first.
    private func download(_ a: Assignment, state: inout State) throws(SyncError) -> (path: String?, bytes: Int, total: Int) {
        guard let model = a.model, let url = a.bundleURL, let expected = a.archiveSha256, let size = a.archiveBytes, size > 0 else {
            throw SyncError(.transient, "rollout poll: the assignment names no bundle to download")
        }
        guard size <= BundleArchive.maximumMemberBytes * 2 else { throw SyncError(.permanent, "the bundle of \(model) is \(size) bytes; too large") }
        let directory = store.directory + "/downloads"
        let part = directory + "/\(model).part", tag = part + ".sha256"
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw SyncError(.local, "cannot create \(directory): \(error.localizedDescription)")
        }
        // A partial file of another archive (the model was pushed again under a new hash) starts over.
        if (try? String(contentsOfFile: tag, encoding: .utf8)) != expected {
            try? fm.removeItem(atPath: part)
            do { try expected.write(toFile: tag, atomically: true, encoding: .utf8) } catch {
                throw SyncError(.local, "cannot write \(tag): \(error.localizedDescription)")
            }
        }
        if !fm.fileExists(atPath: part) { _ = fm.createFile(atPath: part, contents: nil) }
        var have = ((try? fm.attributesOfItem(atPath: part))?[.size] as? Int) ?? 0
        if have > size { try? fm.removeItem(atPath: part); _ = fm.createFile(atPath: part, contents: nil); have = 0 }
        var fetched = 0
        while have < size {
            var end = size - 1
            if let limit = downloadLimit {
                guard fetched < limit else { return (nil, fetched, have) }
                end = min(end, have + (limit - fetched) - 1)
            }
            let target = try bundleLocation(url)
            var request = link.request(target)
            request.setValue("bytes=\(have)-\(end)", forHTTPHeaderField: "Range")
            let reply = try link.send(request)
            var chunk = reply.body
            switch reply.status {
            case 206:
                guard reply.headers["content-range"]?.hasPrefix("bytes \(have)-") == true else {
                    throw SyncError(.transient, "the collector answered the range \(have)-\(end) with \(reply.headers["content-range"] ?? "no Content-Range")")
                }
            case 200:
                // A server that ignores ranges sends it all: keep what is past what we have.
                chunk = chunk.count > have ? chunk.subdata(in: have..<chunk.count) : Data()
            case 416:
                try? fm.removeItem(atPath: part); have = 0; continue
            default:
                throw SyncError(reply.status >= 500 || reply.status == 429 ? .transient : .permanent, "bundle download: HTTP \(reply.status): \(reply.excerpt)")
            }
            guard !chunk.isEmpty else { throw SyncError(.transient, "bundle download: an empty answer at byte \(have)") }
            guard let handle = FileHandle(forWritingAtPath: part) else { throw SyncError(.local, "cannot write \(part)") }
            do {
                try handle.seekToEnd()
                try handle.write(contentsOf: chunk.prefix(size - have))
                try handle.synchronize()
                try handle.close()
            } catch {
                try? handle.close()
                throw SyncError(.local, "cannot write \(part): \(error.localizedDescription)")
            }
            have += min(chunk.count, size - have)
            fetched += chunk.count
        }
        guard let data = fm.contents(atPath: part), ModelBundle.sha256(data) == expected else {
            try? fm.removeItem(atPath: part)
            throw SyncError(.transient, "the downloaded bundle of \(model) does not hash to \(expected.prefix(16))…; it will be fetched again")
        }
        let archive = directory + "/\(model).tar"
        try? fm.removeItem(atPath: archive)
        do { try fm.moveItem(atPath: part, toPath: archive) } catch {
            throw SyncError(.local, "cannot move \(part) into place: \(error.localizedDescription)")
        }
        try? fm.removeItem(atPath: tag)
        return (archive, fetched, size)
    }
}
