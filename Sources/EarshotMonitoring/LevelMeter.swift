/// One reading of a live level meter.
public struct LevelReading: Sendable, Hashable, Codable {
    /// RMS over the window, dBFS.
    public var rmsDBFS: Double
    /// Peak over the window, dBFS.
    public var peakDBFS: Double
    /// Samples on the 16-bit rails in the window.
    public var clippedSamples: Int
    /// Samples in the window.
    public var samples: Int
}

/// A live meter over 16-bit mono samples: one reading per `windowSamples`, for the technician's mic check.
public struct LevelMeter: Sendable {
    public let windowSamples: Int
    private var squares = 0.0
    private var peak: Int32 = 0
    private var clipped = 0
    private var fill = 0

    public init(windowSamples: Int) {
        precondition(windowSamples > 0)
        self.windowSamples = windowSamples
    }

    /// Adds samples and calls `onReading` for every completed window.
    public mutating func add(_ samples: some Collection<Int16>, onReading: (LevelReading) -> Void) {
        for sample in samples {
            let value = Int32(sample)
            let magnitude = abs(value)
            if magnitude > peak { peak = magnitude }
            if magnitude >= 32_767 { clipped += 1 }
            squares += Double(value * value)
            fill += 1
            if fill == windowSamples { onReading(flush()!) }
        }
    }

    /// Ends the current window early; nil if it is empty.
    public mutating func flush() -> LevelReading? {
        guard fill > 0 else { return nil }
        let reading = LevelReading(rmsDBFS: Decibels.fromPower(squares / Double(fill) / (32_768.0 * 32_768.0)),
                                   peakDBFS: Decibels.fromAmplitude(Double(peak) / 32_768.0),
                                   clippedSamples: clipped, samples: fill)
        squares = 0; peak = 0; clipped = 0; fill = 0
        return reading
    }
}
