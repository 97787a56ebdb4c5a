public import Foundation
import Glibc

/// systemd's readiness and watchdog protocol (sd_notify) spoken directly over `$NOTIFY_SOCKET`, so no libsystemd is
/// needed: `READY=1` once the pipeline runs, `WATCHDOG=1` only while audio frames actually arrive (a stalled microphone
/// lets the watchdog fire and systemd restarts the service), `STATUS=…` lines, and `STOPPING=1` at the end.
public final class SystemdNotifier: @unchecked Sendable {
    private let socket: Int32
    private let address: sockaddr_un
    private let addressLength: socklen_t
    /// Half of `$WATCHDOG_USEC`, as systemd recommends; nil when the unit has no watchdog.
    public let watchdogInterval: TimeInterval?
    private var timer: Thread?
    private let lock = NSLock()
    private var stopped = false

    /// Nil when not started by systemd with `Type=notify` (no `$NOTIFY_SOCKET`).
    public init?(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard var path = environment["NOTIFY_SOCKET"], !path.isEmpty else { return nil }
        let abstract = path.hasPrefix("@")
        if abstract { path.removeFirst() }
        guard let (address, length) = unixAddress(path, abstract: abstract) else { return nil }
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        socket = fd
        self.address = address
        addressLength = length
        if let usec = environment["WATCHDOG_USEC"].flatMap(Double.init), usec > 0,
           environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true {
            watchdogInterval = usec / 2e6
        } else {
            watchdogInterval = nil
        }
    }

    deinit { close(socket) }

    /// Sends one notification (`READY=1`, `STATUS=…`, newline-separated assignments).
    @discardableResult
    public func notify(_ message: String) -> Bool {
        var a = address
        let sent = message.utf8CString.withUnsafeBufferPointer { text in
            withUnsafePointer(to: &a) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(socket, text.baseAddress, text.count - 1, Int32(MSG_NOSIGNAL), $0, addressLength)
                }
            }
        }
        return sent >= 0
    }

    /// Pings the watchdog every `watchdogInterval` while `progress()` keeps growing (frames are arriving); a stall
    /// skips the ping, so systemd notices a dead microphone as surely as a hung process.
    public func startWatchdog(progress: @escaping @Sendable () -> Int64) {
        guard let interval = watchdogInterval else { return }
        let thread = Thread { [self] in
            var last = progress()
            while true {
                Thread.sleep(forTimeInterval: interval)
                lock.lock(); let done = stopped; lock.unlock()
                if done { return }
                let now = progress()
                if now > last { notify("WATCHDOG=1") }
                last = now
            }
        }
        thread.name = "earshot-watchdog"
        thread.start()
        timer = thread
    }

    /// Stops the watchdog pings and says the service is stopping.
    public func stop() {
        lock.lock(); stopped = true; lock.unlock()
        notify("STOPPING=1")
    }
}
