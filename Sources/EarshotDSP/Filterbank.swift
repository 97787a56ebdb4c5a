import Foundation

/// The mel filterbank: spectrum → energy → triangular mel channels → square root.
///
/// Tables follow TFLM's `FilterbankPopulateState` in single precision: overlapping triangles on the mel scale
/// (mel = 1127·ln(1 + f/700)), Q12 weights and "unweights" (1 − weight), channel starts aligned to 2 bins and
/// widths padded to blocks of 4 with zero weights.
public final class Filterbank {
    /// Fractional bits of the weights (`kFilterbankBits`).
    public static let weightBits = 12
    public let channelCount: Int
    /// First spectrum bin with energy that matters.
    public let startIndex: Int
    /// One past the last spectrum bin that matters.
    public let endIndex: Int
    public let channelFrequencyStarts: [Int16]
    public let channelWeightStarts: [Int16]
    public let channelWidths: [Int16]
    public let weights: [Int16]
    public let unweights: [Int16]
    private let energy: UnsafeMutablePointer<UInt32>
    private let work: UnsafeMutablePointer<UInt64>
    /// The last frame's square-rooted channel values; valid until the next frame.
    public let output: UnsafeMutablePointer<UInt32>
    private let spectrumSize: Int

    /// Builds the tables for `channelCount` channels between `lowerBandLimit` and `upperBandLimit` Hz.
    public init(channelCount: Int, lowerBandLimit: Float, upperBandLimit: Float, sampleRate: Int, spectrumSize: Int,
                tables: FrontendTableConvention = .microFrontend) {
        precondition(channelCount > 0 && lowerBandLimit >= 0 && upperBandLimit > lowerBandLimit)
        self.channelCount = channelCount
        self.spectrumSize = spectrumSize
        let channelsPlusOne = channelCount + 1
        let indexAlignment = 2            // kFilterbankIndexAlignment (4 bytes) / sizeof(int16_t)
        let blockSize = 4                 // kFilterbankChannelBlockSize
        let melLow = Self.mel(lowerBandLimit)
        let melSpacing = (Self.mel(upperBandLimit) - melLow) / Float(channelsPlusOne)
        let centers = (0..<channelsPlusOne).map { melLow + melSpacing * Float($0 + 1) }
        // The C code works in Float throughout; the signal-library generator keeps bin spacing in Double and
        // hands each frequency to the same single-precision mel function.
        let signal = tables == .signalLibrary
        let hzPerBin = Float(0.5) * Float(sampleRate) / (Float(spectrumSize) - 1)
        let hzPerBinDouble = Double(sampleRate) / 2 / Double(spectrumSize - 1)
        func binFrequency(_ bin: Int) -> Float { signal ? Float(Double(bin) * hzPerBinDouble) : Float(bin) * hzPerBin }
        let start = signal ? Int((1 + Double(lowerBandLimit) / hzPerBinDouble).rounded(.toNearestOrEven))
                           : Int(Float(1.5) + lowerBandLimit / hzPerBin)

        var frequencyStarts = [Int16](repeating: 0, count: channelsPlusOne)
        var weightStarts = [Int16](repeating: 0, count: channelsPlusOne)
        var widths = [Int16](repeating: 0, count: channelsPlusOne)
        var actualStarts = [Int](repeating: 0, count: channelsPlusOne)
        var actualWidths = [Int](repeating: 0, count: channelsPlusOne)
        var channelStart = start
        var weightIndex = 0
        var needsZeros = false
        for channel in 0..<channelsPlusOne {
            var frequency = channelStart
            while Self.mel(binFrequency(frequency)) <= centers[channel] { frequency += 1 }
            let width = frequency - channelStart
            actualStarts[channel] = channelStart
            actualWidths[channel] = width
            if width == 0 {
                // An empty channel reads a block of zero weights shared by all empty channels.
                frequencyStarts[channel] = 0
                weightStarts[channel] = 0
                widths[channel] = Int16(blockSize)
                if !needsZeros {
                    needsZeros = true
                    for j in 0..<channel { weightStarts[j] += Int16(blockSize) }
                    weightIndex += blockSize
                }
            } else {
                let alignedStart = channelStart / indexAlignment * indexAlignment
                let alignedWidth = channelStart - alignedStart + width
                let paddedWidth = ((alignedWidth - 1) / blockSize + 1) * blockSize
                frequencyStarts[channel] = Int16(alignedStart)
                weightStarts[channel] = Int16(weightIndex)
                widths[channel] = Int16(paddedWidth)
                weightIndex += paddedWidth
            }
            channelStart = frequency
        }
        var weights = [Int16](repeating: 0, count: weightIndex)
        var unweights = [Int16](repeating: 0, count: weightIndex)
        var end = 0
        for channel in 0..<channelsPlusOne {
            var frequency = actualStarts[channel]
            let offset = frequency - Int(frequencyStarts[channel])
            let weightStart = Int(weightStarts[channel])
            let lower = channel == 0 ? melLow : centers[channel - 1]
            for j in 0..<actualWidths[channel] {
                let weight = (centers[channel] - Self.mel(binFrequency(frequency))) / (centers[channel] - lower)
                let scale = Float(1 << Self.weightBits)
                // Q12: the C code rounds half up, the signal-library generator truncates.
                weights[weightStart + offset + j] = Int16(signal ? (weight * scale).rounded(.towardZero) : floor(weight * scale + 0.5))
                unweights[weightStart + offset + j] = Int16(signal ? ((1 - weight) * scale).rounded(.towardZero) : floor((1 - weight) * scale + 0.5))
                frequency += 1
            }
            end = max(end, frequency)
        }
        precondition(end <= spectrumSize, "the filterbank reaches past the spectrum: lower the upper band limit")
        startIndex = start
        endIndex = end
        channelFrequencyStarts = frequencyStarts
        channelWeightStarts = weightStarts
        channelWidths = widths
        self.weights = weights
        self.unweights = unweights
        energy = .allocate(capacity: spectrumSize)
        energy.initialize(repeating: 0, count: spectrumSize)
        work = .allocate(capacity: channelsPlusOne)
        work.initialize(repeating: 0, count: channelsPlusOne)
        output = .allocate(capacity: channelCount)
        output.initialize(repeating: 0, count: channelCount)
    }

    deinit {
        energy.deallocate()
        work.deallocate()
        output.deallocate()
    }

    /// 1127·ln(1 + f/700) in single precision (TFLM's `FreqToMel`).
    public static func mel(_ frequency: Float) -> Float { 1127 * log1p(frequency / 700) }

    /// Runs one spectrum through energy, channel accumulation and the square root, writing `output`.
    /// - Parameters:
    ///   - spectrum: `spectrumSize` bins from the FFT.
    ///   - scaleDownShift: the FFT input's up-shift, undone after the square root.
    public func process(_ spectrum: UnsafePointer<ComplexInt16>, scaleDownShift: Int) {
        for i in startIndex..<endIndex {
            let real = Int32(spectrum[i].real), imag = Int32(spectrum[i].imag)
            energy[i] = UInt32(bitPattern: real &* real &+ imag &* imag)     // Q0.15² → Q0.30, at most 2^31
        }
        var weighted: UInt64 = 0
        var unweighted: UInt64 = 0
        channelFrequencyStarts.withUnsafeBufferPointer { starts in
        channelWeightStarts.withUnsafeBufferPointer { weightStarts in
        channelWidths.withUnsafeBufferPointer { widths in
        weights.withUnsafeBufferPointer { weight in
        unweights.withUnsafeBufferPointer { unweight in
            for channel in 0...channelCount {
                let frequencyStart = Int(starts[channel])
                let weightStart = Int(weightStarts[channel])
                for j in 0..<Int(widths[channel]) {
                    let magnitude = UInt64(energy[frequencyStart + j])
                    // Q12 weight × Q0.30 energy → Q12.30 in 64 bits
                    weighted &+= UInt64(UInt16(bitPattern: weight[weightStart + j])) &* magnitude
                    unweighted &+= UInt64(UInt16(bitPattern: unweight[weightStart + j])) &* magnitude
                }
                work[channel] = weighted
                weighted = unweighted
                unweighted = 0
            }
        }}}}}
        for channel in 0..<channelCount {
            output[channel] = Bits.squareRoot(work[channel + 1]) >> UInt32(scaleDownShift)
        }
    }

    /// Clears the accumulators and energy, as for a new stream.
    public func reset() {
        work.update(repeating: 0, count: channelCount + 1)
        energy.update(repeating: 0, count: spectrumSize)
    }
}
