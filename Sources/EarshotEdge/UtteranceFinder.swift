import EarshotBundles
public import EarshotVAD

/// The utterances in a whole recording, by a VAD and the endpointer (for files and uploads, where the audio is all
/// there at once; the live pipeline runs the same two stages frame by frame).
public enum UtteranceFinder {
    /// Utterances of `samples` (16 kHz mono) with the endpointer's defaults and the VAD bundle's own threshold.
    public static func find(in samples: [Int16], detector: VoiceActivityDetector) throws -> [Utterance] {
        var configuration = EndpointerConfiguration()
        configuration.onThreshold = detector.manifest.acceptThreshold
        configuration.offThreshold = configuration.onThreshold * 0.7
        let endpointer = try Endpointer(configuration)
        var found: [Utterance] = []
        let probabilities = try detector.probabilities(samples)
        samples.withUnsafeBufferPointer { buffer in
            for (index, p) in probabilities.enumerated() where (index + 1) * 160 <= buffer.count {
                let block = UnsafeBufferPointer(rebasing: buffer[(index * 160)..<((index + 1) * 160)])
                if let u = endpointer.process(frame: block, probability: p) { found.append(u) }
            }
        }
        if let u = endpointer.flush() { found.append(u) }
        return found
    }
}
