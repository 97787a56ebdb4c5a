public import EarshotDSP
public import EarshotInference
public import EarshotBundles

/// One model window over a clip and what the model said about it.
public struct WindowResult: Sendable, Codable {
    /// Seconds into the clip where the window's audio starts and ends.
    public var start: Double
    public var end: Double
    /// The output tensor's values as integers.
    public var raw: [Int]
    /// Dequantised scores.
    public var scores: [Double]
    /// The label with the highest score.
    public var top: String
}

/// Frontend + model over windows of frames: a keyword classifier such as micro_speech.
public final class Classifier {
    public let configuration: FrontendConfiguration
    public let labels: [String]
    public let windowFrames: Int
    public let hopFrames: Int
    public let scaling: FeatureScaling
    private let frontend: Frontend
    private let interpreter: Interpreter
    private let input: Tensor

    /// Builds the classifier; the model's input must hold `windowFrames × channels` int8 values. Its output has one
    /// score per label, or, when `frameWise` (CTC models), one per label for each of several output frames.
    public init(model: Model, labels: [String], configuration: FrontendConfiguration, scaling: FeatureScaling,
                windowFrames: Int, hopFrames: Int, frameWise: Bool = false) throws(RecognizerError) {
        do {
            frontend = try Frontend(configuration)
        } catch {
            throw RecognizerError(.input, error.description)
        }
        do {
            interpreter = try Interpreter(model: model)
            input = try interpreter.input(0)
        } catch {
            throw RecognizerError(.model, error.message)
        }
        guard input.type == .int8, input.count == windowFrames * configuration.channelCount else {
            throw RecognizerError(.model, "\(model.label) takes \(input.count) × \(input.type), not \(windowFrames) frames × \(configuration.channelCount) channels of INT8.")
        }
        let outputs = (try? interpreter.output(0).count) ?? 0
        guard frameWise ? !labels.isEmpty && outputs > 0 && outputs % labels.count == 0 : labels.count == outputs else {
            throw RecognizerError(.input, "\(labels.count) labels given for \(outputs) model outputs.")
        }
        guard windowFrames > 0, hopFrames > 0 else { throw RecognizerError(.input, "Window and hop must be at least one frame.") }
        self.configuration = configuration
        self.labels = labels
        self.windowFrames = windowFrames
        self.hopFrames = hopFrames
        self.scaling = scaling
    }

    /// Scales one feature value to the model's int8 input.
    @inline(__always)
    func scale(_ feature: UInt16) -> Int8 {
        switch scaling {
        case .microSpeech: return Frontend.microSpeechInt8(feature)
        case .quantize:
            let value = (Double(feature) * 0.0390625 / Double(input.scale) + Double(input.zeroPoint)).rounded(.toNearestOrEven)
            return Int8(clamping: Int(value))
        }
    }

    /// Classifies a whole clip of samples at the configured rate. Clips shorter than one window are padded with
    /// silence, so a 1 s clip gives exactly one micro_speech window.
    public func classify(_ samples: [Int16]) throws(RecognizerError) -> [WindowResult] {
        frontend.reset()
        let needed = (windowFrames - 1) * configuration.strideSamples + configuration.windowSamples
        let padded = samples.count < needed ? samples + [Int16](repeating: 0, count: needed - samples.count) : samples
        let frames = frontend.frames(of: padded)
        var results: [WindowResult] = []
        var start = 0
        let rate = Double(configuration.sampleRate)
        while start + windowFrames <= frames.count {
            let features = frames[start..<(start + windowFrames)].flatMap { $0.map(scale) }
            do {
                try interpreter.setInput(0, features)
                try interpreter.invoke()
                let raw = try interpreter.outputIntegers(0)
                let scores = try interpreter.outputReals(0)
                let best = scores.indices.max { scores[$0] < scores[$1] } ?? 0
                let begin = Double(start * configuration.strideSamples) / rate
                let end = Double((start + windowFrames - 1) * configuration.strideSamples + configuration.windowSamples) / rate
                results.append(WindowResult(start: begin, end: end,
                                            raw: raw, scores: scores, top: labels[best % labels.count]))
            } catch {
                throw RecognizerError(.model, error.message)
            }
            start += hopFrames
        }
        return results
    }
}
