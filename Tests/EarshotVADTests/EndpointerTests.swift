import EarshotVAD
import Testing

/// The endpointer on synthetic probability sequences, where every boundary is known to the sample.
@Suite("Endpointer")
struct EndpointerTests {
    /// Runs `probabilities` (one per 10 ms frame) with each frame's samples set to its index, and collects utterances.
    static func run(_ probabilities: [Double], _ configure: (inout EndpointerConfiguration) -> Void = { _ in }) throws -> [Utterance] {
        var configuration = EndpointerConfiguration()
        configure(&configuration)
        let endpointer = try Endpointer(configuration)
        var result: [Utterance] = []
        for (index, p) in probabilities.enumerated() {
            let frame = [Int16](repeating: Int16(truncatingIfNeeded: index), count: configuration.frameSamples)
            if let u = frame.withUnsafeBufferPointer({ endpointer.process(frame: $0, probability: p) }) { result.append(u) }
        }
        if let u = endpointer.flush() { result.append(u) }
        return result
    }

    /// `silence` frames of 0, `speech` frames of 1, then `tail` frames of 0.
    static func burst(silence: Int, speech: Int, tail: Int) -> [Double] {
        [Double](repeating: 0, count: silence) + [Double](repeating: 1, count: speech) + [Double](repeating: 0, count: tail)
    }

    @Test func boundariesIncludePreRollAndPostRollToTheSample() throws {
        let utterances = try Self.run(Self.burst(silence: 100, speech: 50, tail: 100))
        #expect(utterances.count == 1)
        let u = try #require(utterances.first)
        #expect(u.speechStart == 100 * 160)
        #expect(u.speechEnd == 150 * 160)
        #expect(u.start == 100 * 160 - 4_800)          // 300 ms pre-roll
        #expect(u.end == 150 * 160 + 1_600)            // 100 ms post-roll
        #expect(u.samples.count == Int(u.end - u.start))
        #expect(u.samples.first == 70 && u.samples.last == 159)   // frame indices 70 … 159
        #expect(!u.truncated && u.speechRatio == 1)
    }

    /// A pause inside the hangover keeps one utterance; pauses of 100 ms or more split it into VAD segments.
    @Test func pausesInsideAnUtteranceCountAsSegments() throws {
        let speech = [Double](repeating: 1, count: 30)
        let probabilities = [Double](repeating: 0, count: 50) + speech + [Double](repeating: 0, count: 15) + speech
            + [Double](repeating: 0, count: 5) + speech + [Double](repeating: 0, count: 20) + speech + [Double](repeating: 0, count: 60)
        let utterances = try Self.run(probabilities)
        #expect(utterances.count == 1)
        #expect(utterances.first?.segments == 3)           // the 50 ms pause does not split; 150 and 200 ms do
        #expect(try Self.run(Self.burst(silence: 50, speech: 40, tail: 60)).first?.segments == 1)
    }

    @Test(arguments: [100, 300, 500, 0])
    func preRollIsHonoured(ms: Int) throws {
        let u = try #require(try Self.run(Self.burst(silence: 200, speech: 30, tail: 60)) { $0.preRollMs = ms }.first)
        #expect(u.start == 200 * 160 - Int64(ms * 16))
    }

    @Test func preRollStopsAtTheStreamStart() throws {
        let u = try #require(try Self.run(Self.burst(silence: 5, speech: 30, tail: 60)).first)
        #expect(u.start == 0)
    }

    @Test func theDecisionWaitsForTheHangoverAndGapsShorterThanItDoNotSplit() throws {
        // Two bursts 250 ms apart stay one utterance with a 300 ms hangover, two with 200 ms.
        let sequence = Self.burst(silence: 50, speech: 30, tail: 0) + Self.burst(silence: 25, speech: 30, tail: 60)
        #expect(try Self.run(sequence).count == 1)
        let split = try Self.run(sequence) { $0.hangoverMs = 200 }
        #expect(split.count == 2)
        #expect(split[1].start >= split[0].end, "utterances never overlap")
    }

    @Test func shortBurstsAreDroppedAndTheAttackIgnoresSingleFrames() throws {
        #expect(try Self.run(Self.burst(silence: 50, speech: 5, tail: 60)) { $0.minSpeechMs = 100 }.isEmpty)
        #expect(try Self.run(Self.burst(silence: 50, speech: 12, tail: 60)) { $0.minSpeechMs = 100 }.count == 1)
        // Isolated one-frame spikes never start speech with a two-frame attack.
        let spikes = (0..<300).map { $0 % 7 == 0 ? 1.0 : 0.0 }
        #expect(try Self.run(spikes).isEmpty)
        #expect(try Self.run(spikes) { $0.attackFrames = 1; $0.minSpeechMs = 0 }.count > 0)
    }

    @Test func hysteresisKeepsSpeechBetweenTheThresholds() throws {
        // 0.4 is below "on" (0.5) but above "off" (0.35): it cannot start speech but keeps it going.
        let sequence = [Double](repeating: 0, count: 50) + [1, 1] + [Double](repeating: 0.4, count: 100) + [Double](repeating: 0, count: 60)
        let u = try #require(try Self.run(sequence).first)
        #expect(u.speechEnd == (50 + 2 + 100) * 160)
        #expect(try Self.run([Double](repeating: 0.4, count: 200)).isEmpty)
    }

    @Test func longSpeechIsCutAtTheMaximumAndContinues() throws {
        let utterances = try Self.run(Self.burst(silence: 10, speech: 500, tail: 60)) { $0.maxUtteranceMs = 2_000 }
        #expect(utterances.count == 3)
        #expect(utterances[0].truncated && utterances[1].truncated && !utterances[2].truncated)
        #expect(utterances.allSatisfy { $0.end - $0.start <= 32_000 })
        #expect(utterances[1].start == utterances[0].end && utterances[2].start == utterances[1].end, "no audio lost between pieces")
    }

    @Test func aStreamEndingInSpeechIsFlushed() throws {
        let u = try #require(try Self.run(Self.burst(silence: 20, speech: 40, tail: 0)).first)
        #expect(u.end == 60 * 160)
    }

    @Test(arguments: [
        { (c: inout EndpointerConfiguration) in c.offThreshold = 0.9 },
        { (c: inout EndpointerConfiguration) in c.attackFrames = 0 },
        { (c: inout EndpointerConfiguration) in c.maxUtteranceMs = 50 },
        { (c: inout EndpointerConfiguration) in c.preRollMs = -1 },
    ] as [@Sendable (inout EndpointerConfiguration) -> Void])
    func badSettingsAreRejected(change: @Sendable (inout EndpointerConfiguration) -> Void) {
        var configuration = EndpointerConfiguration()
        change(&configuration)
        #expect(throws: EndpointerError.self) { try Endpointer(configuration) }
    }
}
