/// What an hour of records a device had to drop said, in sums (divide by `records` for means). The spool writes it
/// before dropping, sync carries it (docs/SYNC.md `rollups`), the collector stores it: one type for all three.
public struct HourlyRollup: Sendable, Codable, Equatable {
    /// Hours since the Unix epoch.
    public var hour: Int64
    public var kind: String
    public var records: Int64
    public var confidenceSum: Double
    public var nullResults: Int64
    public var latencyMsSum: Double
    public var rmsDBFSSum: Double

    public init(hour: Int64, kind: String, records: Int64, confidenceSum: Double, nullResults: Int64, latencyMsSum: Double, rmsDBFSSum: Double) {
        self.hour = hour; self.kind = kind; self.records = records; self.confidenceSum = confidenceSum
        self.nullResults = nullResults; self.latencyMsSum = latencyMsSum; self.rmsDBFSSum = rmsDBFSSum
    }
}
