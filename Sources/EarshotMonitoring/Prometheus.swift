import Foundation

/// Counters, gauges and histograms in Prometheus' text exposition format (version 0.0.4), for the `/metrics`
/// endpoints of `earshot serve` and `earshot run`. Thread-safe; metric and label names are fixed by the caller.
public final class MetricsRegistry: @unchecked Sendable {
    public enum Kind: String, Sendable { case counter, gauge, histogram }

    private struct Family {
        var kind: Kind
        var help: String
        var buckets: [Double]
        var series: [String: Series] = [:]     // keyed by the rendered label set
    }
    private struct Series {
        var value = 0.0
        var counts: [UInt64] = []
        var sum = 0.0
        var count: UInt64 = 0
    }

    private let lock = NSLock()
    private var families: [String: Family] = [:]
    private var order: [String] = []
    /// Gauges read at scrape time (CPU, RSS, circuit state).
    private var collectors: [@Sendable () -> [(String, [String: String], Double)]] = []

    public init() {}

    /// Latency buckets in seconds, from 1 ms to 10 s.
    public static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// Declares a metric; declaring it again keeps the first declaration.
    public func declare(_ name: String, _ kind: Kind, help: String, buckets: [Double] = MetricsRegistry.latencyBuckets) {
        lock.lock(); defer { lock.unlock() }
        guard families[name] == nil else { return }
        families[name] = Family(kind: kind, help: help, buckets: kind == .histogram ? buckets.sorted() : [])
        order.append(name)
    }

    /// Adds `value` to a counter (or a gauge).
    public func increment(_ name: String, _ labels: [String: String] = [:], by value: Double = 1) {
        update(name, labels) { $0.value += value }
    }

    public func set(_ name: String, _ labels: [String: String] = [:], to value: Double) {
        update(name, labels) { $0.value = value }
    }

    public func observe(_ name: String, _ value: Double, labels: [String: String] = [:]) {
        lock.lock(); defer { lock.unlock() }
        guard var family = families[name] else { return }
        let key = Self.render(labels)
        var series = family.series[key] ?? Series(counts: Array(repeating: 0, count: family.buckets.count))
        for (i, bound) in family.buckets.enumerated() where value <= bound { series.counts[i] += 1 }
        series.sum += value
        series.count += 1
        family.series[key] = series
        families[name] = family
    }

    /// Registers a function whose gauges are read at every scrape.
    public func collect(_ collector: @escaping @Sendable () -> [(String, [String: String], Double)]) {
        lock.lock(); collectors.append(collector); lock.unlock()
    }

    private func update(_ name: String, _ labels: [String: String], _ change: (inout Series) -> Void) {
        lock.lock(); defer { lock.unlock() }
        guard var family = families[name] else { return }
        let key = Self.render(labels)
        var series = family.series[key] ?? Series()
        change(&series)
        family.series[key] = series
        families[name] = family
    }

    /// The exposition text.
    public func render() -> String {
        lock.lock()
        let collectors = self.collectors
        lock.unlock()
        for collector in collectors { for (name, labels, value) in collector() { set(name, labels, to: value) } }
        lock.lock(); defer { lock.unlock() }
        var out = ""
        for name in order {
            guard let family = families[name] else { continue }
            out += "# HELP \(name) \(family.help)\n# TYPE \(name) \(family.kind.rawValue)\n"
            for key in family.series.keys.sorted() {
                let s = family.series[key]!
                switch family.kind {
                case .counter, .gauge:
                    out += "\(name)\(key.isEmpty ? "" : "{\(key)}") \(Self.number(s.value))\n"
                case .histogram:
                    let prefix = key.isEmpty ? "" : key + ","
                    for (bound, count) in zip(family.buckets, s.counts) {
                        out += "\(name)_bucket{\(prefix)le=\"\(Self.number(bound))\"} \(count)\n"
                    }
                    out += "\(name)_bucket{\(prefix)le=\"+Inf\"} \(s.count)\n"
                    out += "\(name)_sum\(key.isEmpty ? "" : "{\(key)}") \(Self.number(s.sum))\n"
                    out += "\(name)_count\(key.isEmpty ? "" : "{\(key)}") \(s.count)\n"
                }
            }
        }
        return out
    }

    static func render(_ labels: [String: String]) -> String {
        labels.keys.sorted().map { key in
            let value = labels[key]!.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n")
            return "\(key)=\"\(value)\""
        }.joined(separator: ",")
    }

    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }

    /// This process's CPU seconds, resident memory and start time, as Prometheus' standard process metrics.
    public func collectProcessMetrics() {
        declare("process_cpu_seconds_total", .counter, help: "User and system CPU time spent, in seconds.")
        declare("process_resident_memory_bytes", .gauge, help: "Resident memory size in bytes.")
        declare("process_start_time_seconds", .gauge, help: "Start time of the process since the Unix epoch, in seconds.")
        let start = Date().timeIntervalSince1970
        collect {
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            let cpu = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
            return [("process_cpu_seconds_total", [:], cpu), ("process_resident_memory_bytes", [:], Double(Self.residentBytes())),
                    ("process_start_time_seconds", [:], start.rounded())]
        }
    }

    /// Resident set size from /proc/self/statm (pages × page size); 0 where that file does not exist.
    public static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
