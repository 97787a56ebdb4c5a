public import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Uploads the utterance audio the device kept (`earshot run --keep-audio`: a sampled, bounded share, off by default)
/// to the collector, oldest first, each clip once (`PUT /v1/audio/ID.flac`), within a byte budget per run. Which clips
/// went is remembered in `audio/.uploaded` (pruned to the files still there); a clip the collector refuses for good
/// is remembered too, so it is not sent again.
public final class AudioUploader: @unchecked Sendable {
    public struct Progress: Sendable, Equatable {
        public var uploaded = 0
        public var bytes = 0
        public var refused = 0
        /// Clips left for a later run (the budget ran out, or a transient failure stopped this one).
        public var waiting = 0
    }

    let audioDirectory: String
    private let link: CollectorLink
    /// Most bytes sent per run; nil: no limit.
    public var budget: Int?
    public var timeout: TimeInterval { get { link.timeout } set { link.timeout = newValue } }

    public init(spoolDirectory: String, collector: URL, token: String) {
        audioDirectory = spoolDirectory + "/audio"
        link = CollectorLink(base: collector, token: token)
    }

    var ledger: String { audioDirectory + "/.uploaded" }

    /// Sends what has not gone yet. Throws the first transient failure after saving what did go.
    public func upload() throws(SyncError) -> Progress {
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: audioDirectory)) ?? []).filter { $0.hasSuffix(".flac") }
        let present = Set(names)
        var done = Set(((try? String(contentsOfFile: ledger, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)).intersection(present)
        let pending = names.filter { !done.contains($0) }.map { name -> (String, Double) in
            let modified = ((try? fm.attributesOfItem(atPath: audioDirectory + "/" + name))?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return (name, modified)
        }.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.map(\.0)
        var progress = Progress()
        defer { try? done.sorted().joined(separator: "\n").write(toFile: ledger, atomically: true, encoding: .utf8) }
        for (k, name) in pending.enumerated() {
            guard let data = fm.contents(atPath: audioDirectory + "/" + name) else { continue }      // removed by the keeper meanwhile
            if let budget, progress.bytes + data.count > budget {
                progress.waiting = pending.count - k
                return progress
            }
            var request = link.request(link.base.appendingPathComponent("v1/audio/" + name), method: "PUT")
            request.setValue("audio/flac", forHTTPHeaderField: "Content-Type")
            request.httpBody = data
            let reply: CollectorLink.Reply
            do { reply = try link.send(request) } catch {
                progress.waiting = pending.count - k
                throw error
            }
            switch reply.status {
            case 200, 201:
                progress.uploaded += 1
                progress.bytes += data.count
                done.insert(name)
            case 400, 409, 413:
                // Refused for good (not FLAC, too large, other bytes under this name): not sent again.
                progress.refused += 1
                done.insert(name)
            default:
                progress.waiting = pending.count - k
                throw SyncError(reply.status == 401 || reply.status == 403 ? .permanent : .transient, "audio upload of \(name): HTTP \(reply.status): \(reply.excerpt)")
            }
        }
        return progress
    }
}
