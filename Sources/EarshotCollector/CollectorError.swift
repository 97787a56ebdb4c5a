/// A collector failure with an HTTP status and a message for people; the ingest contract (docs/SYNC.md) maps each
/// status to what the device does next (4xx: dead-letter the batch; 5xx: retry it later).
public struct CollectorError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var message: String

    public init(_ status: Int, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { message }

    static func badRequest(_ message: String) -> Self { Self(400, message) }
    static func unauthorized(_ message: String) -> Self { Self(401, message) }
    static func forbidden(_ message: String) -> Self { Self(403, message) }
    static func conflict(_ message: String) -> Self { Self(409, message) }
    static func tooLarge(_ message: String) -> Self { Self(413, message) }
    /// A storage failure: the device retries, nothing was acknowledged.
    static func storage(_ message: String) -> Self { Self(503, message) }
}
