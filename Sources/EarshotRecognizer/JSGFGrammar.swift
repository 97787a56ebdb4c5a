import Foundation

/// A grammar that could not be read, with the line and column where reading stopped.
public struct GrammarError: Error, Sendable, CustomStringConvertible, Equatable {
    public var message: String
    public var line: Int
    public var column: Int
    /// The grammar file could not be read at all (missing, unreadable or not text).
    public var unreadable = false
    public init(_ message: String, line: Int = 0, column: Int = 0) { self.message = message; self.line = line; self.column = column }
    public var description: String { line > 0 ? "Grammar, line \(line) column \(column): \(message)." : "Grammar: \(message)." }
}

/// The right-hand side of a JSGF rule.
public indirect enum GrammarExpansion: Sendable, Equatable {
    case word(String)
    case reference(String)
    case sequence([GrammarExpansion])
    case alternatives([GrammarExpansion], weights: [Double])
    case optional(GrammarExpansion)
    /// `*` (zero or more) when `minimum` is 0, `+` (one or more) when 1.
    case repeated(GrammarExpansion, minimum: Int)
    /// `<NULL>`: matches nothing and always succeeds.
    case null
    /// `<VOID>`: can never be spoken.
    case void
}

/// A JSGF V1.0 grammar, the subset speech grammars use: rule definitions (public or not), alternatives with
/// optional weights, optional `[ ]`, grouping `( )`, `*` and `+`, rule references, `<NULL>` and `<VOID>`, quoted
/// tokens, comments; tags `{ }` are read and ignored. `import` is refused. Words are kept in lower case.
public struct JSGFGrammar: Sendable {
    public let name: String
    public let rules: [String: GrammarExpansion]
    /// Public rule names in the order they are defined: what a speaker may say.
    public let publicRules: [String]

    public init(contentsOfFile path: String) throws(GrammarError) {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            var error = GrammarError("\(path) is missing, unreadable or not UTF-8 text")
            error.unreadable = true
            throw error
        }
        try self.init(source: text)
    }

    public init(source: String) throws(GrammarError) {
        var parser = Parser(Array(source.unicodeScalars))
        try parser.header()
        var rules: [String: GrammarExpansion] = [:]
        var publicRules: [String] = []
        while let (isPublic, ruleName, expansion) = try parser.rule() {
            guard rules[ruleName] == nil else { throw parser.error("rule <\(ruleName)> is defined twice") }
            rules[ruleName] = expansion
            if isPublic { publicRules.append(ruleName) }
        }
        guard !publicRules.isEmpty else { throw GrammarError("the grammar has no public rule: nothing can be said") }
        name = parser.grammarName
        self.rules = rules
        self.publicRules = publicRules
        for (ruleName, expansion) in rules { try check(expansion, in: ruleName, path: [ruleName]) }
    }

    /// Every reference resolves, and no rule refers to itself (directly or not): the grammar is a finite network.
    private func check(_ e: GrammarExpansion, in rule: String, path: [String]) throws(GrammarError) {
        switch e {
        case .word, .null, .void: return
        case .reference(let target):
            guard let body = rules[target] else { throw GrammarError("rule <\(rule)> refers to <\(target)>, which is not defined") }
            guard !path.contains(target) else {
                throw GrammarError("rules refer to themselves (\((path + [target]).map { "<\($0)>" }.joined(separator: " → "))); use * or + instead")
            }
            try check(body, in: target, path: path + [target])
        case .sequence(let items), .alternatives(let items, _):
            for item in items { try check(item, in: rule, path: path) }
        case .optional(let inner), .repeated(let inner, _):
            try check(inner, in: rule, path: path)
        }
    }
}

/// A hand-written recursive-descent reader over Unicode scalars, tracking line and column for messages.
private struct Parser {
    let text: [Unicode.Scalar]
    var index = 0
    var grammarName = ""

    init(_ text: [Unicode.Scalar]) { self.text = text }

    func error(_ message: String) -> GrammarError {
        var line = 1, column = 1
        for s in text[..<min(index, text.count)] {
            if s == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return GrammarError(message, line: line, column: column)
    }

    var atEnd: Bool { index >= text.count }
    var peek: Unicode.Scalar? { atEnd ? nil : text[index] }

    /// Skips white space and comments.
    mutating func skip() throws(GrammarError) {
        while let c = peek {
            if c.properties.isWhitespace { index += 1; continue }
            if c == "/", index + 1 < text.count, text[index + 1] == "/" {
                while let d = peek, d != "\n" { index += 1 }
                continue
            }
            if c == "/", index + 1 < text.count, text[index + 1] == "*" {
                let start = index
                index += 2
                while index + 1 < text.count, !(text[index] == "*" && text[index + 1] == "/") { index += 1 }
                guard index + 1 < text.count else { index = start; throw error("a comment is never closed") }
                index += 2
                continue
            }
            return
        }
    }

    mutating func expect(_ s: Unicode.Scalar, _ what: String) throws(GrammarError) {
        try skip()
        guard peek == s else { throw error("expected \(what)") }
        index += 1
    }

    /// A bare word: letters, digits and the punctuation JSGF allows inside tokens.
    mutating func bareWord() -> String {
        var word = ""
        while let c = peek, !c.properties.isWhitespace, !"<>()[]|*+;={}/\"".unicodeScalars.contains(c) {
            word.unicodeScalars.append(c); index += 1
        }
        return word
    }

    mutating func header() throws(GrammarError) {
        try skip()
        guard text.count - index >= 5, String(String.UnicodeScalarView(text[index..<(index + 5)])) == "#JSGF" else {
            throw error("a JSGF grammar starts with \"#JSGF V1.0;\"")
        }
        while let c = peek, c != ";" { index += 1 }
        try expect(";", "\";\" after the #JSGF header")
        try skip()
        guard bareWord() == "grammar" else { throw error("expected \"grammar NAME;\"") }
        try skip()
        grammarName = bareWord()
        guard !grammarName.isEmpty else { throw error("the grammar has no name") }
        try expect(";", "\";\" after the grammar name")
        try skip()
        let mark = index
        if bareWord() == "import" { index = mark; throw error("import is not supported: put every rule in one file") }
        index = mark
    }

    /// The next rule definition, or nil at the end of the text.
    mutating func rule() throws(GrammarError) -> (Bool, String, GrammarExpansion)? {
        try skip()
        guard !atEnd else { return nil }
        var isPublic = false
        if peek != "<" {
            let mark = index
            let word = bareWord()
            guard word == "public" else { index = mark; throw error("expected a rule definition \"<name> = …;\"") }
            isPublic = true
            try skip()
        }
        let name = try ruleName()
        try expect("=", "\"=\" after <\(name)>")
        let expansion = try alternatives()
        try expect(";", "\";\" at the end of rule <\(name)>")
        return (isPublic, name, expansion)
    }

    mutating func ruleName() throws(GrammarError) -> String {
        try expect("<", "\"<\"")
        var name = ""
        while let c = peek, c != ">" {
            guard !c.properties.isWhitespace else { throw error("a rule name cannot hold white space") }
            name.unicodeScalars.append(c); index += 1
        }
        try expect(">", "\">\" closing a rule name")
        guard !name.isEmpty else { throw error("empty rule name") }
        return name
    }

    mutating func alternatives() throws(GrammarError) -> GrammarExpansion {
        var items: [GrammarExpansion] = []
        var weights: [Double] = []
        repeat {
            try skip()
            var weight = 1.0
            if peek == "/" {
                index += 1
                var digits = ""
                while let c = peek, c != "/" { digits.unicodeScalars.append(c); index += 1 }
                try expect("/", "\"/\" closing a weight")
                guard let w = Double(digits.trimmingCharacters(in: .whitespaces)), w >= 0, w.isFinite else {
                    throw error("weight /\(digits)/ is not a non-negative number")
                }
                weight = w
            }
            items.append(try sequence())
            weights.append(weight)
            try skip()
        } while consume("|")
        if items.count == 1 { return items[0] }
        return .alternatives(items, weights: weights)
    }

    mutating func consume(_ s: Unicode.Scalar) -> Bool {
        guard peek == s else { return false }
        index += 1
        return true
    }

    mutating func sequence() throws(GrammarError) -> GrammarExpansion {
        var items: [GrammarExpansion] = []
        while true {
            try skip()
            guard let c = peek, c != "|", c != ";", c != ")", c != "]" else { break }
            var item: GrammarExpansion
            switch c {
            case "(":
                index += 1
                item = try alternatives()
                try expect(")", "\")\"")
            case "[":
                index += 1
                item = .optional(try alternatives())
                try expect("]", "\"]\"")
            case "<":
                let name = try ruleName()
                item = name == "NULL" ? .null : name == "VOID" ? .void : .reference(name)
            case "{":
                // A tag: carried by JSGF for applications, not spoken. Read and dropped.
                while let d = peek, d != "}" { index += 1 }
                try expect("}", "\"}\" closing a tag")
                continue
            case "\"":
                index += 1
                var phrase = ""
                while let d = peek, d != "\"" { phrase.unicodeScalars.append(d); index += 1 }
                try expect("\"", "a closing quote")
                let words = phrase.lowercased().split(whereSeparator: \.isWhitespace).map { GrammarExpansion.word(String($0)) }
                guard !words.isEmpty else { throw error("an empty quoted token") }
                item = words.count == 1 ? words[0] : .sequence(words)
            default:
                let word = bareWord()
                guard !word.isEmpty else { throw error("unexpected \"\(Character(c))\"") }
                item = .word(word.lowercased())
            }
            try skip()
            if consume("*") { item = .repeated(item, minimum: 0) } else if consume("+") { item = .repeated(item, minimum: 1) }
            items.append(item)
        }
        guard !items.isEmpty else { throw error("an empty alternative") }
        return items.count == 1 ? items[0] : .sequence(items)
    }
}
