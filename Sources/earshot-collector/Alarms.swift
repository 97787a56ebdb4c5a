import ArgumentParser
import EarshotCollector
import Foundation

/// Reads the collector's YAML config (`alarms:`), or exits with every problem listed.
func loadAlarmConfiguration(_ path: String) throws -> AlarmConfiguration {
    guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read \(path)", .inputMissing) }
    do { return try AlarmConfiguration(yaml: String(decoding: data, as: UTF8.self), name: path) } catch {
        throw fail(error.message, .corruptInput)
    }
}

extension Collector {
    /// `earshot-collector alarms`: the alarm log, and one evaluation on demand.
    struct Alarms: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the alarm log and held models, or evaluate the rules once.",
            subcommands: [List.self, Evaluate.self], defaultSubcommand: List.self)

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "The newest alarm state changes and the models held by alarms.")
            @OptionGroup var database: DatabaseOptions
            @Option(help: "How many log entries.") var limit = 50
            @Flag(help: "One JSON object: {\"log\": […], \"holds\": […]}.") var json = false

            func run() async throws {
                let (log, holds) = try await database.using { store throws(CollectorError) in
                    (try await store.alarmLog(limit: limit), try await store.holds())
                }
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys]
                    struct Report: Encodable { var log: [AlarmLogEntry]; var holds: [ModelHold] }
                    print(String(decoding: try encoder.encode(Report(log: log, holds: holds)), as: UTF8.self))
                    return
                }
                let time = ISO8601DateFormatter()
                for e in log {
                    print("\(time.string(from: Date(timeIntervalSince1970: e.at)))  \(e.state.uppercased().padding(toLength: 8, withPad: " ", startingAt: 0)) \(e.rule) [\(e.scope) \(e.subject)]  \(e.reason)\(e.attempts > 0 ? (e.delivered ? "  (delivered)" : "  (undelivered after \(e.attempts) attempts)") : "")")
                }
                if log.isEmpty { print("no alarm has changed state") }
                for h in holds { print("held: \(h.model) by \(h.rule) since \(time.string(from: Date(timeIntervalSince1970: h.since))): \(h.reason)") }
            }
        }

        struct Evaluate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Evaluate the config's alarm rules once (as serve does every interval); print the state changes.")
            @OptionGroup var database: DatabaseOptions
            @Option(help: "The collector's YAML config with an `alarms:` section.") var config: String
            @Flag(help: "JSON lines, one per change.") var json = false

            func run() async throws {
                let configuration = try loadAlarmConfiguration(config)
                let changes = try await database.using { store throws(CollectorError) in
                    try await AlarmEngine(store: store, configuration: configuration).evaluate()
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                for change in changes {
                    if json { print(String(decoding: try encoder.encode(change), as: UTF8.self)) } else {
                        print("\(change.state.uppercased()) \(change.rule) [\(change.scope) \(change.subject)]: \(change.reason)")
                    }
                }
                if !json && changes.isEmpty { print("no alarm changed state (\(configuration.rules.count) rules)") }
            }
        }
    }
}
