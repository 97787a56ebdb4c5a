public import Foundation

/// A training-ready dataset from the fleet's logs: every decision whose audio a device kept and uploaded, with the best
/// label available and where it came from — a technician's correction, then a technician's confirmation, then the
/// cloud teacher's answer, then the local model's — its confidence, the decision's input statistics and the device's
/// cohort tags. Written as `clips/DEVICE/ID.flac`, `manifest.jsonl` (one clip per line) and `dataset.json` (counts
/// and the conventions the labels follow), the layout `Models/training` reads.
public struct TrainingExport: Sendable {
    public enum Provenance: String, Sendable, Codable, CaseIterable {
        case technicianCorrection = "technician-correction"
        case technicianConfirmation = "technician-confirmation"
        case cloudTeacher = "cloud-teacher"
        case localModel = "local-model"
    }

    /// Which clips to take.
    public struct Selection: Sendable {
        public var since: Double?
        public var until: Double?
        public var device: String?
        /// Cohort tags: a device's site, hardware or rollout group must match each one given.
        public var site: String?
        public var hardware: String?
        public var group: String?
        /// A cohort by any of its names: the device's site, hardware tag or rollout group equals it.
        public var cohort: String?
        /// Least label confidence (a technician's label counts as 1).
        public var minimumConfidence = 0.0
        /// Only these provenances (nil: all).
        public var provenances: Set<Provenance>?
        public init() {}
    }

    /// One exported clip.
    public struct Item: Sendable, Codable, Equatable {
        public var clip: String
        public var label: String
        public var provenance: Provenance
        public var confidence: Double
        public var device: String
        public var site: String?
        public var hardware: String?
        public var group: String?
        public var utterance: String
        public var wall: Double
        public var model: String?
        /// The local model's answer and the teacher's, when they differ from the label's source.
        public var localText: String?
        public var teacherText: String?
        public var inputs: [String: Double]

        enum CodingKeys: String, CodingKey {
            case clip, label, provenance, confidence, device, site, hardware, group, utterance, wall, model, inputs
            case localText = "local_text", teacherText = "teacher_text"
        }
    }

    public struct Summary: Sendable, Codable, Equatable {
        public var clips = 0
        public var byProvenance: [String: Int] = [:]
        public var byDevice: [String: Int] = [:]
        public var byLabel: [String: Int] = [:]
        /// Decisions with kept audio whose clip the collector does not hold (not uploaded yet, or past retention).
        public var missingAudio = 0
        public var belowConfidence = 0
        public var conventions = "Models/LABELLING.md: lower case, numbers as words, no punctuation, silence and unknown as labels"
        public var created: Double = 0
        enum CodingKeys: String, CodingKey {
            case clips, conventions, created
            case byProvenance = "by_provenance", byDevice = "by_device", byLabel = "by_label", missingAudio = "missing_audio"
            case belowConfidence = "below_confidence"
        }
    }

    public let store: any CollectorStore
    public init(store: any CollectorStore) { self.store = store }

    /// The label, its provenance and confidence for one decision, given a technician's verdict when there is one.
    /// Labels follow Models/LABELLING.md (the device normalised them); empty answers become `unknown`.
    public static func bestLabel(decision: [String: Any], verdict: (kind: String, label: String)?) -> (String, Provenance, Double) {
        if let verdict {
            return (normalise(verdict.label), verdict.kind == "correction" ? .technicianCorrection : .technicianConfirmation, 1)
        }
        let text = normalise(decision["text"] as? String ?? "")
        let confidence = (decision["confidence"] as? NSNumber)?.doubleValue ?? 0
        if decision["source"] as? String == "cloud" { return (text, .cloudTeacher, confidence) }
        return (text, .localModel, confidence)
    }

    /// Lower case, letters, digits as words are the device's job; here only case, spacing and the empty answer.
    static func normalise(_ label: String) -> String {
        let words = label.lowercased().split(whereSeparator: { !$0.isLetter && $0 != "'" && $0 != "_" })
        return words.isEmpty ? "unknown" : words.joined(separator: " ")
    }

    /// Writes the dataset into `directory` (created; must be empty or new).
    public func write(to directory: String, selection: Selection, now: Double = Date().timeIntervalSince1970) async throws(CollectorError) -> Summary {
        let fm = FileManager.default
        if let existing = try? fm.contentsOfDirectory(atPath: directory), !existing.isEmpty {
            throw CollectorError(2, "\(directory) is not empty; give a new directory for the export")
        }
        do { try fm.createDirectory(atPath: directory + "/clips", withIntermediateDirectories: true) } catch {
            throw CollectorError(2, "cannot create \(directory): \(error.localizedDescription)")
        }
        let devices = Dictionary(try await store.devices().map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        // Technicians' verdicts by (device id, utterance id); a later verdict replaces an earlier one.
        final class Verdicts: @unchecked Sendable { var map: [String: (String, String)] = [:] }
        let verdicts = Verdicts()
        var labels = ExportFilter()
        labels.kind = "label"
        labels.device = selection.device
        _ = try await store.export(labels) { row in
            guard let object = try? JSONSerialization.jsonObject(with: Data(row.body.utf8)) as? [String: Any],
                  let id = object["utterance_id"] as? String, let verdict = object["verdict"] as? String, let label = object["label"] as? String else { return }
            verdicts.map[row.deviceID + "\u{1F}" + id] = (verdict, label)
        }
        // Decisions with kept audio, oldest first; their clips are fetched after (the export callback cannot wait).
        final class Found: @unchecked Sendable { var items: [(device: String, audio: String, item: Item)] = []; var below = 0 }
        let found = Found()
        var decisions = ExportFilter()
        decisions.kind = "decision"
        decisions.device = selection.device
        decisions.since = selection.since
        decisions.until = selection.until
        let numeric = UtteranceRow.numericColumns
        _ = try await store.export(decisions) { row in
            guard let audio = row.text[UtteranceRow.textColumns.firstIndex(of: "audio")!], !audio.isEmpty else { return }
            let entry = devices[row.device]
            if let site = selection.site, entry?.site != site { return }
            if let hardware = selection.hardware, entry?.hardware != hardware { return }
            if let group = selection.group, entry?.group != group { return }
            if let cohort = selection.cohort, ![entry?.site, entry?.hardware, entry?.group].contains(cohort) { return }
            guard let object = try? JSONSerialization.jsonObject(with: Data(row.body.utf8)) as? [String: Any],
                  let decision = object["decision"] as? [String: Any], let id = decision["id"] as? String else { return }
            let verdict = verdicts.map[row.deviceID + "\u{1F}" + id].map { (kind: $0.0, label: $0.1) }
            let (label, provenance, confidence) = Self.bestLabel(decision: decision, verdict: verdict)
            if let wanted = selection.provenances, !wanted.contains(provenance) { return }
            guard confidence >= selection.minimumConfidence else { found.below += 1; return }
            let local = decision["local"] as? [String: Any]
            var inputs: [String: Double] = [:]
            for (k, name) in numeric.enumerated() { if let v = row.numbers[k] { inputs[name] = v } }
            let file = (audio as NSString).lastPathComponent
            let item = Item(clip: "clips/\(row.device)/\(file)", label: label, provenance: provenance, confidence: confidence, device: row.device,
                            site: entry?.site, hardware: entry?.hardware, group: entry?.group, utterance: id, wall: row.wall,
                            model: row.text[UtteranceRow.textColumns.firstIndex(of: "model")!],
                            localText: provenance == .cloudTeacher ? (local?["text"] as? String) : nil,
                            teacherText: provenance != .cloudTeacher && decision["source"] as? String == "cloud" ? decision["text"] as? String : nil,
                            inputs: inputs)
            found.items.append((row.device, audio, item))
        }
        var summary = Summary()
        summary.created = now
        summary.belowConfidence = found.below
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var manifest = Data()
        for (device, audio, item) in found.items {
            guard let bytes = try await store.clip(device: device, name: audio) else { summary.missingAudio += 1; continue }
            do {
                try fm.createDirectory(atPath: directory + "/clips/" + device, withIntermediateDirectories: true)
                try bytes.write(to: URL(fileURLWithPath: directory + "/" + item.clip))
                manifest.append(try encoder.encode(item))
                manifest.append(UInt8(ascii: "\n"))
            } catch {
                throw CollectorError(2, "cannot write \(directory)/\(item.clip): \(error.localizedDescription)")
            }
            summary.clips += 1
            summary.byProvenance[item.provenance.rawValue, default: 0] += 1
            summary.byDevice[device, default: 0] += 1
            summary.byLabel[item.label, default: 0] += 1
        }
        do {
            try manifest.write(to: URL(fileURLWithPath: directory + "/manifest.jsonl"))
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            try encoder.encode(summary).write(to: URL(fileURLWithPath: directory + "/dataset.json"))
        } catch {
            throw CollectorError(2, "cannot write the manifest in \(directory): \(error.localizedDescription)")
        }
        return summary
    }
}
