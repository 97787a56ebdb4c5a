import ArgumentParser
import EarshotRecognizer
import EarshotSpool
import Foundation

/// A technician's verdict on one decision, stored in the spool as a `label` record (synced like any other record):
/// the ground truth for accuracy tracking and retraining.
struct LabelRecord: Codable {
    var schema = 1
    var utteranceID: String
    var decisionSequence: Int64
    /// `confirmation` (the decision was right) or `correction` (it was not; `label` is what was said).
    var verdict: String
    var label: String
    var originalText: String
    var model: String?
    var time: Double
    enum CodingKeys: String, CodingKey {
        case schema, utteranceID = "utterance_id", decisionSequence = "decision_seq", verdict, label, originalText = "original_text", model, time
    }

    /// Writes a label for `record` (a decision) and waits until it is durable.
    static func store(_ spool: Spool, decision record: Spool.Record, correct: String?) throws -> LabelRecord {
        let object = (try? JSONSerialization.jsonObject(with: record.body)) as? [String: Any]
        guard let decision = object?["decision"] as? [String: Any], let id = decision["id"] as? String else {
            throw fail("record \(record.sequence) is not a decision", .corruptInput)
        }
        let text = decision["text"] as? String ?? ""
        // Corrections are written the way labels are (Models/LABELLING.md): "Go!" → "go", "10" → "ten".
        let label = correct.map { Transcript.normalise($0) }.map { $0.isEmpty ? "unknown" : $0 } ?? text
        let model = (decision["models"] as? [String: String])?["answered"] ?? (decision["models"] as? [String: String])?["active"]
        let entry = LabelRecord(utteranceID: id, decisionSequence: record.sequence, verdict: label == text ? "confirmation" : "correction",
                                label: label, originalText: text, model: model, time: Date().timeIntervalSince1970)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard spool.append(try encoder.encode(entry), kind: "label"), spool.flush() else { throw fail("the label could not be stored in the spool", .ioError) }
        return entry
    }
}

extension Earshot {
    /// `earshot label ID [LABEL]`: confirm or correct one decision.
    struct Label: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Confirm a decision (no label) or correct it (the label that was really said).",
            discussion: "The decision is found in the spool by its id (the `id` field of `earshot run`'s JSON); the label is stored there as a `label` record.")
        @Argument(help: ArgumentHelp("The decision's id.", valueName: "utterance-id")) var id: String
        @Argument(help: ArgumentHelp("What was really said; omit to confirm the decision.", valueName: "correct-label")) var label: String?
        @OptionGroup var options: SpoolOptions

        func run() throws {
            let spool = try options.open()
            defer { spool.close() }
            let found: Spool.Record?
            do { found = try spool.decision(id: id) } catch { throw fail(error.message, .corruptInput) }
            guard let record = found else { throw fail("no decision \(id) in the spool", .inputMissing) }
            let entry = try LabelRecord.store(spool, decision: record, correct: label)
            print("\(entry.verdict) of \(id): \(entry.originalText) → \(entry.label)")
        }
    }

    /// `earshot review`: the queue of decisions waiting for a technician, one prompt each.
    struct Review: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Go through decisions that asked for confirmation and confirm or correct each.",
            discussion: """
            For each unlabelled decision whose automation was "confirm" (all decisions with --all): y confirms it, \
            n or c asks for the right label (empty means unknown), s skips, q quits. Answers are read line by line \
            from stdin, so a script can drive it too.
            """)
        @OptionGroup var options: SpoolOptions
        @Flag(help: "Review every unlabelled decision, not only those that asked for confirmation.") var all = false

        func run() throws {
            let spool = try options.open()
            defer { spool.close() }
            var labelled: Set<String>
            do { labelled = try spool.labelledIDs() } catch { throw fail(error.message, .corruptInput) }
            var last: Int64 = 0
            var reviewed = 0, confirmed = 0, corrected = 0
            func ask(_ prompt: String) -> String? {
                FileHandle.standardOutput.write(Data(prompt.utf8))
                return readLine()?.trimmingCharacters(in: .whitespaces)
            }
            review: while true {
                let page: [Spool.Record]
                do { page = try spool.decisions(after: last, limit: 200) } catch { throw fail(error.message, .corruptInput) }
                guard !page.isEmpty else { break }
                for record in page {
                    last = record.sequence
                    guard let object = (try? JSONSerialization.jsonObject(with: record.body)) as? [String: Any],
                          let d = object["decision"] as? [String: Any], let id = d["id"] as? String, !labelled.contains(id) else { continue }
                    guard all || d["automation"] as? String == "confirm" else { continue }
                    let line = String(format: "%@  %.2f–%.2f s  \"%@\"  %.2f  (%@)  [y]es [n]o [s]kip [q]uit: ", id, d["start"] as? Double ?? 0,
                                      d["end"] as? Double ?? 0, d["text"] as? String ?? "", d["confidence"] as? Double ?? 0, d["source"] as? String ?? "")
                    guard let answer = ask(line)?.lowercased() else { break review }
                    switch answer {
                    case "y", "yes":
                        _ = try LabelRecord.store(spool, decision: record, correct: nil); confirmed += 1
                    case "n", "no", "c":
                        let said = ask("  what was said (empty: not a command)? ") ?? ""
                        _ = try LabelRecord.store(spool, decision: record, correct: said); corrected += 1
                    case "q", "quit": break review
                    default: continue
                    }
                    labelled.insert(id)
                    reviewed += 1
                }
            }
            print("reviewed \(reviewed): \(confirmed) confirmed, \(corrected) corrected")
        }
    }
}
