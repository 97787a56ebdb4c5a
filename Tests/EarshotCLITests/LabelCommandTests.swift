import EarshotAudio
import EarshotTestSupport
import Foundation
import Testing

/// Technicians' confirmations and corrections: `earshot label` and `earshot review` over a real spool.
@Suite("earshot label and review")
struct LabelCommandTests {
    @Test func labelsAreStoredInTheSpoolBesideTheirDecisions() throws {
        let directory = Fixtures.temporaryDirectory("cli-label")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = directory + "/spool"
        let path = try TranscribeCommandTests.recording(["stop", "seven", "forward", "left"], in: directory)
        // Everything asks for confirmation (human-only), so all four are in the review queue.
        let run = try Programs.earshot(["run", "--audio", path, "--spool", spool, "--automation", "human-only"])
        #expect(run.status == 0, "\(run.stderr)")
        let ids = run.stdout.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["id"] as? String }
        try #require(ids.count == 4)
        let confirm = try Programs.earshot(["label", ids[0], "--spool", spool])
        #expect(confirm.status == 0 && confirm.stdout.contains("confirmation of \(ids[0]): stop → stop"), "\(confirm.stderr)")
        let correct = try Programs.earshot(["label", ids[1], "Go!", "--spool", spool])
        #expect(correct.status == 0 && correct.stdout.contains("correction of \(ids[1]): seven → go"))
        #expect(try Programs.earshot(["label", "no-such-id", "--spool", spool]).status == 66)
        // Review offers only the two unlabelled ones: confirm the first, correct the second.
        let review = try Programs.earshot(["review", "--spool", spool], stdin: Data("y\nn\nleft turn\n".utf8))
        #expect(review.status == 0 && review.stdout.contains("reviewed 2: 1 confirmed, 1 corrected"), "\(review.stdout)\(review.stderr)")
        #expect(!review.stdout.contains(ids[0]) && review.stdout.contains(ids[2]) && review.stdout.contains(ids[3]))
        let logs = try Programs.earshot(["logs", "--spool", spool, "--json", "-n", "10"])
        let labels = logs.stdout.split(separator: "\n").compactMap { line -> [String: Any]? in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], o["kind"] as? String == "label" else { return nil }
            return o["record"] as? [String: Any]
        }
        #expect(labels.map { $0["utterance_id"] as? String ?? "" } == [ids[0], ids[1], ids[2], ids[3]])
        #expect(labels.map { $0["label"] as? String ?? "" } == ["stop", "go", "forward", "left turn"])
        #expect(labels.map { $0["verdict"] as? String ?? "" } == ["confirmation", "correction", "confirmation", "correction"])
        let again = try Programs.earshot(["review", "--spool", spool], stdin: Data())
        #expect(again.stdout.contains("reviewed 0"))
        // Privacy by default: no audio was kept.
        #expect(!FileManager.default.fileExists(atPath: spool + "/audio") && !run.stdout.contains("\"audio\""))
    }

    /// With --keep-audio 1 every utterance's audio is kept as FLAC beside the spool, named in its decision.
    @Test func keptAudioIsNamedInTheDecisionAndListedInTheStatus() throws {
        let directory = Fixtures.temporaryDirectory("cli-keep-audio")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = directory + "/spool"
        let path = try TranscribeCommandTests.recording(["stop", "seven"], in: directory)
        let run = try Programs.earshot(["run", "--audio", path, "--spool", spool, "--keep-audio", "1"])
        #expect(run.status == 0, "\(run.stderr)")
        let decisions = run.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let files = decisions.compactMap { $0["audio"] as? String }
        #expect(files.count == 2)
        for (file, d) in zip(files, decisions) {
            let info = try AudioFileReader(path: spool + "/" + file).info
            let speech = (d["end"] as? Double ?? 0) - (d["start"] as? Double ?? 0)
            #expect(info.sampleRate == 16_000 && info.duration >= speech && info.duration <= speech + 0.51, "\(file): \(info.duration) s for \(speech) s")
        }
        let status = try Programs.earshot(["spool", "status", "--spool", spool, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: status.stdoutData) as? [String: Any])
        #expect((object["audio"] as? [String: Any])?["files"] as? Int == 2)
        #expect(try Programs.earshot(["run", "--audio", path, "--keep-audio", "0.5"]).status == 64)     // needs a spool
    }
}
