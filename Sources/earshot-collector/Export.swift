import ArgumentParser
import EarshotCollector
import Foundation

extension Collector {
    /// `earshot-collector export`: stored records as CSV, streamed, for retraining and offline analysis.
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write stored records as CSV (one row per record, the decision columns, the kept audio's name, the record's JSON).",
            discussion: """
            Columns: device, device_id, epoch, seq, kind, time (ISO 8601 UTC), wall (seconds since 1970), then \
            model, source, label, audio, the numeric input/output/software columns, the 0/1 flags, and record (the JSON \
            as the device sent it). The file opens with `earshot-collector drift --reference/--current`. Rows stream \
            from the database oldest first; memory stays flat whatever the size.

            With --for-training, --out is a new directory: every decision whose audio the device kept and uploaded, \
            as clips/DEVICE/ID.flac, with manifest.jsonl (one clip per line: label, provenance, confidence, device, \
            site, hardware, group, the input statistics) and dataset.json (counts). The label is the best there is: a \
            technician's correction, then a confirmation, then the cloud teacher's answer, then the local model's.
            """)
        @OptionGroup var database: DatabaseOptions
        @Option(name: .shortAndLong, help: ArgumentHelp("The CSV file to write (- for stdout).", valueName: "file")) var out = "-"
        @Option(help: "Only this device.") var device: String?
        @Option(help: "Only decisions answered by this model (name@version).") var model: String?
        @Option(help: ArgumentHelp("From this time on: ISO 8601 (2026-11-27T10:00:00Z) or seconds since 1970.", valueName: "time")) var since: String?
        @Option(help: ArgumentHelp("Before this time.", valueName: "time")) var until: String?
        @Option(help: "Only records of this kind (decision or label).") var kind: String?
        @Flag(help: "Leave out the record's JSON column.") var noRecord = false
        @Flag(help: "Write a training dataset (clips, manifest.jsonl, dataset.json) into the new directory --out.") var forTraining = false
        @Option(help: "With --for-training: only devices of this site.") var site: String?
        @Option(help: "With --for-training: only devices with this hardware tag.") var hardware: String?
        @Option(help: "With --for-training: only devices of this rollout group.") var group: String?
        @Option(help: "With --for-training: only devices whose site, hardware tag or rollout group is this cohort.") var cohort: String?
        @Option(name: [.customLong("min-confidence"), .customLong("min-agreement")],
                help: "With --for-training: only labels at least this confident (a technician's counts as 1).") var minConfidence = 0.0
        @Option(help: "With --for-training: only these label sources (technician-correction, technician-confirmation, cloud-teacher, local-model; comma-separated).")
        var provenance: String?

        static func time(_ text: String?, _ flag: String) throws -> Double? {
            guard let text else { return nil }
            if let seconds = Double(text) { return seconds }
            if let date = ISO8601DateFormatter().date(from: text) { return date.timeIntervalSince1970 }
            throw ValidationError("\(flag) must be ISO 8601 (2026-11-27T10:00:00Z) or seconds since 1970, not \(text)")
        }

        func run() async throws {
            if forTraining { return try await training() }
            if site != nil || hardware != nil || group != nil || cohort != nil || provenance != nil || minConfidence > 0 {
                throw fail("--site, --hardware, --group, --cohort, --min-confidence and --provenance go with --for-training", .usage)
            }
            var filter = ExportFilter()
            filter.device = device
            filter.model = model
            filter.kind = kind
            filter.since = try Self.time(since, "--since")
            filter.until = try Self.time(until, "--until")
            let handle: FileHandle
            if out == "-" { handle = .standardOutput } else {
                guard FileManager.default.createFile(atPath: out, contents: nil) , let h = FileHandle(forWritingAtPath: out) else {
                    throw fail("cannot create \(out)", .usage)
                }
                handle = h
            }
            let writer = CSVWriter(handle: handle, withRecord: !noRecord)
            writer.header()
            let count = try await database.using { store throws(CollectorError) in try await store.export(filter) { try writer.write($0) } }
            try writer.finish()
            if out != "-" { FileHandle.standardError.write(Data("earshot-collector: exported \(count) records to \(out)\n".utf8)) }
        }

        func training() async throws {
            guard out != "-" else { throw fail("--for-training writes a directory: give it with --out DIR", .usage) }
            guard kind == nil, model == nil else { throw fail("--kind and --model do not go with --for-training", .usage) }
            var selection = TrainingExport.Selection()
            selection.since = try Self.time(since, "--since")
            selection.until = try Self.time(until, "--until")
            selection.device = device
            selection.site = site
            selection.hardware = hardware
            selection.group = group
            selection.cohort = cohort
            selection.minimumConfidence = minConfidence
            if let provenance {
                var wanted = Set<TrainingExport.Provenance>()
                for name in provenance.split(separator: ",") {
                    guard let p = TrainingExport.Provenance(rawValue: String(name)) else {
                        throw fail("--provenance takes \(TrainingExport.Provenance.allCases.map(\.rawValue).joined(separator: ", ")), not \(name)", .usage)
                    }
                    wanted.insert(p)
                }
                selection.provenances = wanted
            }
            let summary = try await database.using(status: { $0.status == 2 ? .usage : .unavailable }) { store throws(CollectorError) in
                try await TrainingExport(store: store).write(to: out, selection: selection)
            }
            let sources = summary.byProvenance.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            FileHandle.standardError.write(Data("earshot-collector: \(summary.clips) clips to \(out) (\(sources.isEmpty ? "none" : sources)); \(summary.missingAudio) without uploaded audio, \(summary.belowConfidence) below the confidence floor\n".utf8))
            print(out + "/manifest.jsonl")
        }
    }
}

/// Buffered RFC 4180 CSV output.
final class CSVWriter: @unchecked Sendable {
    private let handle: FileHandle
    private let withRecord: Bool
    private var buffer = Data()
    private let time = ISO8601DateFormatter()

    init(handle: FileHandle, withRecord: Bool) {
        self.handle = handle
        self.withRecord = withRecord
        time.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    }

    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    func header() {
        let columns = ["device", "device_id", "epoch", "seq", "kind", "time", "wall"] + UtteranceRow.textColumns + UtteranceRow.numericColumns
            + UtteranceRow.flagColumns + (withRecord ? ["record"] : [])
        buffer.append(contentsOf: Array((columns.joined(separator: ",") + "\n").utf8))
    }

    func write(_ row: ExportRow) throws {
        var fields = [row.device, row.deviceID, String(row.epoch), String(row.sequence), row.kind,
                      time.string(from: Date(timeIntervalSince1970: row.wall)), String(row.wall)]
        fields += row.text.map { $0 ?? "" }
        fields += row.numbers.map { $0.map { String($0) } ?? "" }
        fields += row.flags.map { $0.map(String.init) ?? "" }
        if withRecord { fields.append(row.body) }
        buffer.append(contentsOf: Array((fields.map(Self.field).joined(separator: ",") + "\n").utf8))
        if buffer.count > 1 << 20 { try flush() }
    }

    func flush() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    func finish() throws {
        try flush()
        if handle !== FileHandle.standardOutput { try handle.close() }
    }
}
