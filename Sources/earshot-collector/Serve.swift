import ArgumentParser
import EarshotCollector
import Foundation

extension Collector {
    /// `earshot-collector serve`: the ingest endpoint of docs/SYNC.md.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the ingest API (POST /v1/ingest), the dashboard (/), /healthz and /metrics until SIGINT or SIGTERM.",
            discussion: "Says \"earshot-collector: listening on http://HOST:PORT (DATABASE)\" on stderr once the port is bound.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The address to listen on.") var host = "127.0.0.1"
        @Option(help: "The TCP port (0 picks a free one).") var port = 8090
        @Option(help: "Largest request body, in MiB.") var maxBodyMb = 8.0
        @Option(help: "Most records per batch.") var maxRecords = 1_000
        @Option(help: "A YAML config with an `alarms:` section: its rules are evaluated every interval while serving.") var config: String?
        @Option(help: "Require this token for the dashboard (Authorization: Bearer, or ?token=); default $EARSHOT_DASHBOARD_TOKEN.") var dashboardToken: String?
        @Option(help: "Rows per drift window on the dashboard.") var dashboardWindow = 200
        @Flag(help: "Refuse utterance audio from devices (403); by default sampled clips are kept with retention.") var noAudio = false
        @Option(help: "Days uploaded audio is kept.") var audioRetentionDays = 30.0
        @Option(help: "Most megabytes of audio kept per device; the oldest clips go first.") var audioMaxMbPerDevice = 200.0
        @Option(help: "Run the rollout quality gate every this many seconds (0: never; give it to one collector of a pool).") var rolloutCheck = 60.0
        @Option(help: ArgumentHelp("A PEM certificate chain: serve HTTPS (needs --tls-key).", valueName: "file")) var tlsCert: String?
        @Option(help: ArgumentHelp("The PEM private key for --tls-cert.", valueName: "file")) var tlsKey: String?

        func validate() throws {
            guard (0...65_535).contains(port) else { throw ValidationError("--port must be 0–65535.") }
            guard audioRetentionDays > 0, audioMaxMbPerDevice > 0 else { throw ValidationError("--audio-retention-days and --audio-max-mb-per-device must be positive.") }
            guard rolloutCheck >= 0 else { throw ValidationError("--rollout-check must be 0 or more seconds.") }
            guard maxBodyMb > 0, maxRecords > 0 else { throw ValidationError("--max-body-mb and --max-records must be positive.") }
        }

        func run() async throws {
            let alarms = try config.map(loadAlarmConfiguration)
            let store = try await database.open()
            var configuration = CollectorConfiguration()
            configuration.host = host
            configuration.port = port
            configuration.limits.maximumBodyBytes = Int(maxBodyMb * 1_048_576)
            configuration.limits.maximumRecords = maxRecords
            configuration.dashboardToken = dashboardToken ?? ProcessInfo.processInfo.environment["EARSHOT_DASHBOARD_TOKEN"]
            configuration.dashboardWindow = dashboardWindow
            configuration.tlsCertificate = tlsCert
            configuration.tlsKey = tlsKey
            configuration.audio.accept = !noAudio
            configuration.audio.retentionDays = audioRetentionDays
            configuration.audio.maximumDeviceBytes = Int(audioMaxMbPerDevice * 1_048_576)
            let server = CollectorServer(store: store, configuration: configuration)
            do { _ = try server.tlsConfiguration() } catch {
                await store.close()
                throw fail(error.message, .usage)
            }
            let scheme = tlsCert == nil ? "http" : "https"
            let location = database.location.replacingOccurrences(of: #"://([^:@/]+):[^@/]*@"#, with: "://$1:***@", options: .regularExpression)
            // Alarm rules run beside the server; give the config to one collector of a pool.
            let evaluator = alarms.map { configuration in
                Task {
                    let engine = AlarmEngine(store: store, configuration: configuration)
                    while !Task.isCancelled {
                        do {
                            for change in try await engine.evaluate() {
                                FileHandle.standardError.write(Data("earshot-collector: alarm \(change.rule) [\(change.subject)] \(change.state): \(change.reason)\n".utf8))
                            }
                        } catch {
                            FileHandle.standardError.write(Data("earshot-collector: alarm evaluation failed: \(error)\n".utf8))
                        }
                        try? await Task.sleep(for: .seconds(configuration.interval))
                    }
                }
            }
            defer { evaluator?.cancel() }
            let gate = rolloutCheck > 0 ? Task {
                let controller = RolloutController(store: store)
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(rolloutCheck))
                    do {
                        for (plan, verdict) in try await controller.evaluate() where verdict.outcome != .wait {
                            FileHandle.standardError.write(Data("earshot-collector: rollout \(plan.id) \(verdict.outcome.rawValue) → \(plan.state.rawValue), step \(plan.step + 1)/\(plan.steps.count): \(verdict.reason)\n".utf8))
                        }
                    } catch {
                        FileHandle.standardError.write(Data("earshot-collector: rollout evaluation failed: \(error)\n".utf8))
                    }
                }
            } : nil
            defer { gate?.cancel() }
            do {
                try await server.run { bound in
                    FileHandle.standardError.write(Data("earshot-collector: listening on \(scheme)://\(host):\(bound) (\(location))\n".utf8))
                }
            } catch {
                await store.close()
                throw fail("cannot serve on \(host):\(port): \(error)", .unavailable)
            }
            await store.close()
        }
    }

    /// `earshot-collector migrate`: bring the schema up to date (serve does it too).
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or update the collector's tables; prints the versions applied.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            do {
                let location = try DatabaseLocation(database.location)
                let store: any CollectorStore = try await openCollectorStore(location)
                await store.close()
                print("earshot-collector: \(location) is at the current schema")
            } catch {
                throw fail(error.message, error.status == 2 ? .usage : .unavailable)
            }
        }
    }
}
