import EarshotAudio
import Foundation

/// Paths to the shared real-audio fixtures and to scratch folders for tests.
public enum Fixtures {
    /// `../shared/fixtures` relative to the package root, or `$EARSHOT_FIXTURES`.
    public static var root: String {
        if let override = ProcessInfo.processInfo.environment["EARSHOT_FIXTURES"] { return override }
        return packageRoot + "/../shared/fixtures"
    }

    /// The package root, found from this source file's location.
    public static var packageRoot: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    public static func path(_ relative: String) -> String { root + "/" + relative }

    /// A copy of the shipped command-en bundle in `directory`/bundle with byte `offset` of its model flipped: the
    /// manifest's SHA-256 no longer matches, so loading must be refused.
    public static func tamperedCommandBundle(in directory: String, flippingByteAt offset: (Int) -> Int) throws -> String {
        let shipped = packageRoot + "/Models/command/command-en", copy = directory + "/bundle"
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: shipped + "/manifest.json", toPath: copy + "/manifest.json")
        var model = try Data(contentsOf: URL(fileURLWithPath: shipped + "/model.tflite"))
        model[offset(model.count)] ^= 0xFF
        try model.write(to: URL(fileURLWithPath: copy + "/model.tflite"))
        return copy
    }

    /// A copy of the shipped command-en bundle at `directory`, with its manifest changed by `edit` (a new version, or
    /// labels in another order: the same network then answers wrongly, a "bad candidate").
    public static func commandBundleVariant(at directory: String, edit: (inout [String: Any]) -> Void) throws -> String {
        let shipped = packageRoot + "/Models/command/command-en"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: shipped + "/model.tflite", toPath: directory + "/model.tflite")
        var manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: shipped + "/manifest.json"))) as? [String: Any] ?? [:]
        edit(&manifest)
        try JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: directory + "/manifest.json"))
        return directory
    }

    /// A fresh temporary folder, removed by the caller with `FileManager.removeItem` when wanted.
    public static func temporaryDirectory(_ label: String = "earshot") -> String {
        let path = NSTemporaryDirectory() + "\(label)-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Reads a raw little-endian 16-bit file.
    public static func int16Samples(rawFile path: String) throws -> [Int16] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return data.withUnsafeBytes { bytes in
            (0..<(data.count / 2)).map { Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self)) }
        }
    }

    /// Writes an ALSA configuration file that defines `pcm.NAME` as a `file` PCM reading `infile` (raw), over the `null` PCM.
    public static func alsaFilePCM(name: String, infile: String, in directory: String) throws -> String {
        let config = """
        pcm.\(name) {
            type file
            slave.pcm "null"
            file "/dev/null"
            infile "\(infile)"
            format "raw"
        }

        """
        let path = directory + "/\(name).asoundrc"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// Where two sample arrays first differ, for failure messages that do not print 40 000 numbers.
public func firstDifference<T: Equatable>(_ a: [T], _ b: [T]) -> String? {
    if a.count != b.count { return "lengths differ: \(a.count) vs \(b.count)" }
    guard let index = a.indices.first(where: { a[$0] != b[$0] }) else { return nil }
    return "first difference at \(index): \(a[index]) vs \(b[index])"
}

/// SplitMix64: a tiny deterministic generator so fuzz-style tests are reproducible.
public struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The committed held-out sample of command-en (Models/command/heldout): voices the model never heard, with what the
/// recipe found the shipped model decides for each clip.
public enum HeldOutCommands {
    public struct Clip {
        public var label: String
        public var expectedText: String
        public var snr: Double?
        public var samples: [Int16]
        /// A clean clip the shipped model gets right: the ones end-to-end tests build recordings from.
        public var cleanAndRight: Bool { snr == 60 && expectedText == label }
    }

    public static func load() throws -> [Clip] {
        let directory = Fixtures.packageRoot + "/Models/command/heldout"
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/heldout.json"))) as? [String: Any]
        let entries = object?["clips"] as? [[String: Any]] ?? []
        let source = try ConvertingSource(try AudioFileReader(path: directory + "/clips.flac"))
        var samples: [Int16] = []
        while try source.read(appendingTo: &samples, maximum: 16_000) {}
        guard samples.count == entries.count * 16_000 else { throw AudioError(.corruptFile, "clips.flac does not hold \(entries.count) clips") }
        return entries.enumerated().map { k, e in
            Clip(label: e["label"] as? String ?? "", expectedText: e["expected_text"] as? String ?? "", snr: e["snr"] as? Double,
                 samples: Array(samples[(k * 16_000)..<((k + 1) * 16_000)]))
        }
    }
}
