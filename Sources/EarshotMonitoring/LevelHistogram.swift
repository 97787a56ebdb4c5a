/// A fixed-size histogram of levels in dB, for streaming percentiles in bounded memory.
///
/// Bins are `resolution` dB wide from `Decibels.floor` to +10 dB; values outside are clamped into the end bins.
public struct LevelHistogram: Sendable, Hashable, Codable {
    public static let resolution = 0.25
    static let top = 10.0
    public private(set) var counts: [UInt64]
    public private(set) var total: UInt64 = 0

    public init() {
        counts = [UInt64](repeating: 0, count: Int((Self.top - Decibels.floor) / Self.resolution) + 1)
    }

    /// Counts one level.
    public mutating func add(_ decibels: Double) {
        let clamped = min(Self.top, max(Decibels.floor, decibels.isNaN ? Decibels.floor : decibels))
        counts[Int(((clamped - Decibels.floor) / Self.resolution).rounded(.down)).clamped(to: 0...(counts.count - 1))] += 1
        total += 1
    }

    /// The level below which `fraction` (0…1) of the counted levels lie: the centre of that bin; nil when empty.
    public func percentile(_ fraction: Double) -> Double? {
        guard total > 0 else { return nil }
        let target = max(1, UInt64((Double(total) * min(1, max(0, fraction))).rounded(.up)))
        var running: UInt64 = 0
        for (index, count) in counts.enumerated() {
            running += count
            if running >= target { return Decibels.floor + (Double(index) + 0.5) * Self.resolution }
        }
        return Self.top
    }
}

extension Comparable {
    func clamped(to range: ClosedRange<Self>) -> Self { min(range.upperBound, max(range.lowerBound, self)) }
}
