public import Foundation
import Glibc
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Publishes decision lines to every client of a UNIX stream socket (`earshot run --socket PATH`; read it with
/// `socat - UNIX-CONNECT:PATH` or any program). Publishing never blocks the pipeline: each client has a bounded
/// buffer, and a client that reads too slowly loses lines (counted) rather than holding anything up.
public final class SocketPublisher: @unchecked Sendable {
    public let path: String
    private let listener: Int32
    private let lock = NSLock()
    private var clients: [Int32: Data] = [:]
    private var stopped = false
    /// Lines not delivered to a client because its buffer was full, summed over clients.
    public var dropped: Int { lock.lock(); defer { lock.unlock() }; return droppedLines }
    private var droppedLines = 0
    /// Bytes a client may have waiting before lines to it are dropped.
    public let clientBufferBytes: Int

    public var clientCount: Int { lock.lock(); defer { lock.unlock() }; return clients.count }

    public init(path: String, clientBufferBytes: Int = 256 * 1_024) throws {
        self.path = path
        self.clientBufferBytes = clientBufferBytes
        guard let (address, length) = unixAddress(path) else {
            throw SinkError("The socket path \(path) is too long for a UNIX socket.")
        }
        // Only a stale socket is removed; any other file at the path is left alone.
        var existing = stat()
        if lstat(path, &existing) == 0 {
            guard (existing.st_mode & S_IFMT) == S_IFSOCK else { throw SinkError("\(path) exists and is not a socket; not replacing it.") }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SinkError("Cannot create a socket: \(String(cString: strerror(errno)))") }
        var bindAddress = address
        let bound = withUnsafePointer(to: &bindAddress) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw SinkError("Cannot listen on \(path): \(reason)")
        }
        listener = fd
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "earshot-socket"
        thread.start()
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            lock.lock()
            if stopped { lock.unlock(); if client >= 0 { close(client) }; return }
            if client >= 0 {
                _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
                var one: Int32 = 1
                _ = setsockopt(client, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
                clients[client] = Data()
            }
            lock.unlock()
            if client < 0 && errno != EINTR && errno != ECONNABORTED { usleep(10_000) }
        }
    }

    /// Queues `line` (one JSON object and its newline) for every client and writes what each can take now.
    public func publish(_ line: Data) {
        lock.lock(); defer { lock.unlock() }
        for (fd, pending) in clients {
            var buffer = pending
            if buffer.count + line.count > clientBufferBytes { droppedLines += 1 } else { buffer.append(line) }
            while !buffer.isEmpty {
                let n = buffer.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n > 0 { buffer.removeFirst(n); continue }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { break }
                close(fd)                  // gone (EPIPE, ECONNRESET): forget it
                clients[fd] = nil
                buffer.removeAll()
                break
            }
            if clients[fd] != nil { clients[fd] = buffer }
        }
    }

    /// Closes every client and the socket, and removes the socket file.
    public func stop() {
        lock.lock()
        guard !stopped else { lock.unlock(); return }
        stopped = true
        for fd in clients.keys { close(fd) }
        clients = [:]
        lock.unlock()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        unlink(path)
    }

    deinit { stop() }
}

/// Delivers each decision as an HTTP POST (JSON body) to a webhook, off the pipeline's thread: a bounded queue, a
/// timeout per request and a few retries with backoff. When the endpoint is down or slow, the oldest undelivered
/// decisions are dropped and counted; the pipeline never waits for it.
public final class WebhookSink: @unchecked Sendable {
    public let url: URL
    private let token: String?
    private let capacity: Int
    private let timeout: TimeInterval
    private let attempts: Int
    private let condition = NSCondition()
    private var queue: [Data] = []
    private var closed = false
    private var worker: Thread?
    private let finished = DispatchSemaphore(value: 0)
    private let session: URLSession
    private var delivered = 0
    private var failed = 0
    private var dropped = 0

    public init(url: URL, token: String? = nil, capacity: Int = 1_000, timeout: TimeInterval = 2, attempts: Int = 3) {
        self.url = url
        self.token = token
        self.capacity = max(1, capacity)
        self.timeout = timeout
        self.attempts = max(1, attempts)
        session = URLSession(configuration: .ephemeral)
        let thread = Thread { [self] in run(); finished.signal() }
        thread.name = "earshot-webhook"
        thread.start()
        worker = thread
    }

    deinit { session.finishTasksAndInvalidate() }

    public func publish(_ line: Data) {
        condition.lock()
        if queue.count >= capacity { queue.removeFirst(); dropped += 1 }
        queue.append(line)
        condition.signal()
        condition.unlock()
    }

    /// Delivers what is queued, waiting at most `grace` seconds, then stops; undelivered lines count as dropped.
    public func finish(grace: TimeInterval = 5) {
        condition.lock(); closed = true; condition.signal(); condition.unlock()
        if finished.wait(timeout: .now() + grace) == .timedOut {
            condition.lock(); dropped += queue.count; queue.removeAll(); condition.unlock()
        }
    }

    public var counts: (delivered: Int, failed: Int, dropped: Int) {
        condition.lock(); defer { condition.unlock() }
        return (delivered, failed, dropped)
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !closed { condition.wait() }
            if queue.isEmpty && closed { condition.unlock(); return }
            let body = queue.removeFirst()
            condition.unlock()
            var ok = false
            for attempt in 0..<attempts {
                if post(body) { ok = true; break }
                condition.lock(); let stopping = closed; condition.unlock()
                if stopping && attempt > 0 { break }
                Thread.sleep(forTimeInterval: min(2, 0.1 * pow(2, Double(attempt))))
            }
            condition.lock()
            if ok { delivered += 1 } else { failed += 1 }
            condition.unlock()
        }
    }

    private func post(_ body: Data) -> Bool {
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        request.httpBody = body
        final class Box: @unchecked Sendable { var ok = false }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let task = session.dataTask(with: request) { _, response, error in
            box.ok = error == nil && ((response as? HTTPURLResponse).map { (200..<300).contains($0.statusCode) } ?? false)
            done.signal()
        }
        task.resume()
        guard done.wait(timeout: .now() + timeout + 0.05) == .success else { task.cancel(); return false }
        return box.ok
    }
}

/// A sink that could not be set up.
public struct SinkError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
