public import Foundation
import EarshotAudio

/// Keeps a sample of utterance audio for retraining, and nothing else: off unless configured, a deterministic share
/// of utterances (a hash of the id, so the choice is reproducible), FLAC files bounded by total bytes and by age,
/// oldest removed first. Files live in `directory` (the spool's `audio/`) named by the decision id.
public final class AudioKeeper: @unchecked Sendable {
    public struct Policy: Sendable {
        /// Share of utterances kept, 0…1 (0: none).
        public var share: Double
        public var maximumBytes: Int64
        public var retention: TimeInterval
        public init(share: Double, maximumBytes: Int64 = 100 * 1_024 * 1_024, retentionDays: Double = 30) {
            self.share = share; self.maximumBytes = maximumBytes; retention = retentionDays * 86_400
        }
    }

    /// What is stored, for `earshot spool status`.
    public struct Inventory: Sendable, Codable, Equatable {
        public var files: Int
        public var bytes: Int64
        public var oldest: Double?
    }

    public let directory: String
    public let policy: Policy
    private let lock = NSLock()

    public init(directory: String, policy: Policy) {
        self.directory = directory
        self.policy = policy
    }

    /// Whether utterance `id` is in the kept share.
    public func isSampled(_ id: String) -> Bool { policy.share > 0 && ModelSlots.fraction("audio:" + id) < policy.share }

    /// Writes the utterance's audio when it is in the share; returns the file's name relative to the spool directory.
    public func keep(id: String, samples: ArraySlice<Int16>) -> String? {
        guard isSampled(id), !samples.isEmpty else { return nil }
        lock.lock(); defer { lock.unlock() }
        let name = "audio/" + id.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" } + ".flac"
        let path = (directory as NSString).deletingLastPathComponent + "/" + name
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let writer = try AudioFileWriter(path: path, container: .flac, sampleRate: 16_000)
            try samples.withUnsafeBufferPointer { (buffer) throws(AudioError) in try writer.write(buffer) }
            try writer.close()
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            return nil
        }
        enforceLocked()
        return name
    }

    /// Removes files past the age limit, then the oldest until the total fits the byte bound.
    public func enforce() { lock.lock(); enforceLocked(); lock.unlock() }

    private func enforceLocked() {
        var files = listing()
        let cutoff = Date().timeIntervalSince1970 - policy.retention
        for f in files where f.modified < cutoff { try? FileManager.default.removeItem(atPath: f.path) }
        files.removeAll { $0.modified < cutoff }
        var total = files.reduce(Int64(0)) { $0 + $1.bytes }
        for f in files.sorted(by: { $0.modified < $1.modified }) where total > policy.maximumBytes {
            try? FileManager.default.removeItem(atPath: f.path)
            total -= f.bytes
        }
    }

    public func inventory() -> Inventory {
        lock.lock(); defer { lock.unlock() }
        let files = listing()
        return Inventory(files: files.count, bytes: files.reduce(0) { $0 + $1.bytes }, oldest: files.map(\.modified).min())
    }

    /// The stored files of `directory` (for status without a keeper's policy).
    public static func inventory(of directory: String) -> Inventory {
        AudioKeeper(directory: directory, policy: Policy(share: 0)).inventory()
    }

    private func listing() -> [(path: String, bytes: Int64, modified: Double)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".flac") }.compactMap { name in
            let path = directory + "/" + name
            guard let a = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
            return (path, (a[.size] as? NSNumber)?.int64Value ?? 0, (a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)
        }
    }
}
