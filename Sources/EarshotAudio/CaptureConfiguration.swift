/// What to open and how: the ALSA PCM, its format, and how the stream becomes 16 kHz mono.
public struct CaptureConfiguration: Sendable, Hashable, Codable {
    /// Any ALSA PCM name: `default`, `hw:1,0`, `plughw:CARD=Device,DEV=0`, or a PCM defined in a configuration file.
    public var device = "default"
    /// Sample encoding requested from the device.
    public var format = SampleFormat.s16le
    /// Rate requested, 8000…48000 Hz. A `hw:` device may only offer a nearby rate; the negotiated one is used and reported.
    public var sampleRate = 16_000
    /// Channels requested, 1…8.
    public var channels = 1
    /// How the channels become mono.
    public var channelSelection = ChannelSelection.downmix
    /// ALSA period (frames per wake-up). `nil` picks 20 ms.
    public var periodFrames: Int?
    /// ALSA ring buffer size in frames. `nil` picks 10 periods.
    public var bufferFrames: Int?
    /// An extra ALSA configuration file loaded over the system's (defines PCMs without touching /etc/asound.conf).
    public var configurationFile: String?
    /// Resampler quality when the device rate is not 16 kHz.
    public var resamplerQuality = ResamplerQuality.medium
    /// Seconds of 16 kHz audio the ring between capture and consumer holds.
    public var ringSeconds = 2.0
    /// What a full ring does: drop the oldest audio (live use) or make capture wait (recording, file PCMs).
    public var overflowPolicy = RingOverflowPolicy.dropOldest

    public init(device: String = "default") { self.device = device }

    /// The period in frames this configuration asks for.
    public var requestedPeriodFrames: Int { periodFrames ?? max(32, sampleRate / 50) }
    /// The buffer in frames this configuration asks for.
    public var requestedBufferFrames: Int { bufferFrames ?? requestedPeriodFrames * 10 }

    /// Checks every range before any device is touched.
    public func validate() throws(AudioError) {
        guard !device.isEmpty else { throw AudioError(.invalidArgument, "The capture device name is empty.") }
        guard (8_000...48_000).contains(sampleRate) else {
            throw AudioError(.invalidArgument, "Capture rate must be 8000…48000 Hz, got \(sampleRate).")
        }
        guard (1...8).contains(channels) else {
            throw AudioError(.invalidArgument, "Capture channels must be 1…8, got \(channels).")
        }
        try channelSelection.validate(channels: channels)
        guard (16...65_536).contains(requestedPeriodFrames) else {
            throw AudioError(.invalidArgument, "Period must be 16…65536 frames, got \(requestedPeriodFrames).")
        }
        guard requestedBufferFrames >= 2 * requestedPeriodFrames, requestedBufferFrames <= 1 << 20 else {
            throw AudioError(.invalidArgument, "Buffer must hold at least 2 periods and at most 1048576 frames, got \(requestedBufferFrames).")
        }
        guard ringSeconds > 0, ringSeconds <= 600 else {
            throw AudioError(.invalidArgument, "Ring must hold 0…600 s, got \(ringSeconds).")
        }
    }
}

/// What the device actually agreed to; may differ from the request for `hw:` devices.
public struct NegotiatedFormat: Sendable, Hashable, Codable {
    public var device: String
    public var format: SampleFormat
    public var sampleRate: Int
    public var channels: Int
    public var periodFrames: Int
    public var bufferFrames: Int
}
