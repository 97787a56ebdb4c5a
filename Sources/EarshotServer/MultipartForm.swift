public import Foundation

/// A `multipart/form-data` body (RFC 7578) split into its fields, with every bound checked: the request is untrusted.
public struct MultipartForm: Sendable {
    public struct Part: Sendable {
        public var name: String
        public var filename: String?
        public var contentType: String?
        public var body: Data
    }

    public struct Limits: Sendable {
        public var parts = 32
        /// Bytes of one part's headers.
        public var headerBytes = 4_096
        /// Bytes of a part that is not a file (a form field).
        public var fieldBytes = 65_536
        public init() {}
    }

    public let parts: [Part]

    /// The first part named `name`.
    public subscript(_ name: String) -> Part? { parts.first { $0.name == name } }

    /// A field's text (UTF-8), trimmed.
    public func text(_ name: String) -> String? {
        self[name].flatMap { String(data: $0.body, encoding: .utf8) }?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The boundary of a `multipart/form-data; boundary=…` content type, nil for any other content type.
    public static func boundary(contentType: String) -> String? {
        let pieces = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard pieces.first?.lowercased() == "multipart/form-data" else { return nil }
        for piece in pieces.dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, pair[0].lowercased() == "boundary" else { continue }
            var value = pair[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            // RFC 2046: 1–70 characters.
            return (1...70).contains(value.utf8.count) ? value : nil
        }
        return nil
    }

    public init(body: Data, boundary: String, limits: Limits = Limits()) throws(ServeError) {
        let delimiter = Data("--\(boundary)".utf8)
        let crlf = Data("\r\n".utf8)
        guard let first = body.range(of: delimiter) else { throw ServeError(.badRequest, "The multipart body has no boundary line.") }
        var cursor = first.upperBound
        var parts: [Part] = []
        while true {
            // After a delimiter: "--" ends the body, CRLF starts a part.
            if body[cursor...].starts(with: Data("--".utf8)) { break }
            guard body[cursor...].starts(with: crlf) else { throw ServeError(.badRequest, "A multipart boundary line is malformed.") }
            cursor += 2
            guard let headerEnd = body.range(of: Data("\r\n\r\n".utf8), in: cursor..<min(body.endIndex, cursor + limits.headerBytes + 4)) else {
                throw ServeError(.badRequest, "A multipart part's headers are missing or longer than \(limits.headerBytes) bytes.")
            }
            let headers = String(decoding: body[cursor..<headerEnd.lowerBound], as: UTF8.self)
            cursor = headerEnd.upperBound
            guard let next = body.range(of: crlf + delimiter, in: cursor..<body.endIndex) else {
                throw ServeError(.badRequest, "The multipart body ends inside a part (no closing boundary).")
            }
            var part = Part(name: "", filename: nil, contentType: nil, body: Data(body[cursor..<next.lowerBound]))
            for line in headers.components(separatedBy: "\r\n") {
                let pair = line.split(separator: ":", maxSplits: 1)
                guard pair.count == 2 else { continue }
                let value = pair[1].trimmingCharacters(in: .whitespaces)
                switch pair[0].lowercased() {
                case "content-disposition":
                    part.name = Self.parameter("name", in: value) ?? ""
                    part.filename = Self.parameter("filename", in: value)
                case "content-type": part.contentType = value
                default: break
                }
            }
            guard !part.name.isEmpty else { throw ServeError(.badRequest, "A multipart part has no name.") }
            guard part.filename != nil || part.body.count <= limits.fieldBytes else {
                throw ServeError(.badRequest, "The field \(part.name) is longer than \(limits.fieldBytes) bytes.")
            }
            parts.append(part)
            guard parts.count <= limits.parts else { throw ServeError(.badRequest, "The form has more than \(limits.parts) parts.") }
            cursor = next.upperBound
        }
        self.parts = parts
    }

    /// `key="value"` (or unquoted) from a header value such as `form-data; name="file"; filename="a.wav"`.
    static func parameter(_ key: String, in value: String) -> String? {
        for piece in value.split(separator: ";").dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0].lowercased() == key else { continue }
            var v = pair[1]
            if v.hasPrefix("\""), v.hasSuffix("\""), v.count >= 2 { v = String(v.dropFirst().dropLast()) }
            return v
        }
        return nil
    }
}

/// A request `earshot serve` cannot answer, with the HTTP status it gets and a message for the caller.
public struct ServeError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Int, Sendable {
        case badRequest = 400, unauthorized = 401, notFound = 404, tooLarge = 413, unsupportedMedia = 415, unprocessable = 422, internalError = 500
    }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }
    public var description: String { message }
}
