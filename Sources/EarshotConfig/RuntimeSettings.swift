import Foundation
import Yams

/// Everything `earshot run` can be told, each setting optional so that layers can be stacked: built-in defaults, then
/// the config file, then `EARSHOT_*` environment variables, then flags; the last layer that sets a value wins.
public struct RuntimeSettings: Sendable, Codable, Equatable {
    public var device: String?
    public var alsaConfig: String?
    public var lossless: Bool?
    public var store: String?
    public var model: String?
    public var grammar: String?
    public var vad: String?
    public var trustedKeys: [String]?
    public var automation: String?
    public var acceptAt: Double?
    public var confirmAt: Double?
    public var queue: Int?
    public var cloudURL: String?
    public var policy: String?
    public var cloudModel: String?
    public var cloudFormat: String?
    public var cloudLanguage: String?
    public var cloudToken: String?
    public var cloudTimeoutMs: Double?
    public var budgetMs: Double?
    public var askBelow: Double?
    public var askSample: Double?
    public var cloudConfidence: Double?
    public var breakerFailures: Int?
    public var breakerBackoff: Double?
    public var metricsPort: Int?
    public var metricsHost: String?
    public var socket: String?
    public var webhook: String?
    public var webhookToken: String?
    public var spool: String?
    public var keepAudio: Double?
    public var keepAudioMB: Double?
    public var keepAudioDays: Double?

    public init() {}

    /// This layer with `top` over it: every setting `top` has wins.
    public func overlaid(by top: RuntimeSettings) -> RuntimeSettings {
        var merged = self
        for entry in Self.schema { entry.overlay(&merged, top) }
        return merged
    }

    /// What is wrong with these values, whatever layer they came from (names are the config file's keys).
    public func problems() -> [String] {
        Self.schema.compactMap { entry in entry.check(self).map { "\(entry.key): \($0)" } }
    }

    /// The settings from `EARSHOT_*` variables (see `schema` for the names); malformed values are reported by name.
    public static func fromEnvironment(_ environment: [String: String]) -> (RuntimeSettings, [String]) {
        var settings = RuntimeSettings()
        var problems: [String] = []
        for entry in schema {
            guard let text = environment[entry.environment], !text.isEmpty else { continue }
            if let problem = entry.parse(text, &settings) { problems.append("\(entry.environment): \(problem)") }
        }
        return (settings, problems)
    }

    /// One setting: its key in the config file (section.name), its environment variable, how to read it and check it.
    struct Entry: @unchecked Sendable {
        var key: String
        var environment: String
        var parse: (String, inout RuntimeSettings) -> String?
        var overlay: (inout RuntimeSettings, RuntimeSettings) -> Void
        var check: (RuntimeSettings) -> String?
        var isList = false
    }

    static func text(_ key: String, _ env: String, _ path: WritableKeyPath<RuntimeSettings, String?>, allowed: [String]? = nil,
                     check: ((String) -> String?)? = nil) -> Entry {
        Entry(key: key, environment: env,
              parse: { value, s in s[keyPath: path] = value; return nil },
              overlay: { s, top in if let v = top[keyPath: path] { s[keyPath: path] = v } },
              check: { s in
                  guard let v = s[keyPath: path] else { return nil }
                  if let allowed, !allowed.contains(v) { return "\"\(v)\" is not one of \(allowed.joined(separator: ", "))" }
                  return check?(v)
              })
    }

    static func number(_ key: String, _ env: String, _ path: WritableKeyPath<RuntimeSettings, Double?>, _ range: ClosedRange<Double>) -> Entry {
        Entry(key: key, environment: env,
              parse: { value, s in
                  guard let v = Double(value.trimmingCharacters(in: .whitespaces)), v.isFinite else { return "\"\(value)\" is not a number" }
                  s[keyPath: path] = v; return nil
              },
              overlay: { s, top in if let v = top[keyPath: path] { s[keyPath: path] = v } },
              check: { s in s[keyPath: path].flatMap { range.contains($0) ? nil : "\($0) is outside \(range.lowerBound)…\(range.upperBound)" } })
    }

    static func integer(_ key: String, _ env: String, _ path: WritableKeyPath<RuntimeSettings, Int?>, _ range: ClosedRange<Int>) -> Entry {
        Entry(key: key, environment: env,
              parse: { value, s in
                  guard let v = Int(value.trimmingCharacters(in: .whitespaces)) else { return "\"\(value)\" is not a whole number" }
                  s[keyPath: path] = v; return nil
              },
              overlay: { s, top in if let v = top[keyPath: path] { s[keyPath: path] = v } },
              check: { s in s[keyPath: path].flatMap { range.contains($0) ? nil : "\($0) is outside \(range.lowerBound)…\(range.upperBound)" } })
    }

    static func flag(_ key: String, _ env: String, _ path: WritableKeyPath<RuntimeSettings, Bool?>) -> Entry {
        Entry(key: key, environment: env,
              parse: { value, s in
                  switch value.lowercased() {
                  case "true", "yes", "on", "1": s[keyPath: path] = true; return nil
                  case "false", "no", "off", "0": s[keyPath: path] = false; return nil
                  default: return "\"\(value)\" is not true or false"
                  }
              },
              overlay: { s, top in if let v = top[keyPath: path] { s[keyPath: path] = v } },
              check: { _ in nil })
    }

    static let urlCheck: @Sendable (String) -> String? = { v in
        guard let url = URL(string: v), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else { return "\"\(v)\" is not an http(s) URL" }
        return nil
    }

    /// The settings, their file keys and environment variables.
    static let schema: [Entry] = [
        text("input.device", "EARSHOT_DEVICE", \.device),
        text("input.alsa_config", "EARSHOT_ALSA_CONFIG", \.alsaConfig),
        flag("input.lossless", "EARSHOT_LOSSLESS", \.lossless),
        text("models.store", "EARSHOT_STORE", \.store),
        text("models.bundle", "EARSHOT_MODEL", \.model),
        text("models.grammar", "EARSHOT_GRAMMAR", \.grammar),
        text("models.vad", "EARSHOT_VAD", \.vad),
        Entry(key: "models.trusted_keys", environment: "EARSHOT_TRUSTED_KEYS",
              parse: { value, s in s.trustedKeys = value.split(separator: ":").map(String.init); return nil },
              overlay: { s, top in if let v = top.trustedKeys { s.trustedKeys = v } },
              check: { _ in nil }, isList: true),
        text("automation.level", "EARSHOT_AUTOMATION", \.automation, allowed: ["human-only", "shadow", "assist", "partial", "full"]),
        number("automation.accept_at", "EARSHOT_ACCEPT_AT", \.acceptAt, 0...1),
        number("automation.confirm_at", "EARSHOT_CONFIRM_AT", \.confirmAt, 0...1),
        integer("pipeline.queue", "EARSHOT_QUEUE", \.queue, 1...1_000),
        text("cloud.url", "EARSHOT_CLOUD_URL", \.cloudURL, check: urlCheck),
        text("cloud.policy", "EARSHOT_POLICY", \.policy, allowed: ["local-first", "cloud-first", "local-only"]),
        text("cloud.model", "EARSHOT_CLOUD_MODEL", \.cloudModel),
        text("cloud.format", "EARSHOT_CLOUD_FORMAT", \.cloudFormat, allowed: ["verbose_json", "json", "text"]),
        text("cloud.language", "EARSHOT_CLOUD_LANGUAGE", \.cloudLanguage),
        text("cloud.token", "EARSHOT_CLOUD_TOKEN", \.cloudToken),
        number("cloud.timeout_ms", "EARSHOT_CLOUD_TIMEOUT_MS", \.cloudTimeoutMs, 1...600_000),
        number("cloud.budget_ms", "EARSHOT_BUDGET_MS", \.budgetMs, 1...600_000),
        number("cloud.ask_below", "EARSHOT_ASK_BELOW", \.askBelow, 0...1),
        number("cloud.ask_sample", "EARSHOT_ASK_SAMPLE", \.askSample, 0...1),
        number("cloud.assumed_confidence", "EARSHOT_CLOUD_CONFIDENCE", \.cloudConfidence, 0...1),
        integer("cloud.breaker_failures", "EARSHOT_BREAKER_FAILURES", \.breakerFailures, 1...1_000),
        number("cloud.breaker_backoff_s", "EARSHOT_BREAKER_BACKOFF", \.breakerBackoff, 0.001...3_600),
        integer("metrics.port", "EARSHOT_METRICS_PORT", \.metricsPort, 0...65_535),
        text("metrics.host", "EARSHOT_METRICS_HOST", \.metricsHost),
        text("sinks.socket", "EARSHOT_SOCKET", \.socket),
        text("sinks.webhook", "EARSHOT_WEBHOOK", \.webhook, check: urlCheck),
        text("sinks.webhook_token", "EARSHOT_WEBHOOK_TOKEN", \.webhookToken),
        text("spool.directory", "EARSHOT_SPOOL", \.spool),
        number("spool.keep_audio", "EARSHOT_KEEP_AUDIO", \.keepAudio, 0...1),
        number("spool.keep_audio_mb", "EARSHOT_KEEP_AUDIO_MB", \.keepAudioMB, 1...1_000_000),
        number("spool.keep_audio_days", "EARSHOT_KEEP_AUDIO_DAYS", \.keepAudioDays, 0.001...3_650),
    ]

    /// Every config-file key, for error messages and docs.
    public static var keys: [String] { schema.map(\.key) }
    /// Every environment variable read.
    public static var environmentNames: [String] { schema.map(\.environment) }
}

/// A problem in a config file, with where it is.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String
    public var description: String { "line \(line), column \(column): \(message)" }
}

/// The config file could not be used; every problem found is listed, each with its line.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var problems: [ConfigProblem]
    /// The file could not be read at all (missing, unreadable).
    public var unreadable = false
    public var description: String { problems.map { "\(path):\($0.line):\($0.column): \($0.message)" }.joined(separator: "\n") }
}

/// Reads the YAML config file: two levels, `section: { key: value }`, keys as in `RuntimeSettings.keys`.
public enum ConfigFile {
    public static func load(path: String) throws(ConfigError) -> RuntimeSettings {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(path: path, problems: [ConfigProblem(line: 0, column: 0, message: "cannot read the file (missing or not readable)")], unreadable: true)
        }
        guard let yaml = String(data: data, encoding: .utf8) else {
            throw ConfigError(path: path, problems: [ConfigProblem(line: 0, column: 0, message: "the file is not UTF-8 text")])
        }
        return try parse(yaml, path: path)
    }

    public static func parse(_ yaml: String, path: String = "config") throws(ConfigError) -> RuntimeSettings {
        let root: Node?
        do { root = try Yams.compose(yaml: yaml) } catch let error as YamlError {
            throw ConfigError(path: path, problems: [problem(from: error)])
        } catch {
            throw ConfigError(path: path, problems: [ConfigProblem(line: 0, column: 0, message: "\(error)")])
        }
        var settings = RuntimeSettings()
        guard let root else { return settings }     // an empty file sets nothing
        var problems: [ConfigProblem] = []
        func at(_ node: Node, _ message: String) { problems.append(ConfigProblem(line: node.mark?.line ?? 0, column: node.mark?.column ?? 0, message: message)) }
        guard case .mapping(let sections) = root else { at(root, "the file must be a mapping of sections (input, models, automation, pipeline, cloud, metrics)"); throw ConfigError(path: path, problems: problems) }
        let entries = Dictionary(uniqueKeysWithValues: RuntimeSettings.schema.map { ($0.key, $0) })
        let sectionNames = Set(RuntimeSettings.keys.map { String($0.split(separator: ".")[0]) })
        var seen = Set<String>()
        for (sectionNode, body) in sections {
            let section = sectionNode.string ?? ""
            guard sectionNames.contains(section) else {
                at(sectionNode, "unknown section \"\(section)\"\(suggestion(section, among: sectionNames))"); continue
            }
            guard case .mapping(let pairs) = body else { at(body, "section \(section) must be a mapping of keys"); continue }
            for (keyNode, valueNode) in pairs {
                let key = "\(section).\(keyNode.string ?? "")"
                guard let entry = entries[key] else {
                    let names = Set(RuntimeSettings.keys.filter { $0.hasPrefix(section + ".") }.map { String($0.dropFirst(section.count + 1)) })
                    at(keyNode, "unknown key \"\(key)\"\(suggestion(keyNode.string ?? "", among: names))"); continue
                }
                guard seen.insert(key).inserted else { at(keyNode, "\(key) is set twice"); continue }
                let text: String
                switch valueNode {
                case .scalar(let scalar): text = scalar.string
                case .sequence(let items) where entry.isList: text = items.compactMap(\.string).joined(separator: ":")
                default: at(valueNode, "\(key) must be a single value"); continue
                }
                if let problem = entry.parse(text, &settings) { at(valueNode, "\(key): \(problem)"); continue }
                var alone = RuntimeSettings()
                _ = entry.parse(text, &alone)
                if let problem = entry.check(alone) { at(valueNode, "\(key): \(problem)") }
            }
        }
        guard problems.isEmpty else { throw ConfigError(path: path, problems: problems) }
        return settings
    }

    static func problem(from error: YamlError) -> ConfigProblem {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ConfigProblem(line: mark.line, column: mark.column, message: "not valid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigProblem(line: context.mark.line, column: context.mark.column,
                                 message: "\(duplicates.map { "\"\($0)\"" }.joined(separator: ", ")) set twice in one section")
        default:
            return ConfigProblem(line: 0, column: 0, message: "not valid YAML: \(error)")
        }
    }

    /// " (did you mean X?)" for a near miss (edit distance ≤ 2), else "".
    static func suggestion(_ word: String, among names: Set<String>) -> String {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var row = Array(0...b.count)
            for (i, x) in a.enumerated() {
                var previous = row[0]; row[0] = i + 1
                for (j, y) in b.enumerated() {
                    let current = row[j + 1]
                    row[j + 1] = min(row[j + 1] + 1, row[j] + 1, previous + (x == y ? 0 : 1))
                    previous = current
                }
            }
            return row[b.count]
        }
        var best: (name: String, distance: Int)?
        for name in names.sorted() {
            let d = distance(Array(word), Array(name))
            if best == nil || d < best!.distance { best = (name, d) }
        }
        guard let best, best.distance <= 2 else { return "; known: " + names.sorted().joined(separator: ", ") }
        return " (did you mean \"\(best.name)\"?)"
    }
}
