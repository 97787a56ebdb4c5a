public import Foundation
import Glibc
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// scripts/test/collector_stub.py as a running process on 127.0.0.1 (the ingest contract of docs/SYNC.md, storing
/// into a SQLite file so a restarted stub remembers what it stored).
public final class CollectorStub: LoopbackServer, @unchecked Sendable {
    public init(database: String, port: Int = 0, token: String = "device-token", mode: String = "normal") throws {
        try super.init(script: "collector_stub.py", arguments: ["--db", database, "--port", String(port), "--token", token, "--mode", mode])
    }

    public var url: URL { URL(string: "http://127.0.0.1:\(port)")! }

    /// Records stored per device, from GET /v1/devices.
    public func devices() throws -> [String: (records: Int, duplicates: Int)] {
        final class Box: @unchecked Sendable { var data = Data() }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: URL(string: "http://127.0.0.1:\(port)/v1/devices")!) { d, _, _ in box.data = d ?? Data(); done.signal() }.resume()
        _ = done.wait(timeout: .now() + 10)
        let data = box.data
        let rows = (try JSONSerialization.jsonObject(with: data) as? [[String: Any]]) ?? []
        var out: [String: (Int, Int)] = [:]
        for row in rows { out[row["device_id"] as? String ?? ""] = ((row["records"] as? Int) ?? 0, (row["duplicates"] as? Int) ?? 0) }
        return out
    }
}
