public import EarshotMonitoring
public import Foundation

/// A model bundle's training-time baseline (its manifest's `baseline`: the top-label confidence histogram and each
/// label's share over held-out clips) as a drift reference, so live decisions can be checked for training–serving
/// skew: did the deployed inputs ever look like what the model was validated on?
public struct BaselineReference: Sendable {
    public var model: String
    public var clips: Int
    public var labels: [String]
    public var confidenceHistogram: [Int]
    public var labelShare: [Double]

    /// Reads `manifest.json` (or a bundle directory holding one).
    public init(manifestAt path: String) throws(CollectorError) {
        var isDirectory: ObjCBool = false
        let file = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue ? path + "/manifest.json" : path
        guard let data = FileManager.default.contents(atPath: file) else { throw CollectorError(2, "cannot read \(file)") }
        try self.init(manifest: data, source: file)
    }

    /// Reads a manifest's JSON (from a file, or the registry's copy of a pushed bundle's); `source` names it in errors.
    public init(manifest data: Data, source file: String) throws(CollectorError) {
        guard let manifest = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw CollectorError(2, "\(file) is not a JSON manifest")
        }
        guard let baseline = manifest["baseline"] as? [String: Any], let clips = baseline["clips"] as? Int, clips > 0,
              let histogram = baseline["confidence_histogram"] as? [Int], histogram.count == 10,
              let shares = (baseline["top_label_share"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.doubleValue }),
              let labels = manifest["labels"] as? [String], shares.count == labels.count else {
            throw CollectorError(2, "\(file) has no usable training baseline (baseline.clips, confidence_histogram[10], top_label_share per label)")
        }
        model = "\(manifest["name"] as? String ?? "model")@\(manifest["version"] as? String ?? "?")"
        self.clips = clips
        self.labels = labels
        confidenceHistogram = histogram
        labelShare = shares
    }

    /// The bin a confidence falls in, named as the manifest bins: [k/10, (k+1)/10), with 1.0 in the last.
    static func bin(_ confidence: Double) -> String {
        let k = min(9, max(0, Int(confidence * 10)))
        return String(format: "%.1f–%.1f", Double(k) / 10, Double(k + 1) / 10)
    }

    /// The reference columns: `confidence_bin` and `label`, expanded from the baseline's counts.
    public var reference: [(String, DriftColumn)] {
        var bins: [String] = []
        for (k, count) in confidenceHistogram.enumerated() { bins += Array(repeating: Self.bin(Double(k) / 10 + 0.05), count: count) }
        var names: [String] = []
        for (label, share) in zip(labels, labelShare) { names += Array(repeating: label, count: Int((share * Double(clips)).rounded())) }
        return [("confidence_bin", .categorical(bins)), ("label", .categorical(names))]
    }

    /// The same columns from a window of live decisions (empty text counts as the model's silence label when it has one).
    public func current(_ window: UtteranceWindow) -> [String: DriftColumn] {
        let bins = (window.numeric["confidence"] ?? []).map(Self.bin)
        let silence = labels.contains("silence") ? "silence" : "(none)"
        let names = (window.categorical["label"] ?? []).map { $0.isEmpty ? silence : $0 }
        return ["confidence_bin": .categorical(bins), "label": .categorical(names)]
    }
}
