import ArgumentParser
import EarshotCollector
import Foundation

extension Collector {
    /// `earshot-collector serve`: the ingest endpoint of docs/SYNC.md.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the ingest API (POST /v1/ingest, GET /healthz, GET /metrics) until SIGINT or SIGTERM.",
            discussion: "Says \"earshot-collector: listening on http://HOST:PORT (DATABASE)\" on stderr once the port is bound.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The address to listen on.") var host = "127.0.0.1"
        @Option(help: "The TCP port (0 picks a free one).") var port = 8090
        @Option(help: "Largest request body, in MiB.") var maxBodyMb = 8.0
        @Option(help: "Most records per batch.") var maxRecords = 1_000

        func validate() throws {
            guard (0...65_535).contains(port) else { throw ValidationError("--port must be 0–65535.") }
            guard maxBodyMb > 0, maxRecords > 0 else { throw ValidationError("--max-body-mb and --max-records must be positive.") }
        }

        func run() async throws {
            let store = try await database.open()
            var configuration = CollectorConfiguration()
            configuration.host = host
            configuration.port = port
            configuration.limits.maximumBodyBytes = Int(maxBodyMb * 1_048_576)
            configuration.limits.maximumRecords = maxRecords
            let server = CollectorServer(store: store, configuration: configuration)
            let location = database.location.replacingOccurrences(of: #"://([^:@/]+):[^@/]*@"#, with: "://$1:***@", options: .regularExpression)
            do {
                try await server.run { bound in
                    FileHandle.standardError.write(Data("earshot-collector: listening on http://\(host):\(bound) (\(location))\n".utf8))
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
