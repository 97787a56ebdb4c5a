import EarshotEdge
import EarshotTestSupport
import Foundation
import Testing

/// The cloud client against a real HTTP server on 127.0.0.1 (`TranscriptionServer`).
@Suite("cloud client", .serialized)
struct CloudClientTests {
    typealias Server = TranscriptionServer

    static let speech: [Int16] = (0..<8_000).map { Int16(truncatingIfNeeded: $0 &* 37) }

    @Test func verboseJSONCarriesTextSegmentsWordsAndAConfidence() throws {
        let server = try Server("verbose")
        let client = CloudClient(url: server.url, model: "whisper-small")
        client.language = "en"
        let result = try client.transcribe(Self.speech, timeout: 5)
        #expect(result.text == "model=whisper-small language=en format=verbose_json bytes=16044 riff=yes")
        #expect(result.language == "english" && result.duration == 1.0)
        #expect(result.segments.count == 1 && result.words.count == 5)
        #expect(abs((result.confidence ?? 0) - 0.9) < 1e-9)
    }

    @Test(arguments: ["json", "text", "whisper"])
    func jsonTextAndWhisperCppShapesParse(mode: String) throws {
        let server = try Server(mode)
        let client = CloudClient(url: server.url, responseFormat: mode == "text" ? "text" : mode == "json" ? "json" : "verbose_json")
        let result = try client.transcribe(Self.speech, timeout: 5)
        #expect(result.text.hasPrefix("model=whisper-1 language=-") && result.text.hasSuffix("riff=yes"))
        if mode == "whisper" {
            #expect(result.words.count == 5 && abs((result.confidence ?? 0) - 0.8) < 1e-9)
        } else {
            #expect(result.confidence == nil)
        }
    }

    @Test func failuresAreTypedAndNeverStallPastTheTimeout() throws {
        let crashed = try Server("status500")
        #expect(throws: CloudError.self) { try CloudClient(url: crashed.url).transcribe(Self.speech, timeout: 5) }
        do { _ = try CloudClient(url: crashed.url).transcribe(Self.speech, timeout: 5) } catch { #expect(error.kind == .status && error.message.contains("500")) }
        let garbage = try Server("garbage")
        do { _ = try CloudClient(url: garbage.url).transcribe(Self.speech, timeout: 5); Issue.record("garbage accepted") } catch { #expect(error.kind == .malformed) }
        let slow = try Server("slow")
        let started = Date()
        do { _ = try CloudClient(url: slow.url).transcribe(Self.speech, timeout: 0.4); Issue.record("slow answer accepted") } catch { #expect(error.kind == .timeout) }
        #expect(Date().timeIntervalSince(started) < 1.5)
        let locked = try Server("auth")
        do { _ = try CloudClient(url: locked.url, token: "wrong").transcribe(Self.speech, timeout: 5); Issue.record("bad token accepted") } catch { #expect(error.kind == .status && error.message.contains("401")) }
        #expect(try CloudClient(url: locked.url, token: "sesame").transcribe(Self.speech, timeout: 5).text.hasSuffix("riff=yes"))
        let gone = try Server("verbose")
        let url = gone.url
        gone.kill()
        do { _ = try CloudClient(url: url).transcribe(Self.speech, timeout: 2); Issue.record("dead server answered") } catch { #expect(error.kind == .unreachable) }
    }

    @Test func circuitOpensAfterFailuresAndProbesWithDoublingBackoff() {
        final class Clock: @unchecked Sendable { var t = Date(timeIntervalSince1970: 0) }
        let clock = Clock()
        let breaker = CircuitBreaker(failureThreshold: 3, initialBackoff: 1, maximumBackoff: 4, now: { clock.t })
        for _ in 0..<2 { #expect(breaker.allow()); breaker.recordFailure() }
        #expect(breaker.state == .closed)
        #expect(breaker.allow()); breaker.recordFailure()
        #expect(breaker.state == .open && !breaker.allow())
        clock.t += 1
        #expect(breaker.state == .halfOpen && breaker.allow() && !breaker.allow())   // one probe at a time
        breaker.recordFailure()                                                     // probe failed: backoff 2 s
        clock.t += 1.5
        #expect(!breaker.allow())
        clock.t += 0.5
        #expect(breaker.allow()); breaker.recordFailure()                          // backoff 4 s (the maximum)
        clock.t += 4
        #expect(breaker.allow()); breaker.recordSuccess()
        #expect(breaker.state == .closed && breaker.allow())
    }
}
