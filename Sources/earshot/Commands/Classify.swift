import ArgumentParser
import EarshotAudio
import EarshotDSP
import EarshotInference
import EarshotRecognizer
import EarshotBundles
import Foundation

/// A model given on the command line: a `.tflite` file, or a bundle directory (verified by hash).
enum ModelSource {
    static func isBundle(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }

    static func load(_ path: String) throws -> Model {
        isBundle(path) ? try ModelBundle(directory: path).model : try Model(contentsOf: path)
    }
}

extension Earshot {
    /// `earshot classify`: frontend plus model over a clip, window by window.
    struct Classify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the frontend and a keyword model over a sound file, printing each window's top scores.",
            discussion: """
            Settings come from the bundle manifest, or from flags for a bare .tflite (defaults: TFLM micro_speech, \
            30 ms window, 20 ms stride, 40 channels, 49-frame windows). A 1 s clip yields exactly one window.
            """)

        @Option(help: ArgumentHelp("A .tflite file or a bundle directory.", valueName: "model")) var model: String
        @Option(help: ArgumentHelp("The sound file (any format libsndfile reads; resampled to the model's rate).", valueName: "file")) var audio: String
        @Option(help: "Comma-separated labels, one per model output (overrides the bundle's).") var labels: String?
        @Option(help: "Window length in ms.") var windowMs: Int?
        @Option(help: "Frame stride in ms.") var strideMs: Int?
        @Option(help: "Mel channels.") var channels: Int?
        @Option(help: "Frames per model window.") var windowFrames: Int?
        @Option(help: "Frames between windows.") var hopFrames: Int?
        @Option(help: "micro_speech or quantize.") var featureScaling: String?
        @Flag(help: "Print one JSON object.") var json = false

        func validate() throws {
            if let featureScaling, FeatureScaling(rawValue: featureScaling) == nil {
                throw ValidationError("--feature-scaling must be micro_speech or quantize, got \(featureScaling).")
            }
        }

        func run() throws {
            try reportingErrors {
                var configuration = FrontendConfiguration.microSpeech
                var labelList: [String]? = nil
                var scaling = FeatureScaling.microSpeech
                var window = 49, hop = 25
                let loaded: Model
                if ModelSource.isBundle(model) {
                    let bundle = try ModelBundle(directory: model)
                    loaded = bundle.model
                    configuration = bundle.manifest.frontend
                    labelList = bundle.manifest.labels
                    scaling = bundle.manifest.featureScaling
                    window = bundle.manifest.windowFrames
                    hop = bundle.manifest.hopFrames
                } else {
                    loaded = try Model(contentsOf: model)
                }
                if let windowMs { configuration.windowMs = windowMs }
                if let strideMs { configuration.strideMs = strideMs }
                if let channels { configuration.channelCount = channels }
                if let windowFrames { window = windowFrames }
                if let hopFrames { hop = hopFrames }
                if let featureScaling { scaling = FeatureScaling(rawValue: featureScaling) ?? scaling }
                if let labels { labelList = labels.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
                let probe = try Interpreter(model: loaded)
                let outputCount = try probe.output(0).count
                let names = labelList ?? (0..<outputCount).map(String.init)
                let classifier = try Classifier(model: loaded, labels: names, configuration: configuration, scaling: scaling,
                                                windowFrames: window, hopFrames: hop)
                let samples = try Self.read(audio, rate: configuration.sampleRate)
                let windows = try classifier.classify(samples)
                if json {
                    print(Output.json(ClassifyReport(labels: names, windows: windows)))
                } else {
                    for w in windows {
                        let ranked = w.scores.indices.sorted { w.scores[$0] > w.scores[$1] }.prefix(3)
                        let tops = ranked.map { "\(names[$0]) " + String(format: "%.3f", w.scores[$0]) }.joined(separator: ", ")
                        print(String(format: "%6.2f–%6.2f s  ", w.start, w.end) + "\(w.top)   (\(tops))")
                    }
                }
            }
        }

        /// The whole file at the model's rate, mono 16-bit.
        static func read(_ path: String, rate: Int) throws -> [Int16] {
            let reader = try AudioFileReader(path: path)
            let source = try ConvertingSource(reader)
            var samples: [Int16] = []
            while try source.read(appendingTo: &samples, maximum: 8_000) {}
            guard rate == StreamConverter.pipelineRate else {
                throw AudioError(.unsupportedFormat, "The model wants \(rate) Hz; Earshot's pipeline runs at 16000 Hz.")
            }
            return samples
        }
    }
}

/// The JSON shape of `earshot classify --json`.
struct ClassifyReport: Encodable {
    var labels: [String]
    var windows: [WindowResult]
}
