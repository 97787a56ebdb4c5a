import ArgumentParser
import EarshotAudio
import EarshotMonitoring
import Foundation

extension Earshot {
    /// `earshot info FILE`: format and level statistics of a recording.
    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a sound file's format, duration and levels (RMS, peak, clipping, DC, noise floor, SNR).",
            discussion: "FILE may be any format libsndfile reads, or - for raw PCM on stdin with --raw.")

        @Argument(help: ArgumentHelp("The sound file, or - for stdin.", valueName: "file")) var path: String
        @Option(help: ArgumentHelp("Layout of raw PCM on stdin: FORMAT[:RATE[:CHANNELS]], e.g. s16le:16000:1.", valueName: "format"))
        var raw: String?
        @Flag(help: "Print one JSON object.") var json = false

        func validate() throws {
            if path == "-" && raw == nil { throw ValidationError("Reading stdin needs --raw FORMAT[:RATE[:CHANNELS]] (stdin has no header).") }
        }

        func run() throws {
            try reportingErrors {
                let reader: any FrameReader
                var report: InfoReport
                if path == "-" {
                    let format = try RawStreamFormat(parsing: raw ?? "s16le")
                    reader = RawPCMReader(fileDescriptor: STDIN_FILENO, format: format)
                    report = InfoReport(path: "-", container: "raw", encoding: format.format.rawValue,
                                        sampleRate: format.sampleRate, channels: format.channels)
                } else {
                    let file = try AudioFileReader(path: path)
                    reader = file
                    report = InfoReport(path: path, container: file.info.container, encoding: file.info.encoding,
                                        sampleRate: file.info.sampleRate, channels: file.info.channels)
                }
                let statistics = try Self.analyse(reader)
                report.fill(statistics, sampleRate: reader.sampleRate)
                print(json ? Output.json(report) : report.text)
            }
        }

        /// Streams the whole input through a `SignalAnalyzer`.
        static func analyse(_ reader: any FrameReader) throws -> SignalStatistics {
            var analyzer = SignalAnalyzer(sampleRate: reader.sampleRate, channels: reader.channels)
            let chunk = 4_096
            var buffer = [Float](repeating: 0, count: chunk * reader.channels)
            while true {
                let frames = try buffer.withUnsafeMutableBufferPointer { (pointer) throws(AudioError) -> Int in
                    try reader.read(into: pointer.baseAddress!, frames: chunk)
                }
                if frames == 0 { break }
                buffer.withUnsafeBufferPointer { analyzer.add($0.baseAddress!, frames: frames) }
            }
            return analyzer.result()
        }
    }
}

/// The JSON shape of `earshot info --json` (snake_case keys). Levels are in dBFS where 0 is full-scale square.
struct InfoReport: Encodable {
    var path: String
    var container: String
    var encoding: String
    var sampleRate: Int
    var channels: Int
    var frames: Int64 = 0
    var duration = 0.0
    var rmsDbfs = 0.0
    var peakDbfs = 0.0
    var clippedPercent = 0.0
    var dcOffset = 0.0
    var noiseFloorDbfs = 0.0
    var signalLevelDbfs = 0.0
    var snrDb = 0.0

    mutating func fill(_ s: SignalStatistics, sampleRate: Int) {
        frames = s.frames
        duration = Output.round(Double(s.frames) / Double(sampleRate), places: 4)
        rmsDbfs = Output.round(s.rmsDBFS)
        peakDbfs = Output.round(s.peakDBFS)
        clippedPercent = Output.round(s.clippedPercent, places: 4)
        dcOffset = Output.round(s.dcOffset, places: 6)
        noiseFloorDbfs = Output.round(s.noiseFloorDBFS)
        signalLevelDbfs = Output.round(s.signalLevelDBFS)
        snrDb = Output.round(s.snrDB)
    }

    var text: String {
        """
        File:         \(path)
        Container:    \(container)
        Encoding:     \(encoding)
        Sample rate:  \(sampleRate) Hz
        Channels:     \(channels)
        Duration:     \(String(format: "%.3f", duration)) s (\(frames) frames)
        RMS level:    \(String(format: "%.1f", rmsDbfs)) dBFS
        Peak level:   \(String(format: "%.1f", peakDbfs)) dBFS
        Clipped:      \(String(format: "%.3f", clippedPercent)) %\(clippedPercent > 0.01 ? "  ⚠ clipping: lower the gain" : "")
        DC offset:    \(String(format: "%+.5f", dcOffset)) of full scale
        Noise floor:  \(String(format: "%.1f", noiseFloorDbfs)) dBFS (10th percentile of 20 ms frames)
        Signal level: \(String(format: "%.1f", signalLevelDbfs)) dBFS (95th percentile)
        SNR (rough):  \(String(format: "%.1f", snrDb)) dB
        """
    }
}
