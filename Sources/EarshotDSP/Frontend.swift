/// The streaming fixed-point log-mel frontend: PCM in, one feature frame per stride out.
///
/// window → FFT (input scaled up to use all 16 bits) → energy → mel filterbank → √ → noise reduction → PCAN → log.
/// Bit-exact with TFLM's micro frontend and its signal-library preprocessor. All buffers are allocated in `init`;
/// `process` allocates nothing. One owner, one thread.
public final class Frontend {
    public let configuration: FrontendConfiguration
    private let window: Window
    private let fft: FixedPointFFT
    private let spectrum: UnsafeMutablePointer<ComplexInt16>
    private let fftInput: UnsafeMutablePointer<Int16>
    private let filterbank: Filterbank
    private let noiseReduction: NoiseReduction
    private let pcan: PCANGainControl?
    private let correctionBits: Int
    /// The last frame's features, `channelCount` values; valid until the next frame is produced.
    public let features: UnsafeMutablePointer<UInt16>

    /// Builds every table for `configuration`.
    public init(_ configuration: FrontendConfiguration = .microSpeech) throws(FrontendError) {
        try configuration.validate()
        self.configuration = configuration
        window = Window(sizeMs: configuration.windowMs, stepMs: configuration.strideMs, sampleRate: configuration.sampleRate,
                        tables: configuration.tables)
        var fftSize = 1
        while fftSize < window.size { fftSize <<= 1 }
        fft = FixedPointFFT(size: fftSize)
        fftInput = .allocate(capacity: fftSize)
        fftInput.initialize(repeating: 0, count: fftSize)
        spectrum = .allocate(capacity: fftSize / 2 + 1)
        spectrum.initialize(repeating: ComplexInt16(real: 0, imag: 0), count: fftSize / 2 + 1)
        filterbank = Filterbank(channelCount: configuration.channelCount, lowerBandLimit: configuration.lowerBandLimit,
                                upperBandLimit: configuration.upperBandLimit, sampleRate: configuration.sampleRate,
                                spectrumSize: fftSize / 2 + 1, tables: configuration.tables)
        noiseReduction = NoiseReduction(channelCount: configuration.channelCount, smoothingBits: configuration.smoothingBits,
                                        evenSmoothing: configuration.evenSmoothing, oddSmoothing: configuration.oddSmoothing,
                                        minSignalRemaining: configuration.minSignalRemaining)
        // The filterbank's √ of Q12-weighted energy leaves log2(fft)−1−6 bits of scale for the log stage to undo.
        correctionBits = Bits.mostSignificantBit(UInt32(fftSize)) - 1 - Filterbank.weightBits / 2
        pcan = configuration.pcanEnabled
            ? PCANGainControl(channelCount: configuration.channelCount, strength: configuration.pcanStrength,
                              offset: configuration.pcanOffset, gainBits: configuration.pcanGainBits,
                              smoothingBits: configuration.smoothingBits, inputCorrectionBits: correctionBits)
            : nil
        features = .allocate(capacity: configuration.channelCount)
        features.initialize(repeating: 0, count: configuration.channelCount)
    }

    deinit {
        fftInput.deallocate()
        spectrum.deallocate()
        features.deallocate()
    }

    /// Bytes of state carried from frame to frame: the window's sample buffer and the noise estimates.
    /// (FFT, spectrum and filterbank buffers are scratch, rewritten every frame.)
    public var stateBytes: Int { window.size * MemoryLayout<Int16>.size + configuration.channelCount * MemoryLayout<UInt32>.size }

    /// FFT length used (next power of two ≥ the window).
    public var fftSize: Int { fft.size }
    /// The window's Q12 coefficients (for comparing with other implementations' tables).
    public var windowCoefficients: [Int16] { window.coefficients }
    /// The filterbank's tables.
    public var filterbankTables: (start: Int, end: Int, frequencyStarts: [Int16], weightStarts: [Int16], widths: [Int16], weights: [Int16], unweights: [Int16]) {
        (filterbank.startIndex, filterbank.endIndex, filterbank.channelFrequencyStarts, filterbank.channelWeightStarts,
         filterbank.channelWidths, filterbank.weights, filterbank.unweights)
    }
    /// The PCAN gain table, if PCAN is on.
    public var pcanGainTable: [Int16]? { pcan?.gainTable }
    /// Noise reduction's quantised coefficients (even, odd, min signal remaining), Q14.
    public var noiseReductionCoefficients: (even: UInt32, odd: UInt32, minSignalRemaining: UInt32) {
        (noiseReduction.evenSmoothing, noiseReduction.oddSmoothing, noiseReduction.minSignalRemaining)
    }

    /// Feeds samples until one frame is complete.
    /// - Parameters:
    ///   - samples: 16-bit PCM at the configured rate.
    ///   - consumed: set to how many samples were taken; call again with the rest.
    /// - Returns: true when `features` holds a new frame.
    public func process(_ samples: UnsafeBufferPointer<Int16>, consumed: inout Int) -> Bool {
        guard window.process(samples, consumed: &consumed) else { return false }
        // Scale the window up so the 16-bit FFT keeps as much resolution as possible.
        let shift = max(0, 15 - Bits.mostSignificantBit(UInt32(UInt16(bitPattern: window.maxAbsOutput))))
        let size = window.size
        for i in 0..<size {
            fftInput[i] = Int16(truncatingIfNeeded: UInt16(bitPattern: window.output[i]) &<< UInt16(shift))
        }
        (fftInput + size).update(repeating: 0, count: fft.size - size)
        fft.transform(fftInput, into: spectrum)
        filterbank.process(spectrum, scaleDownShift: shift)
        let channels = filterbank.output
        noiseReduction.apply(channels)
        pcan?.apply(channels, noiseEstimate: noiseReduction.estimate)
        if configuration.logEnabled {
            LogScale.apply(channels, count: configuration.channelCount, correctionBits: correctionBits,
                           scaleShift: configuration.logScaleShift, into: features)
        } else {
            for i in 0..<configuration.channelCount { features[i] = UInt16(min(channels[i], 0xFFFF)) }
        }
        return true
    }

    /// Runs a whole clip through and returns every frame (allocates; for tools and tests).
    public func frames(of samples: [Int16]) -> [[UInt16]] {
        var result: [[UInt16]] = []
        samples.withUnsafeBufferPointer { buffer in
            var offset = 0
            while offset < buffer.count {
                var consumed = 0
                let ready = process(UnsafeBufferPointer(rebasing: buffer[offset...]), consumed: &consumed)
                offset += consumed
                if ready { result.append(Array(UnsafeBufferPointer(start: features, count: configuration.channelCount))) }
            }
        }
        return result
    }

    /// Forgets all state (buffered samples, noise estimates), as for a new stream.
    public func reset() {
        window.reset()
        filterbank.reset()
        noiseReduction.reset()
    }

    /// TFLM micro_speech's int8 input scaling of a feature: (v·256 + 333) / 666 − 128, clamped to int8.
    ///
    /// 666 ≈ 25.6 × 26: features span about 0…26 in log units of 1/25.6; this maps them onto the int8 range.
    @inline(__always)
    public static func microSpeechInt8(_ value: UInt16) -> Int8 {
        let scaled = (Int32(value) * 256 + 333) / 666 - 128
        return Int8(max(-128, min(127, scaled)))
    }
}
