public import EarshotBundles
import EarshotDSP
import Foundation
public import EarshotInference

/// The streaming VAD: one speech probability per 10 ms block, in integer arithmetic from PCM to score.
///
/// Fixed-point frontend (30 ms window, 10 ms stride) → int8 features → the last `windowFrames` frames → int8 model
/// (run by Earshot's interpreter) → Q15 probability. The score of block `i` uses audio up to the end of block `i`
/// only (no look-ahead). Blocks before the first full context score 0. One owner, one thread; no allocation per block.
///
/// A level gate follows the model: a block scores 0 when it and the 15 blocks before it are all below
/// `levelFloorDBFS`. The model is level-normalised by the frontend's gain control, so without the gate it can call
/// barely audible speech-like sound (distant babble at −80 dBFS) speech; the training labels call any block below
/// −60 dBFS non-speech, and the 160 ms look-back keeps short pauses inside speech open, as the labels do.
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
    /// Σ x² of recent 10 ms blocks, indexed by block number modulo `levelRing` (twice the gate's look-back, so the
    /// block being filled never overwrites one the gate still reads).
    private var blockEnergy = [Int64](repeating: 0, count: VoiceActivityDetector.levelRing)
    private var levelThreshold: Int64 = 0
    static let levelHistory = 16
    static let levelRing = 32

    /// Blocks whose level stayed below this (dBFS, mean power relative to a full-scale square wave) for 160 ms score
    /// 0; `nil` turns the gate off. Default −60 dBFS, the floor of the training labels.
    public var levelFloorDBFS: Double? = -60 {
        didSet { levelThreshold = Self.threshold(levelFloorDBFS) }
    }

    /// The block Σ x² (160 int16 samples) that corresponds to `dbfs`; 0 when the gate is off.
    static func threshold(_ dbfs: Double?) -> Int64 {
        guard let dbfs else { return 0 }
        let meanSquare = 32_768.0 * 32_768.0 * pow(10, min(0, dbfs) / 10)
        return Int64((meanSquare * 160).rounded(.up))
    }

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
        levelThreshold = Self.threshold(levelFloorDBFS)
    }

    deinit { context.deallocate() }

    /// Bytes of streaming state carried between blocks: frontend buffers and noise estimates, the feature context,
    /// any model variables, and the level gate's block energies.
    public var stateBytes: Int {
        frontend.stateBytes + channels * contextFrames + interpreter.variableSize + blockEnergy.count * MemoryLayout<Int64>.size
    }

    /// Bytes of model weights and other constants.
    public var weightBytes: Int { interpreter.constantSize }

    /// Feeds samples; `onBlock` receives each completed 10 ms block's index and probability in Q15 (0…32768).
    public func process(_ samples: UnsafeBufferPointer<Int16>, onBlock: (_ block: Int, _ probabilityQ15: Int32) -> Void) throws(RecognizerError) {
        var offset = 0
        while offset < samples.count {
            var consumed = 0
            let ready = frontend.process(UnsafeBufferPointer(rebasing: samples[offset...]), consumed: &consumed)
            accumulateEnergy(UnsafeBufferPointer(rebasing: samples[offset..<(offset + consumed)]))
            offset += consumed
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
                if levelThreshold > 0 && !levelOpen(through: block) { probability = 0 }
            }
            onBlock(block, probability)
            blocksReported = block + 1
        }
    }

    /// Adds samples to the running Σ x² of the blocks they fall in (exact: at most 160 · 2^30 per block). Runs a
    /// block-sized stretch at a time so the inner loop is a plain sum of squares.
    private func accumulateEnergy(_ samples: UnsafeBufferPointer<Int16>) {
        var index = 0
        while index < samples.count {
            let position = samplesSeen % 160, slot = (samplesSeen / 160) % Self.levelRing
            if position == 0 { blockEnergy[slot] = 0 }
            let count = min(160 - position, samples.count - index)
            var sum: Int64 = 0
            for i in index..<(index + count) {
                let value = Int32(samples[i])
                sum &+= Int64(value &* value)
            }
            blockEnergy[slot] &+= sum
            index += count
            samplesSeen += count
        }
    }

    /// Whether any of the `levelHistory` blocks ending at `block` reached the level floor. Only blocks already heard
    /// count (the block being scored is complete when its frame is ready).
    private func levelOpen(through block: Int) -> Bool {
        let heard = samplesSeen / 160          // complete blocks so far
        let last = min(block, heard - 1)
        guard last >= 0 else { return false }
        for b in max(0, last - Self.levelHistory + 1)...last where blockEnergy[b % Self.levelRing] >= levelThreshold {
            return true
        }
        return false
    }

    /// Forgets all state, as for a new stream.
    public func reset() {
        frontend.reset()
        interpreter.reset()
        context.update(repeating: -128, count: channels * contextFrames)
        framesSeen = 0
        blocksReported = 0
        samplesSeen = 0
        for i in blockEnergy.indices { blockEnergy[i] = 0 }
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
