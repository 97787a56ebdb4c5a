import EarshotMonitoring
import Foundation
import Testing

/// The `/metrics` text follows Prometheus' exposition format: HELP and TYPE lines, sorted label sets, cumulative
/// histogram buckets ending in +Inf, escaped label values.
@Suite("prometheus text")
struct PrometheusTests {
    @Test func countersGaugesAndHistogramsRenderAsPrometheusExpects() {
        let registry = MetricsRegistry()
        registry.declare("requests_total", .counter, help: "Requests.")
        registry.declare("latency_seconds", .histogram, help: "Latency.", buckets: [0.1, 0.01, 1])
        registry.declare("circuit_open", .gauge, help: "Circuit state.")
        registry.increment("requests_total", ["status": "200", "route": "a\"b"])
        registry.increment("requests_total", ["status": "200", "route": "a\"b"], by: 2)
        registry.increment("undeclared_total")               // ignored: only declared metrics are kept
        for v in [0.005, 0.05, 0.5, 5] { registry.observe("latency_seconds", v) }
        registry.collect { [("circuit_open", [:], 1)] }
        let text = registry.render()
        #expect(text.contains("# HELP requests_total Requests.\n# TYPE requests_total counter\n"))
        #expect(text.contains(#"requests_total{route="a\"b",status="200"} 3"#))
        #expect(!text.contains("undeclared"))
        #expect(text.contains("latency_seconds_bucket{le=\"0.01\"} 1\nlatency_seconds_bucket{le=\"0.1\"} 2\nlatency_seconds_bucket{le=\"1\"} 3\nlatency_seconds_bucket{le=\"+Inf\"} 4\n"))
        #expect(text.contains("latency_seconds_sum 5.555\nlatency_seconds_count 4\n"))
        #expect(text.contains("# TYPE circuit_open gauge\ncircuit_open 1\n"))
    }
}
