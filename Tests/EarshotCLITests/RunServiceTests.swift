import EarshotAudio
import EarshotTestSupport
import Foundation
import Glibc
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `earshot run` as a service: systemd's notify protocol on a real datagram socket (READY, a watchdog that is pinged
/// only while audio flows, STOPPING) and Prometheus /metrics on a real port, fed live through stdin.
@Suite("earshot run as a service")
struct RunServiceTests {
    /// A bound AF_UNIX datagram socket that records what arrives, with the time it arrived.
    final class NotifySocket: @unchecked Sendable {
        let path: String
        let fd: Int32
        private let lock = NSLock()
        private var received: [(String, Date)] = []
        private var closed = false

        init(path: String) {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let thread = Thread { [self] in
                var buffer = [UInt8](repeating: 0, count: 4_096)
                while true {
                    lock.lock(); let done = closed; lock.unlock()
                    if done { return }
                    let n = recv(fd, &buffer, buffer.count, 0)
                    if n > 0 { lock.lock(); received.append((String(decoding: buffer[0..<n], as: UTF8.self), Date())); lock.unlock() }
                }
            }
            thread.start()
        }
        var messages: [(String, Date)] { lock.lock(); defer { lock.unlock() }; return received }
        func close() { lock.lock(); closed = true; lock.unlock(); usleep(150_000); Glibc.close(fd); unlink(path) }
    }

    @Test func notifiesSystemdPingsTheWatchdogOnlyWhileAudioFlowsAndServesMetrics() throws {
        let directory = Fixtures.temporaryDirectory("cli-service")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let notify = NotifySocket(path: directory + "/notify.sock")
        defer { notify.close() }
        let path = try TranscribeCommandTests.recording(["stop", "seven", "forward"], in: directory)
        let source = try ConvertingSource(try AudioFileReader(path: path))
        var samples: [Int16] = []
        while try source.read(appendingTo: &samples, maximum: 16_000) {}

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Programs.earshot)
        process.arguments = ["run", "--stdin", "--metrics-port", "0"]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify.path
        environment["WATCHDOG_USEC"] = "200000"
        process.environment = environment
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input; process.standardOutput = output; process.standardError = errors
        try process.run()
        var banner = Data()
        while !String(decoding: banner, as: UTF8.self).contains("/metrics\n") {
            let chunk = errors.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            banner += chunk
        }
        let port = try #require(String(decoding: banner, as: UTF8.self).split(separator: ":").last.flatMap { Int($0.split(separator: "/").first ?? "") })
        // Feed the first two thirds at 4× real time, stall for 1.2 s, then the rest.
        let split = samples.count * 2 / 3
        func feed(_ part: ArraySlice<Int16>) {
            for chunk in stride(from: part.startIndex, to: part.endIndex, by: 1_600) {
                let piece = part[chunk..<min(part.endIndex, chunk + 1_600)]
                input.fileHandleForWriting.write(piece.withUnsafeBufferPointer { Data(buffer: $0) })
                usleep(25_000)
            }
        }
        feed(samples[..<split])
        let stallStart = Date()
        Thread.sleep(forTimeInterval: 0.6)
        let metrics = try Self.get("http://127.0.0.1:\(port)/metrics")
        Thread.sleep(forTimeInterval: 0.6)
        let stallEnd = Date()
        feed(samples[split...])
        try input.fileHandleForWriting.close()
        let outData = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(String(decoding: outData, as: UTF8.self).split(separator: "\n").count == 3)
        usleep(200_000)
        let messages = notify.messages
        #expect(messages.first?.0.hasPrefix("READY=1\nSTATUS=listening (command-en@") == true, "\(messages.map(\.0))")
        #expect(messages.last?.0 == "STOPPING=1")
        let pings = messages.filter { $0.0 == "WATCHDOG=1" }.map(\.1)
        #expect(pings.filter { $0 < stallStart }.count >= 3, "\(pings.count) pings")
        #expect(pings.filter { $0 > stallStart.addingTimeInterval(0.3) && $0 < stallEnd }.isEmpty, "pinged while no audio arrived")
        #expect(pings.contains { $0 > stallEnd })
        // Metrics scraped mid-run.
        #expect(metrics.contains("# TYPE earshot_decision_latency_seconds histogram"))
        #expect(metrics.contains("earshot_decisions_total{automation=") && metrics.contains("earshot_stage_seconds_bucket{stage=\"recognize\",le="))
        #expect(metrics.contains("earshot_audio_seconds_total ") && metrics.contains("process_resident_memory_bytes "))
        #expect(metrics.contains("earshot_vad_speech_ratio ") && metrics.contains("earshot_circuit_open 0"))
    }

    /// The same decision lines reach stdout, a socket subscriber and the webhook.
    @Test func decisionsFanOutToTheSocketAndTheWebhook() throws {
        let directory = Fixtures.temporaryDirectory("cli-sinks")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try TranscribeCommandTests.recording(["stop", "seven"], in: directory)
        let source = try ConvertingSource(try AudioFileReader(path: path))
        var samples: [Int16] = []
        while try source.read(appendingTo: &samples, maximum: 16_000) {}
        let hooks = try TranscriptionServer("webhook")
        let socketPath = directory + "/d.sock"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Programs.earshot)
        process.arguments = ["run", "--stdin", "--socket", socketPath, "--webhook", "http://127.0.0.1:\(hooks.port)/hook"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input; process.standardOutput = output; process.standardError = FileHandle.nullDevice
        try process.run()
        var waited = 0
        while !FileManager.default.fileExists(atPath: socketPath) && waited < 500 { usleep(10_000); waited += 1 }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in socketPath.utf8.enumerated() { raw[i] = b } }
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        #expect(connected == 0)
        usleep(100_000)      // let the server accept before the first decision
        input.fileHandleForWriting.write(samples.withUnsafeBufferPointer { Data(buffer: $0) })
        try input.fileHandleForWriting.close()
        let stdout = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true { let n = recv(fd, &buffer, buffer.count, 0); if n <= 0 { break }; received.append(contentsOf: buffer[0..<n]) }
        #expect(stdout.split(separator: "\n").count == 2 && String(decoding: received, as: UTF8.self) == stdout)
        let hooked = try #require(try JSONSerialization.jsonObject(with: Data(Self.get("http://127.0.0.1:\(hooks.port)/received").utf8)) as? [[String: Any]])
        #expect(hooked.map { $0["body"] as? String ?? "" }.joined() == stdout)
        #expect(!FileManager.default.fileExists(atPath: socketPath))
    }

    static func get(_ url: String) throws -> String {
        final class Box: @unchecked Sendable { var text = "" }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: URL(string: url)!) { data, _, _ in box.text = String(decoding: data ?? Data(), as: UTF8.self); done.signal() }.resume()
        _ = done.wait(timeout: .now() + 10)
        return box.text
    }
}
