import Foundation

/// A finite word network compiled from a grammar: states joined by arcs that each consume one word. A decoder walks it
/// to keep only what the grammar allows; changing the grammar changes the network, never the model.
public struct WordGraph: Sendable {
    public struct Arc: Sendable, Hashable {
        /// Index into `words`.
        public var word: Int
        public var target: Int
        /// Natural log of the arc's share among its alternatives (JSGF weights); 0 when unweighted.
        public var logWeight: Double
    }

    public let words: [String]
    public let arcs: [[Arc]]
    public let start: Int
    /// States where a sentence may end.
    public let finals: Set<Int>

    public var stateCount: Int { arcs.count }

    /// Compiles the grammar's public rules (or the named ones) into one network; more than 100 000 states is refused.
    public init(grammar: JSGFGrammar, rules: [String]? = nil) throws(GrammarError) {
        let roots = rules ?? grammar.publicRules
        for r in roots where grammar.rules[r] == nil { throw GrammarError("there is no rule <\(r)>") }
        var builder = Builder(grammar: grammar)
        let start = builder.newState(), final = builder.newState()
        let share = log(1 / Double(roots.count))
        for r in roots {
            let entry = builder.newState()
            builder.epsilon(start, entry, share)
            let exit = try builder.build(.reference(r), from: entry)
            builder.epsilon(exit, final, 0)
        }
        (words, arcs, self.start, finals) = builder.finish(start: start, final: final)
    }

    /// Whether the grammar allows exactly this word sequence.
    public func accepts(_ sentence: [String]) -> Bool {
        var current: Set<Int> = [start]
        for word in sentence {
            guard let w = words.firstIndex(of: word) else { return false }
            current = Set(current.flatMap { arcs[$0].filter { $0.word == w }.map(\.target) })
            if current.isEmpty { return false }
        }
        return !current.isDisjoint(with: finals)
    }

    /// Up to `limit` sentences the grammar allows, shortest first (for tests, previews and synthesising data).
    public func sentences(limit: Int, maximumLength: Int = 12) -> [[String]] {
        var found: [[String]] = []
        var frontier: [(Int, [Int])] = [(start, [])]
        while !frontier.isEmpty, found.count < limit {
            var next: [(Int, [Int])] = []
            for (state, path) in frontier {
                if finals.contains(state) { found.append(path.map { words[$0] }); if found.count == limit { break } }
                guard path.count < maximumLength else { continue }
                for arc in arcs[state] { next.append((arc.target, path + [arc.word])) }
            }
            frontier = next
        }
        return found
    }
}

/// Thompson construction with ε-arcs, then ε-removal and pruning of states that cannot reach an end.
private struct Builder {
    let grammar: JSGFGrammar
    var wordArcs: [[(word: String, target: Int)]] = []
    var epsilons: [[(target: Int, logWeight: Double)]] = []
    static let stateLimit = 100_000

    init(grammar: JSGFGrammar) { self.grammar = grammar }

    mutating func newState() -> Int {
        wordArcs.append([]); epsilons.append([])
        return wordArcs.count - 1
    }

    mutating func epsilon(_ from: Int, _ to: Int, _ logWeight: Double) { epsilons[from].append((to, logWeight)) }

    /// Adds `e` starting at `from`; returns the state where it ends.
    mutating func build(_ e: GrammarExpansion, from: Int) throws(GrammarError) -> Int {
        guard wordArcs.count < Self.stateLimit else { throw GrammarError("the grammar expands to more than \(Self.stateLimit) states") }
        switch e {
        case .word(let w):
            let to = newState()
            wordArcs[from].append((w, to))
            return to
        case .reference(let name):
            // JSGFGrammar checked that every reference resolves and none is recursive.
            return try build(grammar.rules[name] ?? .void, from: from)
        case .sequence(let items):
            var at = from
            for item in items { at = try build(item, from: at) }
            return at
        case .alternatives(let items, let weights):
            let end = newState()
            let total = weights.reduce(0, +)
            for (item, weight) in zip(items, weights) where weight > 0 || total == 0 {
                let entry = newState()
                epsilon(from, entry, total > 0 ? log(weight / total) : log(1 / Double(items.count)))
                let exit = try build(item, from: entry)
                epsilon(exit, end, 0)
            }
            return end
        case .optional(let inner):
            let exit = try build(inner, from: from)
            epsilon(from, exit, 0)
            return exit
        case .repeated(let inner, let minimum):
            let entry = newState()
            epsilon(from, entry, 0)
            let exit = try build(inner, from: entry)
            epsilon(exit, entry, 0)
            if minimum == 0 { epsilon(entry, exit, 0) }
            return exit
        case .null:
            return from
        case .void:
            return newState()    // no arc reaches the rest of the network from here
        }
    }

    /// The best (highest log weight) ε-path from `state` to every state it reaches without consuming a word.
    func closure(_ state: Int) -> [Int: Double] {
        var best: [Int: Double] = [state: 0]
        var stack = [state]
        while let s = stack.popLast() {
            for (t, w) in epsilons[s] {
                let score = best[s]! + w
                if score > (best[t] ?? -.infinity) { best[t] = score; stack.append(t) }
            }
        }
        return best
    }

    func finish(start: Int, final: Int) -> ([String], [[WordGraph.Arc]], Int, Set<Int>) {
        // ε-removal over the states reachable from start, numbered in discovery order.
        var index: [Int: Int] = [start: 0]
        var order = [start]
        var vocabulary: [String] = []
        var wordIndex: [String: Int] = [:]
        var arcs: [[WordGraph.Arc]] = []
        var finals: Set<Int> = []
        var cursor = 0
        while cursor < order.count {
            let state = order[cursor]
            var out: [WordGraph.Arc] = []
            var seen: [Int: Int] = [:]       // (word, target) key → position in out
            for (s, w) in closure(state).sorted(by: { $0.key < $1.key }) {
                if s == final { finals.insert(cursor) }
                for (word, target) in wordArcs[s] {
                    if index[target] == nil { index[target] = order.count; order.append(target) }
                    if wordIndex[word] == nil { wordIndex[word] = vocabulary.count; vocabulary.append(word) }
                    let arc = WordGraph.Arc(word: wordIndex[word]!, target: index[target]!, logWeight: w)
                    let key = arc.word &* 1_000_003 &+ arc.target
                    if let k = seen[key] { out[k].logWeight = max(out[k].logWeight, w) } else { seen[key] = out.count; out.append(arc) }
                }
            }
            arcs.append(out)
            cursor += 1
        }
        // Drop arcs into states from which no final state can be reached (<VOID> branches).
        var alive = finals
        var changed = true
        while changed {
            changed = false
            for (s, out) in arcs.enumerated() where !alive.contains(s) && out.contains(where: { alive.contains($0.target) }) {
                alive.insert(s); changed = true
            }
        }
        let pruned = arcs.map { $0.filter { alive.contains($0.target) } }
        return (vocabulary, pruned, 0, finals)
    }
}
