import Foundation

/// One decoded word: its label index, the output frames it spans and its confidence.
public struct DecodedWord: Sendable, Equatable {
    public var label: Int
    public var firstFrame: Int
    public var lastFrame: Int
    /// Mean posterior of the word's label over its frames.
    public var confidence: Double
}

/// A decoding and its total log probability.
public struct Decoding: Sendable {
    public var words: [DecodedWord]
    public var logProbability: Double
}

/// CTC decoding of per-frame log posteriors (label 0 is the blank): free best path, or the best path a word network
/// allows (Viterbi over grammar states × "between words" / "inside a word"), so the grammar can change without
/// retraining the model.
public enum CTCDecoder {
    /// Argmax per frame, repeats merged, blanks dropped.
    public static func greedy(_ logProbabilities: [[Double]]) -> Decoding {
        var words: [DecodedWord] = []
        var previous = 0
        var total = 0.0
        for (t, frame) in logProbabilities.enumerated() {
            var best = 0
            for c in frame.indices where frame[c] > frame[best] { best = c }
            total += frame[best]
            if best != 0 {
                if best == previous, let last = words.indices.last {
                    words[last].lastFrame = t
                    words[last].confidence += exp(frame[best])
                } else {
                    words.append(DecodedWord(label: best, firstFrame: t, lastFrame: t, confidence: exp(frame[best])))
                }
            }
            previous = best
        }
        for i in words.indices { words[i].confidence /= Double(words[i].lastFrame - words[i].firstFrame + 1) }
        return Decoding(words: words, logProbability: total)
    }

    /// The most probable path through `graph`; `labelOf[w]` is the model label of the graph's word `w`. Nil when no
    /// path fits in the frames available (a sentence needs at least one frame per word, plus a blank between repeats).
    public static func constrained(_ logProbabilities: [[Double]], graph: WordGraph, labelOf: [Int]) -> Decoding? {
        let states = graph.stateCount
        var arcSource: [Int] = [], arcTarget: [Int] = [], arcLabel: [Int] = [], arcWeight: [Double] = []
        var arcsInto = [[Int]](repeating: [], count: states)
        var arcsOutOf = [[Int]](repeating: [], count: states)
        for (s, out) in graph.arcs.enumerated() {
            for arc in out {
                arcsOutOf[s].append(arcSource.count)
                arcsInto[arc.target].append(arcSource.count)
                arcSource.append(s); arcTarget.append(arc.target); arcLabel.append(labelOf[arc.word]); arcWeight.append(arc.logWeight)
            }
        }
        let arcs = arcSource.count
        let frames = logProbabilities.count
        // Scores of "at node s, between words" (index s) and "inside arc a" (index states + a).
        var score = [Double](repeating: -.infinity, count: states + arcs)
        score[graph.start] = 0
        // back[t][i]: the state index the best path was in before frame t; entered[t][i]: a new word began at t.
        var back = [[Int32]](repeating: [Int32](repeating: -1, count: states + arcs), count: frames)
        var next = score
        for t in 0..<frames {
            let frame = logProbabilities[t]
            let blank = frame[0]
            for i in next.indices { next[i] = -.infinity }
            for s in 0..<states {
                // Stay between words on a blank: from the node itself or from the end of any word arriving here.
                var best = score[s], from = s
                for a in arcsInto[s] where score[states + a] > best { best = score[states + a]; from = states + a }
                if best > -.infinity { next[s] = best + blank; back[t][s] = Int32(from) }
            }
            for a in 0..<arcs {
                let label = arcLabel[a], source = arcSource[a]
                // Continue the same word, or enter it from its source node, or straight from a different word ending there.
                var best = score[states + a], from = states + a
                let enter = score[source] + arcWeight[a]
                if enter > best { best = enter; from = source }
                for b in arcsInto[source] where arcLabel[b] != label {
                    let candidate = score[states + b] + arcWeight[a]
                    if candidate > best { best = candidate; from = states + b }
                }
                if best > -.infinity { next[states + a] = best + frame[label]; back[t][states + a] = Int32(from) }
            }
            swap(&score, &next)
        }
        var end = -1
        var endScore = -Double.infinity
        for s in graph.finals.sorted() where score[s] > endScore { endScore = score[s]; end = s }   // sorted: ties resolve the same way every run
        for a in 0..<arcs where graph.finals.contains(arcTarget[a]) && score[states + a] > endScore { endScore = score[states + a]; end = states + a }
        guard end >= 0, endScore > -.infinity else { return nil }
        // Trace back: runs of frames spent in the same arc after entering it are one word.
        var path = [Int](repeating: 0, count: frames)
        var current = end
        for t in stride(from: frames - 1, through: 0, by: -1) {
            path[t] = current
            current = Int(back[t][current])
        }
        var words: [DecodedWord] = []
        for t in 0..<frames where path[t] >= states {
            let a = path[t] - states
            let newWord = t == 0 || path[t - 1] != path[t]
            let p = exp(logProbabilities[t][arcLabel[a]])
            if newWord {
                words.append(DecodedWord(label: arcLabel[a], firstFrame: t, lastFrame: t, confidence: p))
            } else {
                words[words.count - 1].lastFrame = t
                words[words.count - 1].confidence += p
            }
        }
        for i in words.indices { words[i].confidence /= Double(words[i].lastFrame - words[i].firstFrame + 1) }
        return Decoding(words: words, logProbability: endScore)
    }
}
