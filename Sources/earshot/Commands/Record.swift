import ArgumentParser
import Dispatch
import EarshotAudio
import EarshotMonitoring
import Foundation

extension Earshot {
    /// `earshot record`: the technician's mic check. Captures from ALSA to a file while metering the level.
    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record from an ALSA capture device to WAV/FLAC/OGG, showing a live level meter.",
            discussion: """
            The file holds what Earshot hears: 16 kHz mono 16-bit, after channel selection and resampling. \
            On a terminal a level bar is drawn on stderr; otherwise one progress line per second. \
            Ctrl-C stops early and still leaves a valid file.
            """)

        @Option(name: .shortAndLong, help: "ALSA PCM: default, hw:X,Y, plughw:X,Y or a defined PCM.") var device = "default"
        @Option(name: .shortAndLong, help: "Seconds to record (default: until Ctrl-C).") var seconds: Double?
        @Option(name: .shortAndLong, help: ArgumentHelp("Output file: .wav, .flac, .ogg or .aiff.", valueName: "file")) var out: String
        @Option(help: "Device sample format: S16_LE, S32_LE or FLOAT_LE.") var format = "S16_LE"
        @Option(help: "Device rate in Hz (8000…48000).") var rate = 16_000
        @Option(help: "Device channels (1…8).") var channels = 1
        @Option(help: "How channels become mono: downmix, or a channel number from 0.") var channel = "downmix"
        @Option(help: "ALSA period in frames (default 20 ms).") var period: Int?
        @Option(help: "ALSA buffer in frames (default 10 periods).") var buffer: Int?
        @Option(help: "Resampler quality when the device rate is not 16 kHz: fastest, medium, best.") var resamplerQuality = "medium"
        @OptionGroup var alsa: ALSAOptions
        @Flag(help: "Print the summary as one JSON object.") var json = false

        func validate() throws {
            if let seconds, !(seconds > 0 && seconds <= 86_400) { throw ValidationError("--seconds must be in (0, 86400], got \(seconds).") }
            guard SampleFormat(parsing: format) != nil else { throw ValidationError("--format must be S16_LE, S32_LE or FLOAT_LE, got \(format).") }
            guard ChannelSelection(parsing: channel) != nil else { throw ValidationError("--channel must be downmix or a channel number, got \(channel).") }
            guard ResamplerQuality(rawValue: resamplerQuality) != nil else { throw ValidationError("--resampler-quality must be fastest, medium or best.") }
            guard AudioContainer(path: out) != nil else { throw ValidationError("--out must end in .wav, .flac, .ogg or .aiff, got \(out).") }
        }

        /// The capture settings these flags describe.
        var captureConfiguration: CaptureConfiguration {
            var configuration = CaptureConfiguration(device: device)
            configuration.format = SampleFormat(parsing: format) ?? .s16le
            configuration.sampleRate = rate
            configuration.channels = channels
            configuration.channelSelection = ChannelSelection(parsing: channel) ?? .downmix
            configuration.periodFrames = period
            configuration.bufferFrames = buffer
            configuration.configurationFile = alsa.resolvedConfigurationFile
            configuration.resamplerQuality = ResamplerQuality(rawValue: resamplerQuality) ?? .medium
            // A recording keeps every sample: if the writer stalls, capture waits (a real device then reports overruns).
            configuration.overflowPolicy = .block
            return configuration
        }

        func run() throws {
            try reportingErrors {
                let session = try CaptureSession(captureConfiguration)
                let writer = try AudioFileWriter(path: out, sampleRate: StreamConverter.pipelineRate, channels: 1)
                let negotiated = session.negotiated
                if negotiated.sampleRate != rate {
                    Output.note("earshot: note: \(device) offers \(negotiated.sampleRate) Hz, not \(rate) Hz; resampling from that.")
                }
                let interrupt = Self.stopOnInterrupt(session)
                defer { interrupt.cancel() }
                session.start(frameLimit: seconds.map { UInt64(($0 * Double(negotiated.sampleRate)).rounded()) })

                let meter = MeterDisplay(terminal: Output.stderrIsTerminal, total: seconds)
                var analyzer = SignalAnalyzer(sampleRate: StreamConverter.pipelineRate, channels: 1)
                var chunk = [Int16](repeating: 0, count: 1_600)
                var floats = [Float](repeating: 0, count: 1_600)
                var level = LevelMeter(windowSamples: StreamConverter.pipelineRate / 10)
                var written: Int64 = 0
                var failure: AudioError?
                while true {
                    let got: Int?
                    do throws(AudioError) {
                        got = try chunk.withUnsafeMutableBufferPointer { (pointer) throws(AudioError) in try session.ring.read(into: pointer, timeout: 0.25) }
                    } catch {
                        failure = error
                        break
                    }
                    guard let got else { break }
                    if got == 0 { continue }
                    try chunk.withUnsafeBufferPointer { try writer.write(UnsafeBufferPointer(rebasing: $0[0..<got])) }
                    for i in 0..<got { floats[i] = Float(chunk[i]) / 32_768 }
                    floats.withUnsafeBufferPointer { analyzer.add($0.baseAddress!, frames: got) }
                    written += Int64(got)
                    level.add(chunk[0..<got]) { meter.show($0, seconds: Double(written) / Double(StreamConverter.pipelineRate)) }
                }
                session.stop()
                try writer.close()
                meter.finish()
                let summary = RecordSummary(path: out, device: negotiated, seconds: Double(written) / Double(StreamConverter.pipelineRate),
                                            statistics: analyzer.result(), capture: session.statistics)
                print(json ? Output.json(summary) : summary.text)
                if let failure { throw failure }
            }
        }

        /// Ctrl-C (SIGINT) and SIGTERM end the capture gracefully so the file is finished, not cut.
        static func stopOnInterrupt(_ session: CaptureSession) -> any DispatchSourceSignal {
            signal(SIGINT, SIG_IGN)
            signal(SIGTERM, SIG_IGN)
            let queue = DispatchQueue(label: "earshot.record.signals")
            let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: queue)
            interrupt.setEventHandler { session.stop() }
            interrupt.resume()
            let terminate = DispatchSource.makeSignalSource(signal: SIGTERM, queue: queue)
            terminate.setEventHandler { session.stop() }
            terminate.resume()
            return interrupt
        }
    }
}

/// Draws the live level: a bar on a terminal, or a line per second in logs.
final class MeterDisplay {
    let terminal: Bool
    let total: Double?
    private var lastLine = -1.0
    private var drew = false

    init(terminal: Bool, total: Double?) {
        self.terminal = terminal
        self.total = total
    }

    func show(_ reading: LevelReading, seconds: Double) {
        let progress = total.map { String(format: "%5.1f/%.1f s", seconds, $0) } ?? String(format: "%6.1f s", seconds)
        let clip = reading.clippedSamples > 0 ? "  CLIPPING" : ""
        if terminal {
            let width = 30
            let filled = Int(((reading.rmsDBFS + 60) / 60 * Double(width)).rounded()).clamped(0, width)
            let peakAt = Int(((reading.peakDBFS + 60) / 60 * Double(width)).rounded()).clamped(0, width - 1)
            var bar = Array(repeating: "·", count: width)
            for i in 0..<filled { bar[i] = "█" }
            if reading.peakDBFS > -60 { bar[peakAt] = "|" }
            Output.noteInline(String(format: "\r[%@] rms %6.1f dBFS  peak %6.1f dBFS  %@%@\u{1B}[K",
                                     bar.joined(), reading.rmsDBFS, reading.peakDBFS, progress, clip))
            drew = true
        } else if seconds - lastLine >= 1 || lastLine < 0 {
            lastLine = seconds
            Output.note(String(format: "recording %@: rms %.1f dBFS, peak %.1f dBFS%@", progress, reading.rmsDBFS, reading.peakDBFS, clip))
        }
    }

    func finish() { if drew { Output.noteInline("\n") } }
}

extension Int {
    func clamped(_ low: Int, _ high: Int) -> Int { Swift.min(high, Swift.max(low, self)) }
}

/// The JSON shape of `earshot record --json`.
struct RecordSummary: Encodable {
    var path: String
    var device: NegotiatedFormat
    var seconds: Double
    var statistics: SignalStatistics
    var capture: CaptureStatistics

    var text: String {
        String(format: "Wrote %@: %.2f s of 16 kHz mono from %@ (%@, %d Hz, %d ch). RMS %.1f dBFS, peak %.1f dBFS, clipped %.3f %%, noise floor %.1f dBFS, SNR ≈ %.1f dB. Overruns: device %d, ring %llu samples.",
               path, seconds, device.device, device.format.rawValue, device.sampleRate, device.channels,
               statistics.rmsDBFS, statistics.peakDBFS, statistics.clippedPercent, statistics.noiseFloorDBFS, statistics.snrDB,
               capture.deviceOverruns, capture.ringOverrunSamples)
    }
}
