import EarshotEdge
import EarshotServer
import EarshotTestSupport
import Foundation
import Testing

/// The multipart parser reads untrusted bytes: it splits what clients send and refuses, with a message, what they
/// should not, whatever the bytes.
@Suite("multipart form")
struct MultipartFormTests {
    static let audio = Data((0..<3_000).map { UInt8(truncatingIfNeeded: $0 &* 7) } + Array("\r\n--not-the-boundary\r\n".utf8))

    @Test func theCloudClientsBodySplitsIntoItsFields() throws {
        let body = CloudClient.multipart(fields: [("model", "whisper-1"), ("language", "en")], file: Self.audio, boundary: "b0undary")
        let form = try MultipartForm(body: body, boundary: "b0undary")
        #expect(form.text("model") == "whisper-1" && form.text("language") == "en")
        #expect(form["file"]?.body == Self.audio && form["file"]?.filename == "utterance.wav" && form["file"]?.contentType == "audio/wav")
        #expect(MultipartForm.boundary(contentType: "multipart/form-data; boundary=\"b0undary\"") == "b0undary")
        #expect(MultipartForm.boundary(contentType: "Multipart/Form-Data;charset=utf-8; boundary=x") == "x")
        #expect(MultipartForm.boundary(contentType: "application/json") == nil)
        #expect(MultipartForm.boundary(contentType: "multipart/form-data; boundary=" + String(repeating: "a", count: 71)) == nil)
    }

    @Test func limitsAreEnforced() throws {
        var limits = MultipartForm.Limits()
        limits.parts = 2
        let many = CloudClient.multipart(fields: [("a", "1"), ("b", "2")], file: Self.audio, boundary: "B")
        #expect(throws: ServeError.self) { try MultipartForm(body: many, boundary: "B", limits: limits) }
        limits = MultipartForm.Limits()
        limits.fieldBytes = 10
        let long = CloudClient.multipart(fields: [("prompt", String(repeating: "x", count: 11))], file: Self.audio, boundary: "B")
        #expect(throws: ServeError.self) { try MultipartForm(body: long, boundary: "B", limits: limits) }
        // A file part is bounded by the request size, not by the field limit.
        #expect(try MultipartForm(body: CloudClient.multipart(fields: [], file: Self.audio, boundary: "B"), boundary: "B", limits: limits)["file"] != nil)
    }

    /// 20 000 mutated bodies (flipped, dropped, duplicated and truncated bytes): each one parses or throws ServeError,
    /// and every part it yields lies inside the body.
    @Test func mutatedBodiesNeverCrashTheParser() {
        let valid = CloudClient.multipart(fields: [("model", "m"), ("response_format", "json")], file: Data(Self.audio.prefix(200)), boundary: "Zz")
        var generator = SeededGenerator(seed: 77)
        var parsed = 0, refused = 0
        for _ in 0..<20_000 {
            var bytes = [UInt8](valid)
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                guard !bytes.isEmpty else { break }
                let i = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: bytes[i] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.remove(at: i)
                case 2: bytes.insert(contentsOf: bytes[i..<min(bytes.count, i + 8)], at: i)
                default: bytes.removeLast(bytes.count - i)
                }
            }
            do {
                let form = try MultipartForm(body: Data(bytes), boundary: "Zz")
                #expect(form.parts.allSatisfy { $0.body.count <= bytes.count })
                parsed += 1
            } catch {
                refused += 1
            }
        }
        #expect(parsed > 1_000 && refused > 1_000, "parsed \(parsed), refused \(refused)")
    }
}
