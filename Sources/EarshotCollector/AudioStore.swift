import Crypto
public import Foundation

/// Limits on the audio the collector keeps: what one clip may weigh, what one device may keep, and for how long.
public struct AudioLimits: Sendable, Equatable {
    /// Whether uploads are accepted at all (`serve --no-audio` refuses them).
    public var accept = true
    public var maximumClipBytes = 2 * 1_024 * 1_024
    /// The oldest clips of a device go first when a new one would pass this.
    public var maximumDeviceBytes = 200 * 1_024 * 1_024
    /// Clips older than this are deleted.
    public var retentionDays = 30.0
    public init() {}
}

/// Sampled utterance audio, written once over the stores' `plain` SQL for both engines.
extension CollectorStore {
    /// Stores one device's clip under its spool-relative name (`audio/ID.flac`). The same bytes again are a no-op;
    /// other bytes under a stored name are refused (409). Applies retention and the device's byte bound first.
    /// Returns false when the clip was there already.
    @discardableResult
    public func storeClip(device: String, name: String, audio: Data, limits: AudioLimits, at now: Double) async throws(CollectorError) -> Bool {
        let digest = SHA256.hash(data: audio).map { String(format: "%02x", $0) }.joined()
        if let stored = try await plain("SELECT sha256 FROM audio_clips WHERE device = ? AND name = ?", [.text(device), .text(name)]).first {
            guard stored[0]?.text == digest else { throw .conflict("\(name) of \(device) was stored before with other audio") }
            return false
        }
        _ = try await plain("DELETE FROM audio_clips WHERE received < ? RETURNING name", [.real(now - limits.retentionDays * 86_400)])
        // The device's oldest clips make room for the new one.
        var used = try await plain("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM audio_clips WHERE device = ?", [.text(device)]).first?[0]?.integer ?? 0
        while used + Int64(audio.count) > Int64(limits.maximumDeviceBytes) {
            guard let oldest = try await plain("SELECT name, size FROM audio_clips WHERE device = ? ORDER BY received, name LIMIT 1", [.text(device)]).first,
                  let oldName = oldest[0]?.text else { break }
            _ = try await plain("DELETE FROM audio_clips WHERE device = ? AND name = ? RETURNING name", [.text(device), .text(oldName)])
            used -= oldest[1]?.integer ?? 0
        }
        _ = try await plain("INSERT INTO audio_clips (device, name, audio, size, sha256, received) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING name",
                            [.text(device), .text(name), .bytes(audio), .integer(Int64(audio.count)), .text(digest), .real(now)])
        return true
    }

    /// A stored clip's bytes.
    public func clip(device: String, name: String) async throws(CollectorError) -> Data? {
        try await plain("SELECT audio FROM audio_clips WHERE device = ? AND name = ?", [.text(device), .text(name)]).first?[0]?.bytes
    }
}

/// Checks an uploaded clip's name and bytes: `ID.flac` with a safe ID, FLAC by its signature, within the size limit.
public func checkClipUpload(file: String, audio: Data, limits: AudioLimits) throws(CollectorError) {
    guard limits.accept else { throw .forbidden("this collector does not accept audio (serve --no-audio)") }
    let stem = file.hasSuffix(".flac") ? String(file.dropLast(5)) : ""
    guard !stem.isEmpty, stem.count <= 200, stem.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
        throw .badRequest("a clip is named ID.flac with letters, digits, '-' and '_', not \(file.prefix(80))")
    }
    guard audio.count <= limits.maximumClipBytes else { throw .tooLarge("the clip is \(audio.count) bytes; the limit is \(limits.maximumClipBytes)") }
    guard audio.count > 42, audio.prefix(4) == Data("fLaC".utf8) else { throw .badRequest("the clip is not FLAC") }
}
