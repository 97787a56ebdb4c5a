import EarshotRecognizer
import Foundation
import Testing

/// CTC decoding on hand-made posteriors, where the right answer is known exactly.
@Suite("CTC decoding")
struct CTCDecoderTests {
    /// Log posteriors over `labels` labels with `p` on the given label of each frame and the rest spread evenly.
    static func frames(_ best: [Int], labels: Int = 6, p: Double = 0.9) -> [[Double]] {
        best.map { b in (0..<labels).map { $0 == b ? log(p) : log((1 - p) / Double(labels - 1)) } }
    }

    @Test func greedyMergesRepeatsAndDropsBlanksWithFramesAndConfidence() {
        let decoding = CTCDecoder.greedy(Self.frames([0, 2, 2, 0, 3, 3, 3, 0, 3, 0]))
        #expect(decoding.words.map(\.label) == [2, 3, 3])
        #expect(decoding.words.map(\.firstFrame) == [1, 4, 8] && decoding.words.map(\.lastFrame) == [2, 6, 8])
        #expect(decoding.words.allSatisfy { abs($0.confidence - 0.9) < 1e-12 })
        #expect(abs(decoding.logProbability - 10 * log(0.9)) < 1e-9)
    }

    @Test func grammarForcesTheAllowedSentenceAndReportsTheWeakWord() throws {
        // Labels: 0 blank, 1 go, 2 forward, 3 backward, 4 ten, 5 left. The audio "says" go left ten.
        let graph = try WordGraph(grammar: JSGFGrammar(source: "#JSGF V1.0; grammar g; public <m> = go (forward | backward) ten;"))
        let labelOf = graph.words.map { ["go": 1, "forward": 2, "backward": 3, "ten": 4][$0]! }
        var posteriors = Self.frames([0, 1, 1, 0, 5, 5, 0, 4, 4, 0])
        // "forward" is second best on the frames that say "left".
        for t in [4, 5] { posteriors[t][2] = log(0.06); posteriors[t][3] = log(0.01) }
        let free = CTCDecoder.greedy(posteriors)
        #expect(free.words.map(\.label) == [1, 5, 4])
        let decoding = try #require(CTCDecoder.constrained(posteriors, graph: graph, labelOf: labelOf))
        #expect(decoding.words.map(\.label) == [1, 2, 4])
        #expect(decoding.words[1].confidence < 0.1 && decoding.words[0].confidence > 0.8)
        #expect(decoding.logProbability < free.logProbability)
    }

    @Test func repeatedWordsNeedABlankBetweenThem() throws {
        let graph = try WordGraph(grammar: JSGFGrammar(source: "#JSGF V1.0; grammar g; public <d> = (one | two)+;"))
        let labelOf = graph.words.map { ["one": 1, "two": 2][$0]! }
        let merged = try #require(CTCDecoder.constrained(Self.frames([1, 1, 1, 1], labels: 3), graph: graph, labelOf: labelOf))
        #expect(merged.words.map(\.label) == [1])
        let separated = try #require(CTCDecoder.constrained(Self.frames([1, 1, 0, 1], labels: 3), graph: graph, labelOf: labelOf))
        #expect(separated.words.map(\.label) == [1, 1] && separated.words[1].firstFrame == 3)
        let changed = try #require(CTCDecoder.constrained(Self.frames([1, 2, 1, 2], labels: 3), graph: graph, labelOf: labelOf))
        #expect(changed.words.map(\.label) == [1, 2, 1, 2])
    }

    @Test func noPathWhenTheSentenceCannotFitAndWeightsBreakTies() throws {
        let graph = try WordGraph(grammar: JSGFGrammar(source: "#JSGF V1.0; grammar g; public <m> = go forward ten;"))
        let labelOf = graph.words.map { ["go": 1, "forward": 2, "ten": 3][$0]! }
        #expect(CTCDecoder.constrained(Self.frames([1, 2], labels: 4), graph: graph, labelOf: labelOf) == nil)
        // Two words the audio cannot tell apart (equal posteriors): the heavier alternative wins.
        let weighted = try WordGraph(grammar: JSGFGrammar(source: "#JSGF V1.0; grammar g; public <a> = /1/ yes | /9/ no;"))
        let labels = weighted.words.map { ["yes": 1, "no": 2][$0]! }
        let even = [[log(0.1), log(0.45), log(0.45)], [log(0.1), log(0.45), log(0.45)]]
        #expect(CTCDecoder.constrained(even, graph: weighted, labelOf: labels)?.words.map(\.label) == [2])
    }
}
