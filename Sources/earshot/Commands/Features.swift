import ArgumentParser
import EarshotAudio
import EarshotDSP
import Foundation

extension Earshot {
    /// `earshot features`: the frontend's output for a file, so training code uses exactly what Earshot computes.
    struct Features: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the fixed-point frontend's features for a sound file (one frame per stride).",
            discussion: """
            Training pipelines call this so the features a model learns from are bit for bit the features it will see \
            (no training-serving skew). --format raw writes little-endian uint16, frames × channels, to stdout.
            """)

        @Argument(help: ArgumentHelp("The sound file (resampled to 16 kHz mono).", valueName: "file")) var path: String
        @Option(help: "Window length in ms.") var windowMs = 30
        @Option(help: "Frame stride in ms.") var strideMs = 20
        @Option(help: "Mel channels.") var channels = 40
        @Option(help: "Table convention: microFrontend or signalLibrary.") var tables = "signalLibrary"
        @Option(help: "Output: json (an array of frames) or raw (uint16 little-endian).") var format = "json"
        @Option(help: ArgumentHelp("Treat the file as back-to-back clips of this many samples: the frontend starts afresh at each clip, as it does for one utterance, and each clip gives the same number of frames.", valueName: "samples"))
        var clipSamples: Int?

        func validate() throws {
            guard FrontendTableConvention(rawValue: tables) != nil else { throw ValidationError("--tables must be microFrontend or signalLibrary.") }
            guard ["json", "raw"].contains(format) else { throw ValidationError("--format must be json or raw.") }
            if let clipSamples, clipSamples < windowMs * 16 { throw ValidationError("--clip-samples must hold at least one window (\(windowMs * 16) samples).") }
        }

        func run() throws {
            try reportingErrors {
                var configuration = FrontendConfiguration()
                configuration.windowMs = windowMs
                configuration.strideMs = strideMs
                configuration.channelCount = channels
                configuration.tables = FrontendTableConvention(rawValue: tables) ?? .signalLibrary
                let samples = try Classify.read(path, rate: configuration.sampleRate)
                let frontend = try Frontend(configuration)
                var frames: [[UInt16]] = []
                if let clipSamples {
                    // Whole clips only: a trailing partial clip would give a different frame count.
                    guard samples.count % clipSamples == 0 else {
                        throw AudioError(.unsupportedFormat, "\(path) holds \(samples.count) samples, not a whole number of \(clipSamples)-sample clips.")
                    }
                    var start = 0
                    while start < samples.count {
                        frontend.reset()
                        frames += frontend.frames(of: Array(samples[start..<(start + clipSamples)]))
                        start += clipSamples
                    }
                } else {
                    frames = frontend.frames(of: samples)
                }
                if format == "raw" {
                    var bytes = Data(capacity: frames.count * channels * 2)
                    for frame in frames { for v in frame { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } } }
                    FileHandle.standardOutput.write(bytes)
                } else {
                    print(Output.json(frames))
                }
            }
        }
    }
}
