import ArgumentParser
import EarshotEdge
import EarshotSpool
import EarshotSync
import Foundation

extension Earshot {
    /// `earshot sync --now`: upload the spool's backlog to the collector.
    struct Sync: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload the spool's backlog to the collector (docs/SYNC.md).",
            discussion: """
            With --now, sends batches until the backlog is empty and exits 0; a collector that is down or answers \
            5xx is retried with capped exponential backoff and jitter until --timeout, then the exit is 75 (try \
            again later) with the backlog intact. Batches the collector refuses for good (4xx) go to the spool's \
            dead-letter table. Progress (records and bytes) is shown on a terminal.

            Then, when the device has a model store (--store, $EARSHOT_STORE, or /var/lib/earshot/models with a \
            slots.json), it polls the collector for its rollout assignment (docs/ROLLOUT.md): it reports its slots \
            and the rollbacks it made on its own, downloads an assigned bundle with resume (--download-limit caps \
            the bytes per run), verifies it against --trusted-key, installs it as the candidate and follows the \
            plan (shadow, canary, switch or rollback). It prints one line starting "rollout:".
            """)
        @OptionGroup var options: SpoolOptions
        @Flag(help: "Upload now and exit (the only mode so far).") var now = false
        @Option(help: ArgumentHelp("The collector's base URL (default: $EARSHOT_COLLECTOR).", valueName: "url")) var collector: String?
        @Option(help: ArgumentHelp("This device's bearer token (default: $EARSHOT_TOKEN).", valueName: "token")) var token: String?
        @Option(help: "Give up after this many seconds of failures (the backlog stays for next time).") var timeout = 300.0
        @OptionGroup var models: StoreOptions
        @Flag(help: "Do not poll for a rollout assignment.") var noRollout = false
        @Flag(help: "Also upload the utterance audio `earshot run --keep-audio` kept in the spool (each clip once, oldest first).") var uploadAudio = false
        @Option(help: "With --upload-audio: most megabytes of audio sent per run (the rest waits for the next).") var audioLimitMb: Double?
        @Option(help: ArgumentHelp("Download at most this many bundle bytes per run (metered links); the next run resumes.", valueName: "bytes")) var downloadLimit: Int?

        func validate() throws {
            guard now else { throw ValidationError("Only --now is available: run `earshot sync --now` (from a timer, or after `earshot run`).") }
            guard timeout > 0 else { throw ValidationError("--timeout must be positive.") }
            if let downloadLimit, downloadLimit <= 0 { throw ValidationError("--download-limit must be positive.") }
            if let audioLimitMb, audioLimitMb <= 0 { throw ValidationError("--audio-limit-mb must be positive.") }
        }

        func run() throws {
            let environment = ProcessInfo.processInfo.environment
            guard let address = collector ?? environment["EARSHOT_COLLECTOR"], let url = URL(string: address),
                  ["http", "https"].contains(url.scheme ?? "") else { throw fail("give the collector's http(s) URL with --collector", .usage) }
            guard let token = token ?? environment["EARSHOT_TOKEN"], !token.isEmpty else { throw fail("give the device token with --token", .usage) }
            let spool = try options.open()
            defer { spool.close() }
            let client = SyncClient(spool: spool, collector: url, token: token)
            let terminal = isatty(STDERR_FILENO) == 1
            let deadline = Date().addingTimeInterval(timeout)
            var delay = 0.5
            var total = SyncClient.Progress()
            while true {
                do throws(SyncError) {
                    let p = try client.drain { p in
                        guard terminal else { return }
                        FileHandle.standardError.write(Data(String(format: "\rsync: %d records, %.1f kB sent (%.1f kB of JSON)   ",
                                                                   total.records + p.records, Double(total.wireBytes + p.wireBytes) / 1_000,
                                                                   Double(total.jsonBytes + p.jsonBytes) / 1_000).utf8))
                    }
                    total.records += p.records; total.wireBytes += p.wireBytes; total.jsonBytes += p.jsonBytes
                    total.deadLettered += p.deadLettered; total.batches += p.batches; total.acknowledged = p.acknowledged
                    break
                } catch {
                    guard error.kind == .transient, Date().addingTimeInterval(delay) < deadline else {
                        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
                        throw fail("sync stopped: \(error.message); the backlog is kept", error.kind == .local ? .corruptInput : .tempFailure)
                    }
                    FileHandle.standardError.write(Data(String(format: "%@sync: %@; retrying in %.1f s\n", terminal ? "\n" : "", error.message, delay).utf8))
                    Thread.sleep(forTimeInterval: delay * Double.random(in: 0.5...1.0))       // jitter
                    delay = min(60, delay * 2)
                }
            }
            if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
            let status = (try? spool.status())
            if uploadAudio {
                let uploader = AudioUploader(spoolDirectory: spool.configuration.directory, collector: url, token: token)
                uploader.budget = audioLimitMb.map { Int($0 * 1_048_576) }
                do throws(SyncError) {
                    let p = try uploader.upload()
                    print("audio: \(p.uploaded) clips uploaded (\(p.bytes) bytes), \(p.refused) refused, \(p.waiting) waiting")
                } catch {
                    // The decisions are synced; the audio waits for the next run.
                    FileHandle.standardError.write(Data("sync: audio upload stopped: \(error.message); the clips wait for the next sync\n".utf8))
                    print("audio: upload stopped (\(error.kind.rawValue)): \(error.message)")
                }
            }
            if !noRollout {
                try pollRollout(url: url, token: token, deviceID: spool.deviceID, deadline: deadline)
            }
            print("synced \(total.records) records in \(total.batches) batches (\(total.wireBytes) bytes on the wire, \(total.jsonBytes) of JSON); acknowledged through \(total.acknowledged); \(total.deadLettered) dead-lettered; backlog \(status?.backlog ?? -1)")
        }

        /// Polls for the rollout assignment and carries it out; transient failures are retried until the deadline.
        func pollRollout(url: URL, token: String, deviceID: String, deadline: Date) throws {
            let explicit = models.store != nil || ProcessInfo.processInfo.environment["EARSHOT_STORE"].map { !$0.isEmpty } == true
            let store = try reportingErrors { try models.open() }
            guard FileManager.default.fileExists(atPath: store.statePath) else {
                if explicit { throw fail("\(store.directory) has no slots.json; install and activate a model first (earshot models install --activate)", .usage) }
                return
            }
            let agent = RolloutAgent(store: store, collector: url, token: token)
            agent.downloadLimit = downloadLimit
            var delay = 0.5
            while true {
                do throws(SyncError) {
                    let outcome = try agent.poll(deviceID: deviceID)
                    print("rollout: \(outcome.action): \(outcome.message)\(outcome.downloaded > 0 ? " (\(outcome.downloaded) bytes downloaded)" : "")")
                    return
                } catch {
                    guard error.kind == .transient, Date().addingTimeInterval(delay) < deadline else {
                        throw fail("rollout poll failed: \(error.message)", error.kind == .local ? .corruptInput : .tempFailure)
                    }
                    FileHandle.standardError.write(Data("sync: \(error.message); retrying in \(String(format: "%.1f", delay)) s\n".utf8))
                    Thread.sleep(forTimeInterval: delay * Double.random(in: 0.5...1.0))
                    delay = min(60, delay * 2)
                }
            }
        }
    }
}
