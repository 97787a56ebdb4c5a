import ArgumentParser
import EarshotMonitoring
import Foundation

extension Collector {
    /// `earshot-collector drift`: the collector's drift engine on two CSV files.
    struct Drift: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two CSV files column by column with the collector's drift engine.",
            discussion: """
            Column types are inferred (numeric when every value is a number and there are more than 10 distinct \
            values or any fraction; otherwise categorical) and can be forced with --numeric and --categorical. \
            Empty, NA, NaN and null are missing values. A column drifts when its test (KS for numbers, chi-square \
            for categories) is significant after Holm's correction over the columns compared AND its effect size \
            (Wasserstein in reference standard deviations, or Jensen–Shannon distance) passes both a practical minimum \
            and the band no-drift windows of this size reach (bootstrapped from the reference). docs/DRIFT.md has the \
            definitions. With --json, one JSON object on stdout; each column has its statistics by name and "drifted".
            """)
        @Option(help: "The reference CSV (training data, or an earlier window).") var reference: String
        @Option(help: "The current CSV.") var current: String
        @Flag(help: "Print one JSON object.") var json = false
        @Option(help: ArgumentHelp("Columns to treat as numeric (comma-separated).", valueName: "names")) var numeric: String?
        @Option(help: ArgumentHelp("Columns to treat as categorical (comma-separated).", valueName: "names")) var categorical: String?
        @Option(help: ArgumentHelp("Only these columns (comma-separated; default: every column in both files).", valueName: "names")) var columns: String?
        @Option(help: "Family-wise false-alarm rate over the columns.") var alpha = DriftPolicy().alpha
        @Option(help: "Fewest rows for a decision.") var minSamples = DriftPolicy().minimumSamples
        @Option(help: "Smallest numeric shift worth an alarm, in reference standard deviations.") var minEffect = DriftPolicy().minimumNumericEffect
        @Option(help: "Smallest categorical change worth an alarm (Jensen–Shannon distance).") var minCategoricalEffect = DriftPolicy().minimumCategoricalEffect
        @Flag(help: "Exit 1 when any column drifted.") var failOnDrift = false
        @Flag(help: "Say on stderr how long loading and comparing took.") var timing = false

        func validate() throws {
            guard alpha > 0 && alpha < 1 else { throw ValidationError("--alpha must be between 0 and 1.") }
            guard minSamples >= 2 else { throw ValidationError("--min-samples must be at least 2.") }
        }

        static func list(_ text: String?) -> [String] {
            (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }

        func load(_ path: String) throws -> DriftTable {
            guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read \(path)", .inputMissing) }
            guard let text = String(data: data, encoding: .utf8) else { throw fail("\(path) is not UTF-8 text", .corruptInput) }
            do { return try DriftTable(csv: text, name: path) } catch { throw fail(error.description, .corruptInput) }
        }

        func run() async throws {
            let clock = ContinuousClock()
            let started = clock.now
            let ref = try load(reference), cur = try load(current)
            let forcedNumeric = Set(Self.list(numeric)), forcedCategorical = Set(Self.list(categorical))
            if let both = forcedNumeric.intersection(forcedCategorical).first { throw fail("column \(both) cannot be both numeric and categorical", .usage) }
            var names = ref.header.filter { cur.header.contains($0) }
            if columns != nil {
                let wanted = Self.list(columns)
                if let missing = wanted.first(where: { !names.contains($0) }) { throw fail("column \(missing) is not in both files", .usage) }
                names = wanted
            }
            for name in forcedNumeric.union(forcedCategorical) where !names.contains(name) {
                throw fail("column \(name) is not in both files", .usage)
            }
            guard !names.isEmpty else { throw fail("the two files share no column", .usage) }
            var referenceColumns: [(String, DriftColumn)] = [], currentColumns: [String: DriftColumn] = [:]
            var missing: [String: (Int, Int)] = [:]
            for name in names {
                let type = forcedNumeric.contains(name) ? "numeric" : forcedCategorical.contains(name) ? "categorical"
                    : (DriftTable.inferType(ref.columns[ref.header.firstIndex(of: name)!]) == "numeric"
                       && DriftTable.inferType(cur.columns[cur.header.firstIndex(of: name)!], categoricalLimit: .max) == "numeric" ? "numeric" : "categorical")
                do {
                    let (r, mr) = try ref.column(name, type: type), (c, mc) = try cur.column(name, type: type)
                    referenceColumns.append((name, r))
                    currentColumns[name] = c
                    missing[name] = (mr, mc)
                } catch { throw fail(error.description, .corruptInput) }
            }
            var policy = DriftPolicy()
            policy.alpha = alpha
            policy.minimumSamples = minSamples
            policy.minimumNumericEffect = minEffect
            policy.minimumCategoricalEffect = minCategoricalEffect
            let loaded = clock.now
            let results = DriftDetector(policy: policy).compare(reference: referenceColumns, current: currentColumns)
            if timing {
                let load = loaded - started, compare = clock.now - loaded
                FileHandle.standardError.write(Data("earshot-collector drift: loading \(load), comparing \(compare) (\(ref.rowCount) + \(cur.rowCount) rows, \(results.count) columns)\n".utf8))
            }
            let drifted = results.filter(\.drifted).map(\.column)
            if json {
                var columns: [String: Any] = [:]
                for r in results {
                    var entry: [String: Any] = r.statistics.mapValues { Self.jsonNumber($0) }
                    entry["type"] = r.type
                    entry["drifted"] = r.drifted
                    entry["decided"] = r.decided
                    entry["reason"] = r.reason
                    entry["reference_n"] = r.referenceCount
                    entry["current_n"] = r.currentCount
                    entry["reference_missing"] = missing[r.column]?.0 ?? 0
                    entry["current_missing"] = missing[r.column]?.1 ?? 0
                    entry["p_value"] = r.pValue.map { Self.jsonNumber($0) } ?? NSNull()
                    entry["p_value_adjusted"] = r.adjustedPValue.map { Self.jsonNumber($0) } ?? NSNull()
                    entry["effect"] = r.effect
                    entry["effect_value"] = Self.jsonNumber(r.effectValue)
                    entry["effect_threshold"] = Self.jsonNumber(r.effectThreshold)
                    columns[r.column] = entry
                }
                let report: [String: Any] = [
                    "reference": reference, "current": current, "reference_rows": ref.rowCount, "current_rows": cur.rowCount,
                    "alpha": alpha, "correction": "holm", "drifted": !drifted.isEmpty, "drifted_columns": drifted,
                    "column_order": results.map(\.column), "columns": columns,
                ]
                let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("reference \(reference): \(ref.rowCount) rows; current \(current): \(cur.rowCount) rows; α = \(alpha) (Holm)")
                for r in results {
                    print("\(r.drifted ? "DRIFT" : "  ok ") \(r.column) (\(r.type)): \(r.reason)")
                }
                print(drifted.isEmpty ? "no column drifted" : "drifted: \(drifted.joined(separator: ", "))")
            }
            if failOnDrift && !drifted.isEmpty { throw ExitCode(CollectorExit.drifted.rawValue) }
        }

        /// JSON has no infinities or NaN: those become null.
        static func jsonNumber(_ value: Double) -> Any { value.isFinite ? value : NSNull() }
    }
}
