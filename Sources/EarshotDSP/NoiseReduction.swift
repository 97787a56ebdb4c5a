/// Spectral subtraction: a per-channel running noise estimate is subtracted from each channel, never below a floor.
///
/// Matches TFLM's `NoiseReductionApply` (and the signal library's spectral subtraction without clamping):
/// even and odd channels smooth at different rates; the estimate keeps `smoothingBits` extra fraction bits.
public final class NoiseReduction {
    /// Fractional bits of the smoothing coefficients (`kNoiseReductionBits`).
    public static let coefficientBits = 14
    public let channelCount: Int
    public let smoothingBits: UInt32
    /// Q14 smoothing for even-index channels.
    public let evenSmoothing: UInt32
    /// Q14 smoothing for odd-index channels.
    public let oddSmoothing: UInt32
    /// Q14 share of the signal always kept.
    public let minSignalRemaining: UInt32
    /// Per-channel noise estimate, scaled up by 2^smoothingBits. PCAN reads it.
    public let estimate: UnsafeMutablePointer<UInt32>

    /// Quantises the float settings as the TFLM C code does (multiply by 2^14, truncate).
    public init(channelCount: Int, smoothingBits: Int, evenSmoothing: Float, oddSmoothing: Float, minSignalRemaining: Float) {
        precondition(channelCount > 0 && (0...16).contains(smoothingBits))
        self.channelCount = channelCount
        self.smoothingBits = UInt32(smoothingBits)
        let scale = Float(1 << Self.coefficientBits)
        self.evenSmoothing = UInt32(evenSmoothing * scale)
        self.oddSmoothing = UInt32(oddSmoothing * scale)
        self.minSignalRemaining = UInt32(minSignalRemaining * scale)
        estimate = .allocate(capacity: channelCount)
        estimate.initialize(repeating: 0, count: channelCount)
    }

    deinit { estimate.deallocate() }

    /// Updates the estimate from `signal` and replaces `signal` with the noise-subtracted values, in place.
    public func apply(_ signal: UnsafeMutablePointer<UInt32>) {
        let one: UInt32 = 1 << UInt32(Self.coefficientBits)
        for i in 0..<channelCount {
            let smoothing = i & 1 == 0 ? evenSmoothing : oddSmoothing
            let scaledUp = signal[i] &<< smoothingBits
            // Q14 × (signal·2^s) + Q14 × estimate → Q14-scaled sum, >> 14
            var noise = UInt32(truncatingIfNeeded: (UInt64(scaledUp) &* UInt64(smoothing) &+ UInt64(estimate[i]) &* UInt64(one &- smoothing)) >> UInt64(Self.coefficientBits))
            estimate[i] = noise
            if noise > scaledUp { noise = scaledUp }
            let floor = UInt32(truncatingIfNeeded: (UInt64(signal[i]) &* UInt64(minSignalRemaining)) >> UInt64(Self.coefficientBits))
            let subtracted = (scaledUp &- noise) >> smoothingBits
            signal[i] = subtracted > floor ? subtracted : floor
        }
    }

    /// Forgets the noise estimate.
    public func reset() { estimate.update(repeating: 0, count: channelCount) }
}
