import ArgumentParser
import EarshotCollector
import Foundation

/// The fleet's side: ingest of device logs, device tokens, drift.
@main
struct Collector: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "earshot-collector",
        abstract: "Earshot's central collector: authenticated ingest of device logs, storage, drift.",
        discussion: """
        The database is sqlite:PATH (one file, the default: sqlite:/var/lib/earshot/collector.db) or \
        postgres://USER:PASSWORD@HOST:PORT/DATABASE, given with --db or $EARSHOT_COLLECTOR_DB. \
        Exit codes: 0 success, 1 drift found (drift --fail-on-drift only), 64 bad usage, \
        65 corrupt input, 66 input missing, 69 database unavailable, 70 internal error.
        """,
        version: "0.1.0",
        subcommands: [Serve.self, Migrate.self, Devices.self, Models.self, Rollout.self, Drift.self, Alarms.self, Export.self]
    )
}

/// Exit codes (sysexits.h). Scripts rely on these numbers: never renumber them.
enum CollectorExit: Int32 {
    case drifted = 1
    case usage = 64
    case corruptInput = 65
    case inputMissing = 66
    case unavailable = 69
    case software = 70
}

/// Prints a message for people on stderr and exits with `status`.
func fail(_ message: String, _ status: CollectorExit) -> ExitCode {
    FileHandle.standardError.write(Data("earshot-collector: \(message)\n".utf8))
    return ExitCode(status.rawValue)
}

/// The `--db` option every command that touches storage takes.
struct DatabaseOptions: ParsableArguments {
    @Option(help: ArgumentHelp("sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE (default: $EARSHOT_COLLECTOR_DB, else sqlite:/var/lib/earshot/collector.db).",
                               valueName: "url"))
    var db: String?

    var location: String { db ?? ProcessInfo.processInfo.environment["EARSHOT_COLLECTOR_DB"] ?? "sqlite:/var/lib/earshot/collector.db" }

    /// Opens the store, runs `body` with it and closes it; a storage failure exits with a message and `status` (69 by
    /// default, "database unavailable").
    func using<T: Sendable>(status: (CollectorError) -> CollectorExit = { _ in .unavailable },
                            _ body: (any CollectorStore) async throws(CollectorError) -> T) async throws -> T {
        let store = try await open()
        do throws(CollectorError) {
            let value = try await body(store)
            await store.close()
            return value
        } catch {
            await store.close()
            throw fail(error.message, status(error))
        }
    }

    /// Opens and migrates the store, or exits with a clear message.
    func open() async throws -> any CollectorStore {
        do {
            let parsed = try DatabaseLocation(location)
            return try await openCollectorStore(parsed)
        } catch {
            throw fail(error.message, error.status == 2 ? .usage : .unavailable)
        }
    }
}
