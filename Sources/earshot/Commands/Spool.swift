import ArgumentParser
import EarshotEdge
import EarshotSpool
import Foundation

/// Where the spool is: --spool, else $EARSHOT_SPOOL.
struct SpoolOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The spool directory (default: $EARSHOT_SPOOL).", valueName: "dir")) var spool: String?

    func open() throws -> Spool {
        guard let directory = spool ?? ProcessInfo.processInfo.environment["EARSHOT_SPOOL"].flatMap({ $0.isEmpty ? nil : $0 }) else {
            throw fail("give the spool directory with --spool (or $EARSHOT_SPOOL)", .usage)
        }
        do {
            let spool = try Spool(Spool.Configuration(directory: directory))
            for note in spool.drainNotes() { FileHandle.standardError.write(Data((note + "\n").utf8)) }
            return spool
        } catch {
            throw fail(error.message, error.code == .unwritable ? .cannotCreate : .corruptInput)
        }
    }
}

/// One line on stdout, unbuffered (a reader may be waiting for it; a kill -9 must not lose what was printed).
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

extension Earshot {
    /// `earshot spool …`: the durable offline log.
    struct SpoolCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "spool", abstract: "Inspect the durable utterance log.",
                                                        subcommands: [Status.self, Bench.self])
    }

    /// `earshot logs`: recent utterance records.
    struct Logs: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show recent utterance records from the spool.")
        @OptionGroup var options: SpoolOptions
        @Option(name: [.customShort("n"), .long], help: "How many of the newest records.") var count = 20
        @Flag(help: "Keep printing new records as they are committed.") var follow = false
        @Flag(help: "Print each record as one JSON object.") var json = false

        func run() throws {
            let spool = try options.open()
            defer { spool.close() }
            var last: Int64 = 0
            func show(_ records: [Spool.Record]) {
                for r in records {
                    last = r.sequence
                    if json {
                        let envelope = "{\"seq\":\(r.sequence),\"epoch\":\(r.epoch),\"wall\":\(r.wallTime),\"kind\":\"\(r.kind)\",\"record\":"
                        emit(envelope + String(decoding: r.body, as: UTF8.self) + "}")
                    } else {
                        let object = (try? JSONSerialization.jsonObject(with: r.body)) as? [String: Any]
                        let d = object?["decision"] as? [String: Any] ?? object ?? [:]
                        let time = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: r.wallTime))
                        emit("\(r.sequence)  \(time)  \(d["text"] as? String ?? "-")  \(d["confidence"].map { "\($0)" } ?? "-")  \(d["source"] as? String ?? "")  \(d["automation"] as? String ?? "")")
                    }
                }
            }
            do {
                show(try spool.latest(count))
                while follow {
                    Thread.sleep(forTimeInterval: 0.5)
                    show(try spool.records(after: last, limit: 1_000))
                }
            } catch {
                throw fail(error.message, .corruptInput)
            }
        }
    }
}

extension Earshot.SpoolCommand {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Backlog, oldest record, bytes, drops, corruption and last sync.",
            discussion: "--json prints one object with at least records, backlog (not yet acknowledged by the collector), dropped and corrupt.")
        @OptionGroup var options: SpoolOptions
        @Flag(help: "Print one JSON object.") var json = false

        func run() throws {
            let spool = try options.open()
            defer { spool.close() }
            let s: Spool.Status
            do { s = try spool.status() } catch { throw fail(error.message, .corruptInput) }
            let audio = AudioKeeper.inventory(of: spool.configuration.directory + "/audio")
            if json {
                struct Report: Encodable {
                    var status: Spool.Status
                    var audio: AudioKeeper.Inventory
                    func encode(to encoder: any Encoder) throws {
                        try status.encode(to: encoder)
                        var c = encoder.container(keyedBy: Key.self)
                        try c.encode(audio, forKey: .audio)
                    }
                    enum Key: String, CodingKey { case audio }
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(Report(status: s, audio: audio)), as: UTF8.self))
                return
            }
            let f = ISO8601DateFormatter()
            print("spool \(spool.path)  device \(s.deviceID)  epoch \(s.epoch)")
            print("records \(s.records) (\(s.bytes) bytes), backlog \(s.backlog), committed through \(s.committedSequence), acknowledged through \(s.acknowledgedSequence)")
            print("oldest \(s.oldest.map { f.string(from: Date(timeIntervalSince1970: $0)) } ?? "-"), newest \(s.newest.map { f.string(from: Date(timeIntervalSince1970: $0)) } ?? "-")")
            print("dropped \(s.dropped), corrupt databases quarantined \(s.corrupt), dead letters \(s.deadLetter), last sync \(s.lastSync.map { f.string(from: Date(timeIntervalSince1970: $0)) } ?? "never")")
            print("audio kept: \(audio.files) files, \(audio.bytes) bytes, oldest \(audio.oldest.map { f.string(from: Date(timeIntervalSince1970: $0)) } ?? "-")")
        }
    }

    /// Appends synthetic records as fast as group commit allows and prints the committed watermark as it advances:
    /// the throughput benchmark, and the writer the kill -9 tests shoot at.
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write synthetic records (throughput benchmark and crash tests).",
            discussion: "Prints \"committed N\" each time the durable watermark advances, then a summary with records per second.")
        @OptionGroup var options: SpoolOptions
        @Option(help: "Records to write.") var records = 100_000
        @Option(help: "Bytes of each record's body.") var bytes = 600
        @Option(help: "Records per group commit.") var batch = 256

        func run() throws {
            guard let directory = options.spool ?? ProcessInfo.processInfo.environment["EARSHOT_SPOOL"] else { throw fail("give --spool", .usage) }
            var configuration = Spool.Configuration(directory: directory)
            configuration.batchSize = batch
            configuration.queueCapacity = max(configuration.queueCapacity, batch * 4)
            let spool: Spool
            do { spool = try Spool(configuration) } catch { throw fail(error.message, .corruptInput) }
            for note in spool.drainNotes() { FileHandle.standardError.write(Data((note + "\n").utf8)) }
            let body = Data(("{\"schema\":1,\"decision\":{\"text\":\"stop\",\"confidence\":0.9,\"pad\":\"" + String(repeating: "x", count: max(0, bytes - 60)) + "\"}}").utf8)
            let started = Date()
            var printed = spool.committedSequence
            var written = 0
            while written < records {
                spool.append(body, waitIfFull: true)
                written += 1
                let now = spool.committedSequence
                if now != printed { emit("committed \(now)"); printed = now }
            }
            spool.flush()
            let now = spool.committedSequence
            if now != printed { emit("committed \(now)") }
            let seconds = Date().timeIntervalSince(started)
            spool.close()
            FileHandle.standardError.write(Data(String(format: "earshot: %d records in %.2f s: %.0f durable records/s\n", written, seconds, Double(written) / seconds).utf8))
        }
    }
}
