import ArgumentParser
import EarshotCollector
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

            With --window N instead of two files, the fleet's own records are compared: the latest N decisions \
            (of --device and/or --model, or the whole fleet) against the N before them, over the input, output and \
            software columns ingest keeps.
            """)
        @Option(help: "The reference CSV (training data, or an earlier window).") var reference: String?
        @Option(help: "The current CSV.") var current: String?
        @Option(help: "Compare the collector's latest N decisions with the N before them (instead of CSV files).") var window: Int?
        @Option(help: "Compare the collector's decisions of the last H hours with those of the H hours before (a time window; at most --max-rows each).")
        var hours: Double?
        @Option(help: "With --hours: the most decisions read per window.") var maxRows = 1_000_000
        @Option(help: "With --window: only this device's decisions.") var device: String?
        @Option(help: "With --window: only decisions answered by this model (name@version).") var model: String?
        @Option(help: "With --window: only devices tagged with this site (a cohort).") var site: String?
        @Option(help: "With --window: only devices tagged with this hardware (a cohort).") var hardware: String?
        @Option(help: ArgumentHelp("With --window: compare the latest N decisions with this bundle's training baseline (training–serving skew) instead of the N before.", valueName: "manifest"))
        var baseline: String?
        // (NAME@VERSION of a model pushed to the registry works too: its stored manifest is used.)
        @OptionGroup var database: DatabaseOptions
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
            switch (reference, current, window, hours) {
            case (.some, .some, nil, nil): break
            case (nil, nil, .some(let n), nil): guard n >= 2 else { throw ValidationError("--window must be at least 2.") }
            case (nil, nil, nil, .some(let h)): guard h > 0 else { throw ValidationError("--hours must be positive.") }
            default:
                throw ValidationError("Give one of: --reference and --current (two CSV files), --window N or --hours H (the collector's records).")
            }
            if baseline != nil && window == nil { throw ValidationError("--baseline goes with --window N (the latest N decisions).") }
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

        /// The columns to compare, from two CSV files or from the collector's latest windows.
        struct Inputs {
            var reference: [(String, DriftColumn)] = []
            var current: [String: DriftColumn] = [:]
            var missing: [String: (Int, Int)] = [:]
            var referenceRows = 0, currentRows = 0
            var referenceName = "", currentName = ""
        }

        func csvInputs() throws -> Inputs {
            guard let reference, let current else { preconditionFailure("validated") }
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
            var inputs = Inputs(referenceRows: ref.rowCount, currentRows: cur.rowCount, referenceName: reference, currentName: current)
            for name in names {
                let type = forcedNumeric.contains(name) ? "numeric" : forcedCategorical.contains(name) ? "categorical"
                    : (DriftTable.inferType(ref.columns[ref.header.firstIndex(of: name)!]) == "numeric"
                       && DriftTable.inferType(cur.columns[cur.header.firstIndex(of: name)!], categoricalLimit: .max) == "numeric" ? "numeric" : "categorical")
                do {
                    let (r, mr) = try ref.column(name, type: type), (c, mc) = try cur.column(name, type: type)
                    inputs.reference.append((name, r))
                    inputs.current[name] = c
                    inputs.missing[name] = (mr, mc)
                } catch { throw fail(error.description, .corruptInput) }
            }
            return inputs
        }

        /// The latest N decisions against a bundle's training baseline.
        func baselineInputs(_ size: Int, manifest: String) async throws -> Inputs {
            let reference: BaselineReference
            if !FileManager.default.fileExists(atPath: manifest), manifest.contains("@") {
                let stored = try await database.using { store throws(CollectorError) in try await store.registeredModel(manifest) }
                guard let text = stored?.manifest else { throw fail("\(manifest) is neither a file nor a model in the registry", .inputMissing) }
                do { reference = try BaselineReference(manifest: Data(text.utf8), source: "the registry's \(manifest)") } catch {
                    throw fail(error.message, .corruptInput)
                }
            } else {
                do { reference = try BaselineReference(manifestAt: manifest) } catch { throw fail(error.message, .corruptInput) }
            }
            let filter = WindowFilter(device: device, model: model ?? reference.model, site: site, hardware: hardware)
            let latest = try await database.using { store throws(CollectorError) in try await store.window(filter, limit: size) }
            var inputs = Inputs(referenceRows: reference.clips, currentRows: latest.count,
                                referenceName: "the training baseline of \(reference.model) (\(reference.clips) held-out clips)",
                                currentName: "the latest \(latest.count) decisions of \(model ?? reference.model)")
            inputs.reference = reference.reference
            inputs.current = reference.current(latest)
            for (name, _) in inputs.reference { inputs.missing[name] = (0, latest.count - (inputs.current[name]?.count ?? 0)) }
            return inputs
        }

        /// The last H hours of decisions against the H hours before.
        func timeInputs(_ hours: Double) async throws -> Inputs {
            let now = Date().timeIntervalSince1970, span = hours * 3_600
            let recentFilter = WindowFilter(device: device, model: model, site: site, hardware: hardware, since: now - span)
            var earlierFilter = recentFilter
            earlierFilter.since = now - 2 * span
            earlierFilter.until = now - span
            let rows = maxRows
            let (recent, earlier) = try await database.using { store throws(CollectorError) in
                (try await store.window(recentFilter, limit: rows), try await store.window(earlierFilter, limit: rows))
            }
            let scope = [device, model, site, hardware].compactMap { $0 }.joined(separator: ", ")
            var inputs = Inputs(referenceRows: earlier.count, currentRows: recent.count,
                                referenceName: "the \(Charts.hours(hours)) before (\(earlier.count) decisions\(scope.isEmpty ? "" : ", " + scope))",
                                currentName: "the last \(Charts.hours(hours)) (\(recent.count) decisions\(scope.isEmpty ? "" : ", " + scope))")
            // One window of both, split where the earlier one ends.
            var both = earlier
            both.append(recent)
            let (reference, current) = both.split(currentCount: recent.count, only: Set(Self.list(columns)))
            inputs.reference = reference
            inputs.current = current
            for (name, column) in reference { inputs.missing[name] = (earlier.count - column.count, recent.count - (current[name]?.count ?? 0)) }
            return inputs
        }

        /// The latest 2N decisions split in two: the older half is the reference, the newer the current window.
        func storeInputs(_ size: Int) async throws -> Inputs {
            let filter = WindowFilter(device: device, model: model, site: site, hardware: hardware)
            let both = try await database.using { store throws(CollectorError) in try await store.window(filter, limit: 2 * size) }
            let scope = [device.map { "device \($0)" }, model.map { "model \($0)" }, site.map { "site \($0)" }, hardware.map { "hardware \($0)" }]
                .compactMap { $0 }.joined(separator: ", ")
            let currentCount = min(size, both.count / 2), referenceCount = both.count - currentCount
            var inputs = Inputs(referenceRows: referenceCount, currentRows: currentCount,
                                referenceName: "the \(referenceCount) decisions before (\(scope.isEmpty ? "fleet" : scope))",
                                currentName: "the latest \(currentCount) decisions (\(scope.isEmpty ? "fleet" : scope))")
            let (reference, current) = both.split(currentCount: currentCount, only: Set(Self.list(columns)))
            inputs.reference = reference
            inputs.current = current
            for (name, column) in reference { inputs.missing[name] = (referenceCount - column.count, currentCount - (current[name]?.count ?? 0)) }
            return inputs
        }

        func run() async throws {
            let clock = ContinuousClock()
            let started = clock.now
            let inputs: Inputs
            if let window, let baseline { inputs = try await baselineInputs(window, manifest: baseline) }
            else if let window { inputs = try await storeInputs(window) }
            else if let hours { inputs = try await timeInputs(hours) } else { inputs = try csvInputs() }
            let referenceColumns = inputs.reference, currentColumns = inputs.current, missing = inputs.missing
            var policy = DriftPolicy()
            policy.alpha = alpha
            policy.minimumSamples = minSamples
            policy.minimumNumericEffect = minEffect
            policy.minimumCategoricalEffect = minCategoricalEffect
            let loaded = clock.now
            let results = DriftDetector(policy: policy).compare(reference: referenceColumns, current: currentColumns)
            if timing {
                let load = loaded - started, compare = clock.now - loaded
                FileHandle.standardError.write(Data("earshot-collector drift: loading \(load), comparing \(compare) (\(inputs.referenceRows) + \(inputs.currentRows) rows, \(results.count) columns)\n".utf8))
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
                    "reference": inputs.referenceName, "current": inputs.currentName, "reference_rows": inputs.referenceRows, "current_rows": inputs.currentRows,
                    "alpha": alpha, "correction": "holm", "drifted": !drifted.isEmpty, "drifted_columns": drifted,
                    "column_order": results.map(\.column), "columns": columns,
                ]
                let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("reference \(inputs.referenceName): \(inputs.referenceRows) rows; current \(inputs.currentName): \(inputs.currentRows) rows; α = \(alpha) (Holm)")
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
