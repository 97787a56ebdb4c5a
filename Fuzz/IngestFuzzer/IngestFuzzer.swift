import Foundation

/// libFuzzer entry: any bytes as an ingest request body, plain and as gzip (first byte odd), under tight limits.
/// IngestBatch must answer every input with a batch or a CollectorError, never a crash or an out-of-bounds read.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIngest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    var limits = IngestLimits()
    limits.maximumRecords = 50
    limits.maximumJSONBytes = 1 << 20
    _ = try? IngestBatch(body: bytes, encoding: nil, limits: limits)
    if let first = bytes.first, first & 1 == 1 { _ = try? IngestBatch(body: bytes.dropFirst(), encoding: "gzip", limits: limits) }
    return 0
}
