internal import CZlib
import EarshotMonitoring
public import EarshotSpool
public import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Why a sync attempt stopped. Transient failures are retried with backoff; permanent ones dead-letter the batch.
public struct SyncError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable { case transient, permanent, local }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }
    public var description: String { message }
}

/// Uploads the spool's backlog to a collector by the contract in docs/SYNC.md: gzip-compressed JSON batches capped by
/// records and bytes, bearer-authenticated, acknowledged by the highest contiguous sequence the collector stored.
/// The spool forgets nothing before that acknowledgement, so a cut connection or a dead collector only means the same
/// records go again later (the collector stores each identity once).
public final class SyncClient: @unchecked Sendable {
    public struct Progress: Sendable, Equatable {
        public var batches = 0
        public var records = 0
        /// Bytes on the wire (compressed) and before compression.
        public var wireBytes = 0
        public var jsonBytes = 0
        public var deadLettered = 0
        public var acknowledged: Int64 = 0
        public init() {}
    }

    public let spool: Spool
    public let endpoint: URL
    private let link: CollectorLink
    public var batchRecords = 1_000
    public var batchBytes = 4 * 1_024 * 1_024
    public var timeout: TimeInterval { get { link.timeout } set { link.timeout = newValue } }

    public init(spool: Spool, collector: URL, token: String) {
        self.spool = spool
        endpoint = collector.appendingPathComponent("v1/ingest")
        link = CollectorLink(base: collector, token: token)
    }

    /// Sends batches until the backlog is empty; `report` sees the progress after each batch. Throws the first
    /// transient failure (the caller waits and calls again); permanent rejections are dead-lettered and skipped.
    @discardableResult
    public func drain(report: (Progress) -> Void = { _ in }) throws(SyncError) -> Progress {
        var progress = Progress()
        // The hourly roll-ups of records the spool had to drop ride along with the first batch: cumulative totals, so
        // sending them again is harmless.
        var rollups: [HourlyRollup]
        do { rollups = try spool.rollups() } catch { throw SyncError(.local, error.message) }
        while true {
            let status: Spool.Status
            let page: [Spool.Record]
            do {
                status = try spool.status()
                page = try spool.records(after: status.acknowledgedSequence, limit: batchRecords)
            } catch {
                throw SyncError(.local, error.message)
            }
            progress.acknowledged = status.acknowledgedSequence
            guard !page.isEmpty else { return progress }
            let (json, count) = Self.batch(page, status: status, maximumBytes: batchBytes, rollups: rollups)
            let body = try Self.gzip(json)
            do throws(SyncError) {
                let acked = try send(body, deviceID: status.deviceID, epoch: status.epoch)
                guard acked >= page[0].sequence else {
                    throw SyncError(.transient, "the collector acknowledged \(acked), before this batch (\(page[0].sequence)…); retrying")
                }
                do { try spool.acknowledge(through: acked) } catch { throw SyncError(.local, error.message) }
                progress.acknowledged = acked
                rollups = []
            } catch {
                guard error.kind == .permanent else { throw error }
                let last = page[count - 1].sequence
                do { try spool.deadLetter(through: last, reason: error.message) } catch { throw SyncError(.local, error.message) }
                progress.deadLettered += count
                progress.acknowledged = last
            }
            progress.batches += 1
            progress.records += count
            progress.jsonBytes += json.count
            progress.wireBytes += body.count
            report(progress)
        }
    }

    /// The JSON of one batch: the first records of `page` that fit in `maximumBytes` (at least one).
    static func batch(_ page: [Spool.Record], status: Spool.Status, maximumBytes: Int, rollups: [HourlyRollup] = []) -> (Data, Int) {
        var json = Data("{\"schema\":1,\"device_id\":\"\(status.deviceID)\",\"epoch\":\(status.epoch),\"counters\":{\"dropped\":\(status.dropped),\"corrupt\":\(status.corrupt)},".utf8)
        if !rollups.isEmpty {
            let items = rollups.prefix(10_000).map { r in
                "{\"hour\":\(r.hour),\"kind\":\"\(r.kind)\",\"records\":\(r.records),\"confidence_sum\":\(r.confidenceSum),\"null_results\":\(r.nullResults),"
                    + "\"latency_ms_sum\":\(r.latencyMsSum),\"rms_dbfs_sum\":\(r.rmsDBFSSum)}"
            }
            json.append(contentsOf: Array("\"rollups\":[\(items.joined(separator: ","))],".utf8))
        }
        json.append(contentsOf: Array("\"records\":[".utf8))
        var count = 0
        for r in page {
            var item = Data("{\"seq\":\(r.sequence),\"wall\":\(r.wallTime),\"kind\":\"\(r.kind)\",\"record\":".utf8)
            item.append(r.body)
            item.append(UInt8(ascii: "}"))
            if count > 0 && json.count + item.count + 3 > maximumBytes { break }
            if count > 0 { json.append(UInt8(ascii: ",")) }
            json.append(item)
            count += 1
        }
        json.append(contentsOf: Array("]}".utf8))
        return (json, count)
    }

    /// POSTs one batch; returns the acknowledged sequence.
    private func send(_ body: Data, deviceID: String, epoch: Int64) throws(SyncError) -> Int64 {
        var request = link.request(endpoint, method: "POST")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("gzip", forHTTPHeaderField: "Content-Encoding")
        request.httpBody = body
        let reply = try link.send(request)
        let text = reply.excerpt
        switch reply.status {
        case 200:
            guard let object = try? JSONSerialization.jsonObject(with: reply.body) as? [String: Any],
                  let acked = (object["acked_seq"] as? NSNumber)?.int64Value,
                  (object["epoch"] as? NSNumber)?.int64Value == epoch, object["device_id"] as? String == deviceID else {
                throw SyncError(.transient, "the collector's answer is not an acknowledgement for this device and epoch: \(text)")
            }
            return acked
        case 400, 401, 403, 409, 413:
            throw SyncError(.permanent, "HTTP \(reply.status): \(text)")
        default:
            throw SyncError(.transient, "HTTP \(reply.status): \(text)")
        }
    }

    /// gzip (RFC 1952) of `data`, by zlib.
    static func gzip(_ data: Data) throws(SyncError) -> Data {
        var stream = z_stream()
        // windowBits 15 + 16: a gzip header and trailer rather than a bare zlib stream.
        guard deflateInit2_(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw SyncError(.local, "zlib could not start compressing")
        }
        defer { deflateEnd(&stream) }
        var output = Data(count: Int(deflateBound(&stream, uLong(data.count))) + 64)
        let status = data.withUnsafeBytes { (input: UnsafeRawBufferPointer) -> Int32 in
            output.withUnsafeMutableBytes { (out: UnsafeMutableRawBufferPointer) -> Int32 in
                stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = out.bindMemory(to: Bytef.self).baseAddress
                stream.avail_out = uInt(out.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw SyncError(.local, "zlib could not compress the batch (\(status))") }
        output.count = Int(stream.total_out)
        return output
    }
}
