public import EarshotBundles
import EarshotDSP
public import EarshotInference

/// The streaming VAD: one speech probability per 10 ms block, in integer arithmetic from PCM to score.
///
/// Fixed-point frontend (30 ms window, 10 ms stride) → int8 features → the last `windowFrames` frames → int8 model
/// (run by Earshot's interpreter) → Q15 probability. The score of block `i` uses audio up to the end of block `i`
/// only (no look-ahead). Blocks before the first full context score 0. One owner, one thread; no allocation per block.
public final class VoiceActivityDetector {
    public let manifest: BundleManifest
    private let frontend: Frontend
    private let interpreter: Interpreter
    private let input: Tensor
    private let output: Tensor
    private let channels: Int
    private let contextFrames: Int
    private let context: UnsafeMutablePointer<Int8>       // contextFrames × channels, oldest first
    private var framesSeen = 0
    /// 10 ms blocks whose probability has been reported so far.
    public private(set) var blocksReported = 0
    private var samplesSeen = 0

    /// Loads a VAD bundle (hash-verified).
    public convenience init(bundle directory: String) throws(RecognizerError) {
        let bundle = try ModelBundle(directory: directory)
        try self.init(model: bundle.model, manifest: bundle.manifest)
    }

    /// Builds the detector; the model must take `windowFrames × channels` int8 and give one int8 probability.
    public init(model: Model, manifest: BundleManifest) throws(RecognizerError) {
        guard manifest.kind == "vad" else { throw RecognizerError(.bundle, "\(manifest.name) is a \(manifest.kind) model, not a VAD.") }
        guard manifest.frontend.sampleRate == 16_000, manifest.frontend.strideMs == 10 else {
            throw RecognizerError(.bundle, "A VAD needs a 16 kHz frontend with a 10 ms stride.")
        }
        self.manifest = manifest
        do {
            frontend = try Frontend(manifest.frontend)
        } catch {
            throw RecognizerError(.bundle, error.description)
        }
        do {
            interpreter = try Interpreter(model: model)
            input = try interpreter.input(0)
            output = try interpreter.output(0)
        } catch {
            throw RecognizerError(.model, error.message)
        }
        channels = manifest.frontend.channelCount
        contextFrames = manifest.windowFrames
        guard input.type == .int8, input.count == channels * contextFrames, output.type == .int8, output.count == 1 else {
            throw RecognizerError(.model, "\(model.label) must map \(contextFrames) × \(channels) INT8 features to one INT8 probability.")
        }
        context = .allocate(capacity: channels * contextFrames)
        context.initialize(repeating: -128, count: channels * contextFrames)
    }

    deinit { context.deallocate() }

    /// Bytes of streaming state carried between blocks: frontend buffers and noise estimates, the feature context,
    /// and any model variables.
    public var stateBytes: Int { frontend.stateBytes + channels * contextFrames + interpreter.variableSize }

    /// Bytes of model weights and other constants.
    public var weightBytes: Int { interpreter.constantSize }

    /// Feeds samples; `onBlock` receives each completed 10 ms block's index and probability in Q15 (0…32768).
    public func process(_ samples: UnsafeBufferPointer<Int16>, onBlock: (_ block: Int, _ probabilityQ15: Int32) -> Void) throws(RecognizerError) {
        var offset = 0
        while offset < samples.count {
            var consumed = 0
            let ready = frontend.process(UnsafeBufferPointer(rebasing: samples[offset...]), consumed: &consumed)
            offset += consumed
            samplesSeen += consumed
            guard ready else { continue }
            // Slide the context window by one frame and append the new frame's int8 features.
            // Overlapping regions: copyMemory is memmove.
            UnsafeMutableRawPointer(context).copyMemory(from: context + channels, byteCount: channels * (contextFrames - 1))
            let newest = context + channels * (contextFrames - 1)
            for c in 0..<channels { newest[c] = Frontend.microSpeechInt8(frontend.features[c]) }
            framesSeen += 1
            let block = framesSeen - 1 + manifest.lookbackBlocks
            // Blocks before this frame's block had no full context: they score zero.
            while blocksReported < block { onBlock(blocksReported, 0); blocksReported += 1 }
            var probability: Int32 = 0
            if framesSeen >= contextFrames {
                input.data.copyMemory(from: context, byteCount: channels * contextFrames)
                do { try interpreter.invoke() } catch { throw RecognizerError(.model, error.message) }
                // int8 with scale 1/256, zero point −128 → Q15.
                probability = (Int32(output.pointer(Int8.self).pointee) + 128) << 7
            }
            onBlock(block, probability)
            blocksReported = block + 1
        }
    }

    /// Forgets all state, as for a new stream.
    public func reset() {
        frontend.reset()
        interpreter.reset()
        context.update(repeating: -128, count: channels * contextFrames)
        framesSeen = 0
        blocksReported = 0
        samplesSeen = 0
    }

    /// Probabilities (0…1) for a whole clip: exactly one per complete 10 ms block.
    public func probabilities(_ samples: [Int16]) throws(RecognizerError) -> [Double] {
        reset()
        var result: [Double] = []
        result.reserveCapacity(samples.count / 160)
        try samples.withUnsafeBufferPointer { (buffer) throws(RecognizerError) in
            try process(buffer) { _, p in result.append(Double(p) / 32_768) }
        }
        let blocks = samples.count / 160
        while result.count < blocks { result.append(0) }
        return Array(result.prefix(blocks))
    }
}
