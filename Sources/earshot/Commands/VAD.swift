import ArgumentParser
import EarshotAudio
import EarshotBundles
import EarshotVAD
import Foundation

/// Where shipped model bundles live: `$EARSHOT_MODELS`, else a `Models` folder found walking up from the
/// executable (a source checkout), else /usr/share/earshot/models.
enum ModelLocator {
    static func bundle(_ relative: String) -> String? {
        var candidates: [String] = []
        if let root = ProcessInfo.processInfo.environment["EARSHOT_MODELS"] { candidates.append(root) }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(directory.appendingPathComponent("Models").path)
            directory.deleteLastPathComponent()
        }
        candidates.append("/usr/share/earshot/models")
        return candidates.map { "\($0)/\(relative)" }.first { FileManager.default.fileExists(atPath: $0 + "/manifest.json") }
    }

    /// The recognition bundle (the given one, else command-en, or phrase-en when a grammar is given) and the VAD bundle.
    static func recognitionAndVAD(model: String?, grammar: String?, vad: String?) throws(RecognizerError) -> (model: String, vad: String) {
        guard let modelDirectory = model ?? bundle(grammar == nil ? "command/command-en" : "phrase/phrase-en") else {
            throw RecognizerError(.bundle, "No recognition bundle found: pass --model, or set EARSHOT_MODELS.")
        }
        guard let vadDirectory = vad ?? bundle("vad/earshot-vad-en") else {
            throw RecognizerError(.bundle, "No VAD bundle found: pass --vad, or set EARSHOT_MODELS.")
        }
        return (modelDirectory, vadDirectory)
    }
}

extension Earshot {
    /// `earshot vad`: speech probabilities and segments for a file or a live device.
    struct VAD: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Detect speech: one probability per 10 ms frame, or speech segments, from a file or an ALSA device.",
            discussion: """
            --format frames prints exactly one probability per 10 ms frame, one per line, and nothing else; segments \
            prints start and end seconds per line; json prints one object with both.
            """)

        @Argument(help: ArgumentHelp("A sound file (any format libsndfile reads, resampled to 16 kHz).", valueName: "file")) var path: String?
        @Option(name: .shortAndLong, help: "Capture live from this ALSA device instead of a file.") var device: String?
        @Option(help: "Seconds to listen with --device (default: until Ctrl-C).") var seconds: Double?
        @Option(help: "Speech threshold, 0…1 (default: the model's).") var threshold: Double?
        @Option(help: "Output: frames, segments or json.") var format = "segments"
        @Option(name: .customLong("level-floor"),
                help: ArgumentHelp("Blocks quieter than this for 160 ms score 0: dBFS (−100…0, written --level-floor=-50), or off (default −60).", valueName: "dbfs"))
        var levelFloor: String?
        @Option(help: ArgumentHelp("A VAD bundle directory (default: the shipped earshot-vad-en).", valueName: "bundle")) var model: String?
        @OptionGroup var alsa: ALSAOptions

        func validate() throws {
            guard ["frames", "segments", "json"].contains(format) else { throw ValidationError("--format must be frames, segments or json.") }
            guard (path == nil) != (device == nil) else { throw ValidationError("Give a file or --device, not both or neither.") }
            if let threshold, !(0...1).contains(threshold) { throw ValidationError("--threshold must be within 0…1.") }
            if let levelFloor, levelFloor != "off", !(Double(levelFloor).map { (-100...0).contains($0) } ?? false) {
                throw ValidationError("--level-floor must be a dBFS value within −100…0, or off.")
            }
        }

        func run() throws {
            try reportingErrors {
                guard let directory = model ?? ModelLocator.bundle("vad/earshot-vad-en") else {
                    throw RecognizerError(.bundle, "No VAD bundle found: pass --model, or set EARSHOT_MODELS.")
                }
                let detector = try VoiceActivityDetector(bundle: directory)
                if let levelFloor { detector.levelFloorDBFS = levelFloor == "off" ? nil : Double(levelFloor) }
                var endpointing = EndpointerConfiguration()
                endpointing.onThreshold = threshold ?? detector.manifest.acceptThreshold
                endpointing.offThreshold = endpointing.onThreshold * 0.7
                let endpointer = try Endpointer(endpointing)
                let emitter = VADEmitter(format: format, endpointer: endpointer)
                if let path {
                    let samples = try Classify.read(path, rate: 16_000)
                    let probabilities = try detector.probabilities(samples)
                    for (index, p) in probabilities.enumerated() {
                        let block = Array(samples[(index * 160)..<((index + 1) * 160)])
                        emitter.block(p, samples: block)
                    }
                    emitter.finish(model: "\(detector.manifest.name)@\(detector.manifest.version)")
                } else if let device {
                    var configuration = CaptureConfiguration(device: device)
                    configuration.configurationFile = alsa.resolvedConfigurationFile
                    // Capture waits for the VAD rather than dropping audio (a real device reports overruns instead).
                    configuration.overflowPolicy = .block
                    let session = try CaptureSession(configuration)
                    let interrupt = Record.stopOnInterrupt(session)
                    defer { interrupt.cancel() }
                    session.start(frameLimit: seconds.map { UInt64($0 * Double(session.negotiated.sampleRate)) })
                    let source = CaptureSource(session)
                    var pending: [Int16] = []
                    var consumed = 0
                    while try source.read(appendingTo: &pending, maximum: 1_600) {
                        try pending.withUnsafeBufferPointer { (buffer) throws(RecognizerError) in
                            try detector.process(UnsafeBufferPointer(rebasing: buffer[consumed...])) { block, q15 in
                                let start = block * 160
                                let samples = start + 160 <= pending.count ? Array(pending[start..<(start + 160)]) : [Int16](repeating: 0, count: 160)
                                emitter.block(Double(q15) / 32_768, samples: samples)
                            }
                        }
                        consumed = pending.count
                    }
                    emitter.finish(model: "\(detector.manifest.name)@\(detector.manifest.version)")
                }
            }
        }
    }
}

/// Prints VAD output as blocks arrive, in the chosen format.
final class VADEmitter {
    let format: String
    let endpointer: Endpointer
    private var probabilities: [Double] = []
    private var segments: [(Double, Double)] = []

    init(format: String, endpointer: Endpointer) {
        self.format = format
        self.endpointer = endpointer
    }

    func block(_ probability: Double, samples: [Int16]) {
        if format == "frames" { print(String(format: "%.4f", probability)) }
        if format == "json" { probabilities.append((probability * 10_000).rounded() / 10_000) }
        if let u = samples.withUnsafeBufferPointer({ endpointer.process(frame: $0, probability: probability) }) { segment(u) }
    }

    private func segment(_ u: Utterance) {
        let pair = (Double(u.start) / 16_000, Double(u.end) / 16_000)
        if format == "segments" { print(String(format: "%.3f %.3f", pair.0, pair.1)) }
        segments.append(pair)
    }

    func finish(model: String) {
        if let u = endpointer.flush() { segment(u) }
        if format == "json" {
            struct Report: Encodable {
                struct Segment: Encodable { var start: Double; var end: Double }
                var model: String; var frameMs: Int; var probabilities: [Double]; var segments: [Segment]
            }
            print(Output.json(Report(model: model, frameMs: 10, probabilities: probabilities,
                                     segments: segments.map { .init(start: $0.0, end: $0.1) })))
        }
    }
}
