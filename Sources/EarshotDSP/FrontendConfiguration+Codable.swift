extension FrontendConfiguration {
    enum CodingKeys: String, CodingKey {
        case sampleRate = "sample_rate", windowMs = "window_ms", strideMs = "stride_ms", channelCount = "channels"
        case lowerBandLimit = "lower_band_limit", upperBandLimit = "upper_band_limit", smoothingBits = "smoothing_bits"
        case evenSmoothing = "even_smoothing", oddSmoothing = "odd_smoothing", minSignalRemaining = "min_signal_remaining"
        case pcanEnabled = "pcan", pcanStrength = "pcan_strength", pcanOffset = "pcan_offset", pcanGainBits = "pcan_gain_bits"
        case logEnabled = "log", logScaleShift = "log_scale_shift", tables
    }

    /// Decodes a manifest's `frontend` object; every missing key keeps its TFLM default.
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sampleRate = try c.decodeIfPresent(Int.self, forKey: .sampleRate) ?? sampleRate
        windowMs = try c.decodeIfPresent(Int.self, forKey: .windowMs) ?? windowMs
        strideMs = try c.decodeIfPresent(Int.self, forKey: .strideMs) ?? strideMs
        channelCount = try c.decodeIfPresent(Int.self, forKey: .channelCount) ?? channelCount
        lowerBandLimit = try c.decodeIfPresent(Float.self, forKey: .lowerBandLimit) ?? lowerBandLimit
        upperBandLimit = try c.decodeIfPresent(Float.self, forKey: .upperBandLimit) ?? upperBandLimit
        smoothingBits = try c.decodeIfPresent(Int.self, forKey: .smoothingBits) ?? smoothingBits
        evenSmoothing = try c.decodeIfPresent(Float.self, forKey: .evenSmoothing) ?? evenSmoothing
        oddSmoothing = try c.decodeIfPresent(Float.self, forKey: .oddSmoothing) ?? oddSmoothing
        minSignalRemaining = try c.decodeIfPresent(Float.self, forKey: .minSignalRemaining) ?? minSignalRemaining
        pcanEnabled = try c.decodeIfPresent(Bool.self, forKey: .pcanEnabled) ?? pcanEnabled
        pcanStrength = try c.decodeIfPresent(Float.self, forKey: .pcanStrength) ?? pcanStrength
        pcanOffset = try c.decodeIfPresent(Float.self, forKey: .pcanOffset) ?? pcanOffset
        pcanGainBits = try c.decodeIfPresent(Int.self, forKey: .pcanGainBits) ?? pcanGainBits
        logEnabled = try c.decodeIfPresent(Bool.self, forKey: .logEnabled) ?? logEnabled
        logScaleShift = try c.decodeIfPresent(Int.self, forKey: .logScaleShift) ?? logScaleShift
        tables = try c.decodeIfPresent(FrontendTableConvention.self, forKey: .tables) ?? tables
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sampleRate, forKey: .sampleRate); try c.encode(windowMs, forKey: .windowMs); try c.encode(strideMs, forKey: .strideMs)
        try c.encode(channelCount, forKey: .channelCount); try c.encode(lowerBandLimit, forKey: .lowerBandLimit)
        try c.encode(upperBandLimit, forKey: .upperBandLimit); try c.encode(smoothingBits, forKey: .smoothingBits)
        try c.encode(evenSmoothing, forKey: .evenSmoothing); try c.encode(oddSmoothing, forKey: .oddSmoothing)
        try c.encode(minSignalRemaining, forKey: .minSignalRemaining); try c.encode(pcanEnabled, forKey: .pcanEnabled)
        try c.encode(pcanStrength, forKey: .pcanStrength); try c.encode(pcanOffset, forKey: .pcanOffset)
        try c.encode(pcanGainBits, forKey: .pcanGainBits); try c.encode(logEnabled, forKey: .logEnabled)
        try c.encode(logScaleShift, forKey: .logScaleShift); try c.encode(tables, forKey: .tables)
    }
}
