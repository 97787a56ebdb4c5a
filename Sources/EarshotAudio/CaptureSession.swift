import Foundation
import Synchronization

/// Counters a capture session keeps; every loss is counted here, none is silent.
public struct CaptureStatistics: Sendable, Hashable, Codable {
    /// Frames read from the device.
    public var framesCaptured: UInt64 = 0
    /// 16 kHz mono samples produced.
    public var samplesProduced: UInt64 = 0
    /// Device overruns (-EPIPE) recovered.
    public var deviceOverruns = 0
    /// Suspend/resume cycles (-ESTRPIPE) recovered.
    public var deviceSuspends = 0
    /// Samples overwritten in the ring because the consumer fell behind.
    public var ringOverrunSamples: UInt64 = 0
    /// Device samples (any channel) at or beyond full scale: the microphone or its gain is clipping.
    public var clippedSamples: UInt64 = 0
}

/// Live capture: a dedicated thread reads the ALSA device, converts to 16 kHz mono `Int16`, and fills a `SampleRing`.
///
/// The device is opened and configured in `init`, so a missing, busy or incapable device fails there with a typed error.
/// Reading stays off Swift's cooperative pool because `snd_pcm_readi` blocks.
public final class CaptureSession: @unchecked Sendable {   // @unchecked: `device`/`converter` are touched only by the capture thread after start(); shared state is in Mutex/ring
    /// What the device agreed to.
    public let negotiated: NegotiatedFormat
    /// Where converted samples arrive; read it from any one consumer.
    public let ring: SampleRing
    private let device: PCMCapture
    private let converter: StreamConverter
    private let state = Mutex(State())
    private let finished = DispatchSemaphore(value: 0)

    private struct State: Sendable {
        var statistics = CaptureStatistics()
        var running = false
        var stopRequested = false
        var frameLimit: UInt64?
    }

    /// Opens the device. Nothing is read until `start`.
    public init(_ configuration: CaptureConfiguration) throws(AudioError) {
        device = try PCMCapture(configuration)
        negotiated = device.negotiated
        converter = try StreamConverter(inputRate: negotiated.sampleRate, channels: negotiated.channels,
                                        selection: configuration.channelSelection, quality: configuration.resamplerQuality)
        ring = SampleRing(capacity: max(1_024, Int(configuration.ringSeconds * Double(StreamConverter.pipelineRate))),
                          policy: configuration.overflowPolicy)
    }

    #if DEBUG
    /// Test hook: negative ALSA codes the device returns before its next real reads.
    func injectReadErrors(_ codes: [Int32]) { device.injectedReadErrors = codes }
    #endif

    /// A snapshot of the counters.
    public var statistics: CaptureStatistics {
        var snapshot = state.withLock { $0.statistics }
        snapshot.ringOverrunSamples = ring.overrunSamples
        return snapshot
    }

    /// Starts the capture thread. With `frameLimit`, capture stops by itself after that many device frames
    /// (exact durations for files and tests); otherwise it runs until `stop()`.
    public func start(frameLimit: UInt64? = nil) {
        let alreadyRunning = state.withLock { state -> Bool in
            if state.running { return true }
            state.running = true
            state.frameLimit = frameLimit
            return false
        }
        guard !alreadyRunning else { return }
        let thread = Thread { [self] in run() }
        thread.name = "earshot-capture"
        thread.qualityOfService = .userInteractive
        thread.start()
    }

    /// Asks the capture thread to stop, waits for it, and closes the ring (readers drain the rest).
    /// Safe to call from any thread, including a signal handler's queue.
    public func stop() {
        let wasRunning = state.withLock { state -> Bool in
            state.stopRequested = true
            return state.running
        }
        ring.close()   // wakes a capture thread blocked on a full `.block` ring
        if wasRunning { finished.wait(); finished.signal() }
    }

    /// Blocks until the capture thread ends by itself (frame limit reached or a device error).
    public func waitUntilFinished() {
        finished.wait()
        finished.signal()
    }

    private func run() {
        let period = negotiated.periodFrames
        let bytesPerFrame = device.bytesPerFrame
        let channels = negotiated.channels
        let raw = UnsafeMutableRawPointer.allocate(byteCount: period * bytesPerFrame, alignment: 16)
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: period * channels)
        defer { raw.deallocate(); floats.deallocate() }
        var converted: [Int16] = []
        converted.reserveCapacity(period * 8)
        var failure: AudioError?

        while true {
            let (stop, remaining) = state.withLock { state -> (Bool, UInt64?) in
                (state.stopRequested, state.frameLimit.map { $0 &- min($0, state.statistics.framesCaptured) })
            }
            if stop || remaining == 0 { break }
            // Wake up at least every 100 ms so stop() is honoured even when the device delivers nothing.
            if !device.wait(milliseconds: 100) { continue }
            let want = remaining.map { min(period, Int($0)) } ?? period
            // The `null` PCM returns success without writing the buffer: clear it so it yields silence, not stale data.
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: want * bytesPerFrame)
            let frames: Int
            do {
                frames = try device.read(into: raw, frames: want)
            } catch {
                failure = error
                break
            }
            guard frames > 0 else { continue }
            let samples = frames * channels
            negotiated.format.decode(UnsafeRawBufferPointer(start: raw, count: samples * negotiated.format.bytesPerSample),
                                     sampleCount: samples, into: floats)
            var clipped: UInt64 = 0
            for i in 0..<samples where abs(floats[i]) >= 32_767.0 / 32_768.0 { clipped += 1 }
            converted.removeAll(keepingCapacity: true)
            let reachedLimit = (remaining.map { UInt64(frames) >= $0 } ?? false)
            do {
                try converter.convert(floats, frames: frames, endOfInput: reachedLimit, appendingTo: &converted)
            } catch {
                failure = error
                break
            }
            converted.withUnsafeBufferPointer { ring.write($0) }
            let produced = UInt64(converted.count)
            state.withLock { state in
                state.statistics.framesCaptured += UInt64(frames)
                state.statistics.samplesProduced += produced
                state.statistics.clippedSamples += clipped
                state.statistics.deviceOverruns = device.overruns
                state.statistics.deviceSuspends = device.suspends
            }
        }
        ring.close(error: failure)
        state.withLock { $0.running = false }
        finished.signal()
    }
}
