@testable import EarshotMonitoring
import Foundation
import Testing

/// The drift statistics agree with scipy on committed vectors (scripts/oracles/drift_vectors.py), and the detector's
/// decisions have the false-alarm rate and power the collector promises.
@Suite("drift statistics")
struct DriftStatisticsTests {
    struct Vectors: Decodable {
        struct Numeric: Decodable {
            var name: String, reference: [Double], current: [Double]
            var ks_statistic: Double, ks_pvalue: Double, wasserstein: Double, std_reference: Double, psi: Double, jensenshannon: Double
        }
        struct Categorical: Decodable {
            var name: String, reference: [Int], current: [Int]
            var chi2_statistic: Double, chi2_pvalue: Double, chi2_dof: Int, jensenshannon: Double, psi: Double
        }
        struct ChiSF: Decodable { var x: Double, dof: Int, sf: Double }
        var numeric: [Numeric], categorical: [Categorical], chi2_sf: [ChiSF]
    }

    static let vectors: Vectors = {
        let url = Bundle.module.url(forResource: "Vectors/drift_vectors.json", withExtension: nil)!
        return try! JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))
    }()

    static func close(_ a: Double, _ b: Double, relative: Double, absolute: Double = 1e-300) -> Bool {
        abs(a - b) <= max(absolute, relative * max(abs(a), abs(b)))
    }

    @Test(arguments: vectors.numeric.map(\.name))
    func numericStatisticsMatchScipy(_ name: String) {
        let v = Self.vectors.numeric.first { $0.name == name }!
        let r = v.reference.sorted(), c = v.current.sorted()
        let ks = DriftStatistics.kolmogorovSmirnov(sorted: r, sorted: c)
        #expect(Self.close(ks.statistic, v.ks_statistic, relative: 1e-12), "D \(ks.statistic) vs scipy \(v.ks_statistic)")
        // Exact p-values to 1e-9 relative; the asymptotic form (either sample over 10 000) within 2 % relative.
        #expect(Self.close(ks.pValue, v.ks_pvalue, relative: ks.exact ? 1e-9 : 2e-2, absolute: 1e-15),
                "p \(ks.pValue) vs scipy \(v.ks_pvalue) (exact: \(ks.exact))")
        #expect(Self.close(DriftStatistics.wasserstein(sorted: r, sorted: c), v.wasserstein, relative: 1e-9))
        #expect(Self.close(DriftDetector.standardDeviation(r), v.std_reference, relative: 1e-9))
        let edges = DriftStatistics.decileEdges(sorted: r)
        let pr = DriftStatistics.proportions(sorted: r, edges: edges), pc = DriftStatistics.proportions(sorted: c, edges: edges)
        #expect(Self.close(DriftStatistics.psi(reference: pr, current: pc), v.psi, relative: 1e-9, absolute: 1e-15))
        #expect(Self.close(DriftStatistics.jensenShannon(pr, pc), v.jensenshannon, relative: 1e-9, absolute: 1e-12))
    }

    @Test(arguments: vectors.categorical.map(\.name))
    func categoricalStatisticsMatchScipy(_ name: String) {
        let v = Self.vectors.categorical.first { $0.name == name }!
        let chi = DriftStatistics.chiSquare(reference: v.reference, current: v.current)
        #expect(chi.degrees == v.chi2_dof)
        #expect(Self.close(chi.statistic, v.chi2_statistic, relative: 1e-12, absolute: 1e-12))
        #expect(Self.close(chi.pValue, v.chi2_pvalue, relative: 1e-10, absolute: 1e-15), "p \(chi.pValue) vs \(v.chi2_pvalue)")
        let pr = v.reference.map { Double($0) / Double(v.reference.reduce(0, +)) }
        let pc = v.current.map { Double($0) / Double(v.current.reduce(0, +)) }
        #expect(Self.close(DriftStatistics.jensenShannon(pr, pc), v.jensenshannon, relative: 1e-9, absolute: 1e-12))
        #expect(Self.close(DriftStatistics.psi(reference: pr, current: pc), v.psi, relative: 1e-9, absolute: 1e-15))
    }

    @Test func chiSquareSurvivalMatchesScipy() {
        for v in Self.vectors.chi2_sf {
            let sf = SpecialFunctions.chiSquareSurvival(v.x, degrees: v.dof)
            #expect(Self.close(sf, v.sf, relative: 1e-11), "chi2.sf(\(v.x), \(v.dof)) = \(sf), scipy \(v.sf)")
        }
    }

    @Test func csvTablesParseQuotesAndInferTypes() throws {
        let table = try DriftTable(csv: "rms,label,note\r\n-30.5,yes,\"a, b\"\n-31,no,\"say \"\"hi\"\"\"\n,NA,x\n")
        #expect(table.rowCount == 3)
        #expect(table.columns[2] == ["a, b", "say \"hi\"", "x"])
        #expect(DriftTable.inferType(table.columns[0]) == "numeric")
        #expect(DriftTable.inferType(table.columns[1]) == "categorical")
        #expect(DriftTable.inferType(["1", "2", "1", "3"]) == "categorical")        // few distinct integers: codes
        let (column, missing) = try table.column("rms", type: "numeric")
        #expect(missing == 1 && column.count == 2)
        #expect(throws: DriftTable.ParseError.self) { try DriftTable(csv: "a,b\n1\n") }
        #expect(throws: DriftTable.ParseError.self) { try DriftTable(csv: "a,a\n1,2\n") }
        #expect(throws: DriftTable.ParseError.self) { try DriftTable(csv: "a\n\"open\n") }
        #expect(throws: DriftTable.ParseError.self) { try table.column("label", type: "numeric") }
    }
}

/// The detector's promises, measured by simulation with a fixed seed: at most 5 % of no-drift comparisons raise any
/// alarm at 50, 200 and 1000 rows (where fixed thresholds fire most of the time), and a 1 dB loudness shift is found
/// at 5000 rows at least 95 % of the time.
@Suite("drift decisions")
struct DriftDecisionTests {
    struct Normal {
        var generator: SplitMix
        mutating func next(_ mean: Double, _ sd: Double) -> Double {
            let u1 = Double(generator.next() >> 11 + 1) / 9007199254740993.0
            let u2 = Double(generator.next() >> 11) / 9007199254740992.0
            return mean + sd * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        }
    }

    /// One synthetic window of utterance records: loudness, SNR, confidence, label.
    static func window(_ rows: Int, _ normal: inout Normal, loudnessShift: Double = 0) -> [String: DriftColumn] {
        var rms: [Double] = [], snr: [Double] = [], confidence: [Double] = [], label: [String] = []
        let labels = ["yes", "no", "stop", "go", "unknown", "silence"]
        for _ in 0..<rows {
            rms.append(normal.next(-32 + loudnessShift, 5))
            snr.append(normal.next(18, 6))
            confidence.append(1 / (1 + exp(-normal.next(2, 1.5))))
            label.append(labels[Int(normal.generator.next() % UInt64(labels.count))])
        }
        return ["rms_dbfs": .numeric(rms), "snr_db": .numeric(snr), "confidence": .numeric(confidence), "label": .categorical(label)]
    }

    static func ordered(_ w: [String: DriftColumn]) -> [(String, DriftColumn)] { w.keys.sorted().map { ($0, w[$0]!) } }

    @Test(arguments: [50, 200, 1000])
    func noDriftRarelyAlarms(_ rows: Int) {
        var normal = Normal(generator: SplitMix(seed: UInt64(rows) * 7919))
        var policy = DriftPolicy()
        policy.bootstrapRounds = 100
        let detector = DriftDetector(policy: policy)
        let trials = 200
        var alarms = 0, wassersteinFixed = 0, psiFixed = 0
        for _ in 0..<trials {
            let reference = Self.window(rows, &normal), current = Self.window(rows, &normal)
            let results = detector.compare(reference: Self.ordered(reference), current: current)
            if results.contains(where: \.drifted) { alarms += 1 }
            let rms = results.first { $0.column == "rms_dbfs" }!
            if rms.statistics["wasserstein_normed"]! >= 0.1 { wassersteinFixed += 1 }
            if rms.statistics["psi"]! >= 0.1 { psiFixed += 1 }
        }
        // Any column alarming counts: the rate is per comparison, not per column.
        #expect(alarms <= trials * 5 / 100, "\(alarms) of \(trials) no-drift comparisons at \(rows) rows alarmed")
        if rows == 50 {
            // The fixed thresholds the issue quotes really do fire here; the detector does not.
            #expect(wassersteinFixed > trials * 8 / 10 && psiFixed > trials * 8 / 10,
                    "fixed thresholds: Wasserstein ≥ 0.1 fired \(wassersteinFixed), PSI ≥ 0.1 fired \(psiFixed) of \(trials)")
        }
    }

    @Test func aOneDecibelShiftIsFoundAt5000Rows() {
        var normal = Normal(generator: SplitMix(seed: 1))
        var policy = DriftPolicy()
        policy.bootstrapRounds = 50
        let detector = DriftDetector(policy: policy)
        let trials = 20
        var found = 0, otherColumns = 0
        for _ in 0..<trials {
            let reference = Self.window(5_000, &normal), current = Self.window(5_000, &normal, loudnessShift: 1)
            let results = detector.compare(reference: Self.ordered(reference), current: current)
            if results.first(where: { $0.column == "rms_dbfs" })!.drifted { found += 1 }
            otherColumns += results.filter { $0.column != "rms_dbfs" && $0.drifted }.count
        }
        #expect(found * 100 >= trials * 95, "the 1 dB shift was found in \(found) of \(trials)")
        #expect(otherColumns <= 1, "unshifted columns alarmed \(otherColumns) times")
    }

    @Test func smallWindowsGetNoDecisionAndSayWhy() {
        var normal = Normal(generator: SplitMix(seed: 3))
        let reference = DriftDecisionTests.window(100, &normal), current = DriftDecisionTests.window(12, &normal, loudnessShift: 20)
        let results = DriftDetector().compare(reference: Self.ordered(reference), current: current)
        #expect(results.allSatisfy { !$0.decided && !$0.drifted })
        #expect(results[0].reason.contains("too few rows"))
    }
}
