@testable import EarshotCollector
import EarshotTestSupport
import Foundation
import Testing

/// The ingest JSON reader: strict where RFC 8259 is, in agreement with Foundation's parser on valid and broken input,
/// and a content digest that sees through key order, spacing, escapes and number spelling but nothing else.
@Suite("JSON scanner")
struct JSONScannerTests {
    static func accepts(_ text: String) -> Bool {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBufferPointer { buffer in
            var scanner = JSONScanner(UnsafeBufferPointer(buffer))
            do {
                try scanner.skipValue()
                scanner.skipWhitespace()
                return scanner.atEnd
            } catch { return false }
        }
    }

    static func digest(_ text: String) throws -> String {
        var bytes = Array(text.utf8)
        return try bytes.withUnsafeMutableBufferPointer { buffer throws(JSONScanner.Failure) in
            var scanner = JSONScanner(UnsafeBufferPointer(buffer))
            return try scanner.contentDigest().hex
        }
    }

    @Test func strictSyntax() {
        for good in ["{}", "[]", "0", "-0.5e+3", "\"a\\u00e9\\ud83d\\ude00\"", "{\"a\":[1,{\"b\":null}],\"c\":true}", " [ 1 , 2 ] ", "\"é\""] {
            #expect(Self.accepts(good), "\(good)")
        }
        for bad in ["{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "+1", "\"\\x\"", "\"tab\there\"", "tru", "{a:1}", "[1 2]", "\"open",
                    "{\"a\" 1}", "nul", "--1", "1e", String(repeating: "[", count: 65) + String(repeating: "]", count: 65)] {
            #expect(!Self.accepts(bad), "\(bad)")
        }
        #expect(Self.accepts(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)))
        var invalid: [UInt8] = Array("\"ab".utf8) + [0xC3, 0x28] + Array("\"".utf8)   // broken UTF-8 inside a string
        let rejected = invalid.withUnsafeMutableBufferPointer { buffer -> Bool in
            var scanner = JSONScanner(UnsafeBufferPointer(buffer))
            return (try? scanner.skipValue()) == nil
        }
        #expect(rejected)
    }

    @Test func digestsIgnoreOnlyWhatJSONLeavesFree() throws {
        let base = try Self.digest("{\"a\":1,\"b\":[\"x\",true,null],\"c\":{\"d\":-2.5}}")
        #expect(try Self.digest("{ \"c\" : {\"d\":-25e-1}, \"b\":[\"\\u0078\",true,null], \"a\":1.0 }") == base)
        #expect(try Self.digest("{\"a\":1,\"b\":[true,\"x\",null],\"c\":{\"d\":-2.5}}") != base)     // array order matters
        #expect(try Self.digest("{\"a\":2,\"b\":[\"x\",true,null],\"c\":{\"d\":-2.5}}") != base)
        #expect(try Self.digest("{\"a\":\"1\",\"b\":[\"x\",true,null],\"c\":{\"d\":-2.5}}") != base)  // a string is not a number
        #expect(try Self.digest("{\"b\":[\"x\",true,null],\"c\":{\"d\":-2.5}}") != base)
        #expect(try Self.digest("{\"a\":1,\"b\":[\"x\",true,null],\"c\":{\"d\":-2.5},\"e\":null}") != base)
        #expect(try Self.digest("[[],{}]") != Self.digest("[{},[]]"))
        #expect(try Self.digest("{\"ab\":\"c\"}") != Self.digest("{\"a\":\"bc\"}"))
    }

    /// Random damage to a real batch: the scanner never crashes and agrees with Foundation's JSONSerialization on
    /// whether the text is JSON (except where Foundation is lenient by design).
    @Test func agreesWithFoundationOnDamagedBatches() throws {
        let batch = Batches.json(device: "dev-a", records: (1...3).map { Batches.record($0) })
        var generator = SeededGenerator(seed: 42)
        let alphabet = Array("{}[],:\"0123456789.-eE tfn\\".utf8)
        var disagreements: [String] = []
        for round in 0..<20_000 {
            var bytes = Array(batch)
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let at = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: bytes[at] = alphabet.randomElement(using: &generator)!
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(alphabet.randomElement(using: &generator)!, at: at)
                default: bytes.removeSubrange(at..<bytes.count)
                }
                if bytes.isEmpty { bytes = [0x20] }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            // Left out: escapes (unpaired surrogates) and trailing commas, which Foundation accepts and RFC 8259 does not.
            guard !text.contains("\\"), text.range(of: #",\s*[}\]]"#, options: .regularExpression) == nil else { continue }
            let foundation = (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil
            if Self.accepts(text) != foundation { disagreements.append("round \(round): ours \(!foundation), Foundation \(foundation): \(text.prefix(200))") }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(3))")
    }
}
