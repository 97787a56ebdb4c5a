internal import CALSA
import Glibc

/// An open ALSA capture PCM: the one owner of a `snd_pcm_t`, configured once, read by one thread.
///
/// Overruns (-EPIPE) and suspends (-ESTRPIPE) are recovered and counted, never hidden.
public final class PCMCapture {
    private let pcm: OpaquePointer              // snd_pcm_t *, never leaves this type
    /// The format the device agreed to.
    public let negotiated: NegotiatedFormat
    /// Overruns recovered from (the device filled its buffer before we read it).
    public private(set) var overruns = 0
    /// Suspend/resume cycles recovered from (system sleep).
    public private(set) var suspends = 0

    #if DEBUG
    /// Test hook: errors the next reads return instead of calling ALSA (then recovery runs on the real PCM).
    var injectedReadErrors: [Int32] = []
    #endif

    /// Opens and configures `configuration.device` for interleaved capture.
    ///
    /// The corresponding C calls are `snd_pcm_open` (or `snd_pcm_open_lconf` with a configuration file),
    /// then `snd_pcm_hw_params_*` and `snd_pcm_prepare`.
    public init(_ configuration: CaptureConfiguration) throws(AudioError) {
        try configuration.validate()
        _ = ALSA.prepared
        let device = configuration.device
        var handle: OpaquePointer?
        if let file = configuration.configurationFile {
            var tree: OpaquePointer?
            let loaded = calsa_config_with_file(file, &tree)
            guard loaded >= 0, let tree else {
                throw AudioError(.invalidArgument, "Could not load the ALSA configuration file \(file).", cause: ALSA.describe(loaded))
            }
            defer { snd_config_delete(tree) }
            try ALSA.check("snd_pcm_open_lconf", device: device) { snd_pcm_open_lconf(&handle, device, SND_PCM_STREAM_CAPTURE, 0, tree) }
        } else {
            try ALSA.check("snd_pcm_open", device: device) { snd_pcm_open(&handle, device, SND_PCM_STREAM_CAPTURE, 0) }
        }
        guard let handle else { throw AudioError(.deviceFailed, "snd_pcm_open returned no handle for \"\(device)\".") }
        do throws(AudioError) {
            negotiated = try Self.configure(handle, configuration)
        } catch {
            snd_pcm_close(handle)
            throw error
        }
        pcm = handle
    }

    deinit { snd_pcm_close(pcm) }

    private static func alsaFormat(_ format: SampleFormat) -> snd_pcm_format_t {
        switch format {
        case .s16le: SND_PCM_FORMAT_S16_LE
        case .s32le: SND_PCM_FORMAT_S32_LE
        case .f32le: SND_PCM_FORMAT_FLOAT_LE
        }
    }

    private static func configure(_ pcm: OpaquePointer, _ configuration: CaptureConfiguration) throws(AudioError) -> NegotiatedFormat {
        let device = configuration.device
        var params: OpaquePointer?
        try ALSA.check("snd_pcm_hw_params_malloc", device: device) { snd_pcm_hw_params_malloc(&params) }
        guard let params else { throw AudioError(.deviceFailed, "Out of memory for ALSA hardware parameters.") }
        defer { snd_pcm_hw_params_free(params) }

        try ALSA.check("snd_pcm_hw_params_any", device: device) { snd_pcm_hw_params_any(pcm, params) }
        do throws(AudioError) {
            try ALSA.check("snd_pcm_hw_params_set_access", device: device) {
                snd_pcm_hw_params_set_access(pcm, params, SND_PCM_ACCESS_RW_INTERLEAVED)
            }
            if snd_pcm_hw_params_set_format(pcm, params, alsaFormat(configuration.format)) < 0 {
                let offered = SampleFormat.allCases.filter { snd_pcm_hw_params_test_format(pcm, params, alsaFormat($0)) == 0 }
                throw AudioError(.deviceUnsupportedConfiguration,
                                 "Capture device \"\(device)\" cannot record \(configuration.format.rawValue); it offers \(offered.isEmpty ? "none of S16_LE, S32_LE, FLOAT_LE" : offered.map(\.rawValue).joined(separator: ", ")). Use a plughw: PCM to convert.")
            }
            if snd_pcm_hw_params_set_channels(pcm, params, UInt32(configuration.channels)) < 0 {
                var low: UInt32 = 0, high: UInt32 = 0
                snd_pcm_hw_params_get_channels_min(params, &low)
                snd_pcm_hw_params_get_channels_max(params, &high)
                throw AudioError(.deviceUnsupportedConfiguration,
                                 "Capture device \"\(device)\" cannot record \(configuration.channels) channel(s); it offers \(low)…\(high).")
            }
            var rate = UInt32(configuration.sampleRate)
            var direction: Int32 = 0
            if snd_pcm_hw_params_set_rate_near(pcm, params, &rate, &direction) < 0 {
                var low: UInt32 = 0, high: UInt32 = 0
                snd_pcm_hw_params_get_rate_min(params, &low, &direction)
                snd_pcm_hw_params_get_rate_max(params, &high, &direction)
                throw AudioError(.deviceUnsupportedConfiguration,
                                 "Capture device \"\(device)\" cannot record near \(configuration.sampleRate) Hz; it offers \(low)…\(high) Hz.")
            }
            var period = snd_pcm_uframes_t(configuration.requestedPeriodFrames)
            try ALSA.check("snd_pcm_hw_params_set_period_size_near", device: device) {
                snd_pcm_hw_params_set_period_size_near(pcm, params, &period, &direction)
            }
            var buffer = snd_pcm_uframes_t(max(configuration.requestedBufferFrames, Int(period) * 2))
            try ALSA.check("snd_pcm_hw_params_set_buffer_size_near", device: device) {
                snd_pcm_hw_params_set_buffer_size_near(pcm, params, &buffer)
            }
            try ALSA.check("snd_pcm_hw_params", device: device) { snd_pcm_hw_params(pcm, params) }
            snd_pcm_hw_params_get_period_size(params, &period, &direction)
            snd_pcm_hw_params_get_buffer_size(params, &buffer)
            snd_pcm_hw_params_get_rate(params, &rate, &direction)
            try ALSA.check("snd_pcm_prepare", device: device) { snd_pcm_prepare(pcm) }
            guard (1...768_000).contains(Int(rate)), period > 0 else {
                throw AudioError(.deviceUnsupportedConfiguration, "Capture device \"\(device)\" negotiated an unusable rate \(rate) Hz or period \(period).")
            }
            return NegotiatedFormat(device: device, format: configuration.format, sampleRate: Int(rate),
                                    channels: configuration.channels, periodFrames: Int(period), bufferFrames: Int(buffer))
        } catch where error.code == .deviceUnsupportedConfiguration && error.cause != nil {
            // A bare EINVAL from a set call: say which request it was.
            throw AudioError(.deviceUnsupportedConfiguration,
                             "Capture device \"\(device)\" rejected \(configuration.format.rawValue), \(configuration.channels) ch, \(configuration.sampleRate) Hz, period \(configuration.requestedPeriodFrames), buffer \(configuration.requestedBufferFrames).",
                             cause: error.cause)
        }
    }

    /// Bytes one interleaved frame occupies.
    public var bytesPerFrame: Int { negotiated.format.bytesPerSample * negotiated.channels }

    /// Blocks until up to `frames` frames are captured into `buffer` (at least `frames × bytesPerFrame` bytes).
    ///
    /// Recovers from overruns and suspends (counting them) and keeps reading.
    /// The corresponding C function is `snd_pcm_readi`; recovery uses `snd_pcm_recover`.
    /// - Returns: frames read (fewer than asked only after a recovery or on a non-blocking PCM).
    public func read(into buffer: UnsafeMutableRawPointer, frames: Int) throws(AudioError) -> Int {
        while true {
            var result: Int
            #if DEBUG
            if !injectedReadErrors.isEmpty {
                result = Int(injectedReadErrors.removeFirst())
            } else {
                result = snd_pcm_readi(pcm, buffer, snd_pcm_uframes_t(frames))
            }
            #else
            result = snd_pcm_readi(pcm, buffer, snd_pcm_uframes_t(frames))
            #endif
            if result >= 0 { return result }
            let code = Int32(truncatingIfNeeded: result)
            switch -code {
            case EINTR, EAGAIN:
                continue
            case EPIPE:
                overruns += 1
            case ESTRPIPE:
                suspends += 1
            default:
                throw ALSA.error(code, function: "snd_pcm_readi", device: negotiated.device)
            }
            let recovered = snd_pcm_recover(pcm, code, 1)
            if recovered < 0 {
                throw ALSA.error(recovered, function: "snd_pcm_recover", device: negotiated.device)
            }
        }
    }

    /// Waits up to `milliseconds` for data to be ready (`snd_pcm_wait`); true when ready.
    public func wait(milliseconds: Int32) -> Bool {
        snd_pcm_wait(pcm, milliseconds) > 0
    }
}
