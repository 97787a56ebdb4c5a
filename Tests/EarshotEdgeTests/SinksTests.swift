import EarshotEdge
import EarshotTestSupport
import Foundation
import Glibc
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The decision sinks besides stdout: UNIX-socket subscribers and an HTTP webhook, neither of which may ever hold up
/// the pipeline.
@Suite("decision sinks", .serialized)
struct SinksTests {
    static func connect(_ path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        return fd
    }

    static func readAvailable(_ fd: Int32, waiting seconds: Double = 0.5) -> String {
        var timeout = timeval(tv_sec: 0, tv_usec: Int(seconds * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var out = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    @Test func subscribersGetEveryLineAndASlowOneLosesLinesWithoutBlocking() throws {
        let directory = Fixtures.temporaryDirectory("sink-socket")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/decisions.sock"
        let publisher = try SocketPublisher(path: path, clientBufferBytes: 4_096)
        let a = Self.connect(path), b = Self.connect(path), slow = Self.connect(path)
        defer { close(a); close(b); close(slow) }
        var waited = 0
        while publisher.clientCount < 3 && waited < 100 { usleep(10_000); waited += 1 }
        #expect(publisher.clientCount == 3)
        for i in 1...3 { publisher.publish(Data("{\"id\":\"\(i)\"}\n".utf8)) }
        #expect(Self.readAvailable(a) == "{\"id\":\"1\"}\n{\"id\":\"2\"}\n{\"id\":\"3\"}\n")
        #expect(Self.readAvailable(b).split(separator: "\n").count == 3)
        // The slow client never reads: its kernel buffer and then its 4 KB allowance fill, and lines to it are dropped;
        // the reading client keeps getting everything, and publishing stays fast.
        let line = Data((String(repeating: "x", count: 1_000) + "\n").utf8)
        let started = Date()
        for _ in 0..<2_000 {
            publisher.publish(line)
            var scratch = [UInt8](repeating: 0, count: 65_536)
            while recv(a, &scratch, scratch.count, Int32(MSG_DONTWAIT)) > 0 {}      // the reading client drains what is there
        }
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(publisher.dropped > 0)
        // A client that leaves is forgotten; stop removes the socket file.
        close(b)
        publisher.publish(line); publisher.publish(line)
        #expect(publisher.clientCount == 2)
        publisher.stop()
        #expect(!FileManager.default.fileExists(atPath: path))
        // Anything at the path that is not a socket is left alone.
        _ = FileManager.default.createFile(atPath: directory + "/file", contents: Data("keep".utf8))
        #expect(throws: SinkError.self) { try SocketPublisher(path: directory + "/file") }
        #expect(FileManager.default.contents(atPath: directory + "/file") == Data("keep".utf8))
    }

    @Test func theWebhookDeliversEachDecisionAndADeadOneIsCountedNotWaitedFor() throws {
        let server = try TranscriptionServer("webhook")
        let hook = URL(string: "http://127.0.0.1:\(server.port)/hook")!
        let sink = WebhookSink(url: hook, token: "t0k")
        for i in 1...5 { sink.publish(Data("{\"id\":\"\(i)\"}\n".utf8)) }
        sink.finish()
        #expect(sink.counts.delivered == 5 && sink.counts.failed == 0 && sink.counts.dropped == 0)
        final class Box: @unchecked Sendable { var data = Data() }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: URL(string: "http://127.0.0.1:\(server.port)/received")!) { d, _, _ in box.data = d ?? Data(); done.signal() }.resume()
        _ = done.wait(timeout: .now() + 5)
        let received = try #require(try JSONSerialization.jsonObject(with: box.data) as? [[String: Any]])
        #expect(received.map { $0["body"] as? String ?? "" } == (1...5).map { "{\"id\":\"\($0)\"}\n" })
        #expect(received.allSatisfy { $0["authorization"] as? String == "Bearer t0k" })
        server.kill()
        let dead = WebhookSink(url: hook, capacity: 3, timeout: 0.3, attempts: 2)
        let started = Date()
        for i in 1...10 { dead.publish(Data("{\"id\":\"\(i)\"}\n".utf8)) }
        #expect(Date().timeIntervalSince(started) < 0.5)      // publishing never waits
        dead.finish(grace: 3)
        let c = dead.counts
        #expect(c.delivered == 0 && c.failed + c.dropped == 10 && c.dropped >= 7, "\(c)")
    }
}
