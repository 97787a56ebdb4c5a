import EarshotRecognizer
import EarshotTestSupport
import Foundation
import Testing

/// The JSGF subset and the word network it compiles to, on pocketsphinx's own grammar and on hand-made ones.
@Suite("JSGF grammars")
struct GrammarTests {
    @Test func goForwardFixtureAllowsExactlyItsSentences() throws {
        let grammar = try JSGFGrammar(contentsOfFile: Fixtures.path("pocketsphinx/goforward.gram"))
        #expect(grammar.name == "goforward" && grammar.publicRules == ["move", "move2"])
        let graph = try WordGraph(grammar: grammar)
        for ok in ["go forward ten meters", "go backward three meter", "go forward five", "go backward one meters"] {
            #expect(graph.accepts(ok.split(separator: " ").map(String.init)), "\(ok)")
        }
        for bad in ["go forward", "go left ten meters", "go forward ten meters meters", "forward ten", ""] {
            #expect(!graph.accepts(bad.split(separator: " ").map(String.init)), "\(bad)")
        }
        // <move2>: 2 directions × 10 distances × (nothing, meter, meters); <move> repeats one of them.
        #expect(Set(graph.sentences(limit: 1_000)).count == 60)
        #expect(Set(graph.words) == Set(["go", "forward", "backward", "ten", "meters", "meter", "one", "two", "three", "four",
                                         "five", "six", "seven", "eight", "nine"]))
        let only = try WordGraph(grammar: grammar, rules: ["move"])
        #expect(only.sentences(limit: 10) == [["go", "forward", "ten", "meters"]])
    }

    @Test func repeatsOptionalsQuotesTagsCommentsAndSpecialRules() throws {
        let source = """
        #JSGF V1.0 UTF-8 en;
        // a line comment
        grammar codes; /* a block
        comment */
        public <code> = <digit>+ [please] {tag ignored};
        public <greeting> = "Hello There" <NULL> | <VOID> never;
        <digit> = one | two | OH;
        public <maybe> = stop <filler>*;
        <filler> = um;
        """
        let graph = try WordGraph(grammar: JSGFGrammar(source: source))
        #expect(graph.accepts(["one"]) && graph.accepts(["two", "oh", "one", "please"]))
        #expect(!graph.accepts(["please"]) && !graph.accepts([]))
        #expect(graph.accepts(["hello", "there"]) && !graph.accepts(["never"]) && !graph.words.contains("never"))
        #expect(graph.accepts(["stop"]) && graph.accepts(["stop", "um", "um"]))
    }

    @Test func weightsBecomeLogSharesAndZeroWeightsDisappear() throws {
        let graph = try WordGraph(grammar: JSGFGrammar(source: "#JSGF V1.0; grammar w; public <a> = /3/ yes | /1/ no | /0/ maybe;"))
        let arcs = graph.arcs[graph.start]
        let yes = try #require(arcs.first { graph.words[$0.word] == "yes" })
        let no = try #require(arcs.first { graph.words[$0.word] == "no" })
        #expect(abs(yes.logWeight - log(0.75)) < 1e-12 && abs(no.logWeight - log(0.25)) < 1e-12)
        #expect(!graph.accepts(["maybe"]))
    }

    @Test(arguments: [
        ("grammar x; public <a> = b;", "starts with \"#JSGF", 1),
        ("#JSGF V1.0;\ngrammar x;\npublic <a> = <b>;", "not defined", 0),
        ("#JSGF V1.0;\ngrammar x;\npublic <a> = go <a>;", "refer to themselves", 0),
        ("#JSGF V1.0;\ngrammar x;\n/* open\npublic <a> = b;", "never closed", 3),
        ("#JSGF V1.0;\ngrammar x;\nimport <other.*>;\npublic <a> = b;", "import", 3),
        ("#JSGF V1.0;\ngrammar x;\npublic <a> = b | ;", "empty alternative", 3),
        ("#JSGF V1.0;\ngrammar x;\npublic <a> = (b c;", "\")\"", 3),
        ("#JSGF V1.0;\ngrammar x;\n<a> = b;", "no public rule", 0),
        ("#JSGF V1.0;\ngrammar x;\npublic <a> = b;\npublic <a> = c;", "defined twice", 4),
        ("#JSGF V1.0;\ngrammar x;\npublic <a> = /x/ b;", "weight", 3),
    ])
    func malformedGrammarsAreRefusedWithWhereAndWhy(source: String, message: String, line: Int) throws {
        do {
            _ = try JSGFGrammar(source: source)
            Issue.record("accepted: \(source)")
        } catch {
            #expect(error.description.contains(message), "\(error)")
            if line > 0 { #expect(error.line == line, "\(error)") }
        }
    }

    @Test func missingFileIsAClearError() {
        #expect(throws: GrammarError.self) { try JSGFGrammar(contentsOfFile: "/nonexistent.gram") }
    }
}
