import Foundation

/// A CSV file (RFC 4180: quoted fields, doubled quotes, CRLF or LF) as named columns of strings, for
/// `earshot-collector drift`. Every row must have the header's width; errors name the line.
public struct DriftTable: Sendable {
    public var header: [String]
    public var columns: [[String]]
    public var rowCount: Int { columns.first?.count ?? 0 }

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(csv text: String, name: String = "CSV") throws(ParseError) {
        var text = text
        let parsed: Result<[[String]], ParseError> = text.withUTF8 { bytes in
            do throws(ParseError) { return .success(try Self.rows(bytes, name: name)) } catch { return .failure(error) }
        }
        let rows = try parsed.get()
        guard let header = rows.first, !header.isEmpty else { throw ParseError(description: "\(name): no header row") }
        var seen = Set<String>()
        for column in header where !seen.insert(column).inserted {
            throw ParseError(description: "\(name): the column \"\(column)\" appears twice in the header")
        }
        var columns = [[String]](repeating: [], count: header.count)
        for (index, row) in rows.dropFirst().enumerated() {
            guard row.count == header.count else {
                throw ParseError(description: "\(name): data row \(index + 1) has \(row.count) fields, the header has \(header.count)")
            }
            for (k, value) in row.enumerated() { columns[k].append(value) }
        }
        self.header = header
        self.columns = columns
    }

    /// Splits UTF-8 bytes into rows of fields, byte by byte; quoted fields may hold commas, newlines and doubled quotes.
    static func rows(_ bytes: UnsafeBufferPointer<UInt8>, name: String) throws(ParseError) -> [[String]] {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), newline = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        var rows: [[String]] = []
        var row: [String] = []
        var i = 0, line = 1
        let n = bytes.count
        while i < n {
            // One field.
            var field: String
            if bytes[i] == quote {
                var value: [UInt8] = []
                i += 1
                let opened = line
                while true {
                    guard i < n else { throw ParseError(description: "\(name): a quoted field opened on line \(opened) never closes") }
                    let b = bytes[i]
                    if b == quote {
                        if i + 1 < n && bytes[i + 1] == quote { value.append(quote); i += 2; continue }
                        i += 1
                        break
                    }
                    if b == newline { line += 1 }
                    value.append(b)
                    i += 1
                }
                field = String(decoding: value, as: UTF8.self)
                while i < n && bytes[i] != comma && bytes[i] != newline && bytes[i] != cr { i += 1 }   // text after the quote
            } else {
                let start = i
                while i < n && bytes[i] != comma && bytes[i] != newline && bytes[i] != cr { i += 1 }
                field = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            }
            row.append(field)
            if i < n && bytes[i] == comma {
                i += 1
                if i == n { row.append("") }
                continue
            }
            if i < n && bytes[i] == cr { i += 1 }
            if i < n && bytes[i] == newline { i += 1; line += 1 }
            if !(row.count == 1 && row[0].isEmpty) { rows.append(row) }
            row = []
            row.reserveCapacity(rows.first?.count ?? 8)
        }
        if !row.isEmpty { rows.append(row) }
        return rows
    }

    /// Values that count as missing: empty, NA, NaN, null, none (any case, spaces around ignored).
    public static func isMissing(_ value: String) -> Bool {
        let v = trimmed(value)
        if v.isEmpty { return true }
        guard v.utf8.count <= 4, let first = v.utf8.first, first > UInt8(ascii: "9") else { return false }
        switch v.lowercased() {
        case "na", "nan", "null", "none": return true
        default: return false
        }
    }

    /// The value without ASCII spaces and tabs around it (no copy when there are none, the common case).
    static func trimmed(_ value: String) -> Substring {
        let utf8 = value.utf8
        var start = utf8.startIndex, end = utf8.endIndex
        while start < end, utf8[start] == 0x20 || utf8[start] == 0x09 { start = utf8.index(after: start) }
        while end > start, utf8[utf8.index(before: end)] == 0x20 || utf8[utf8.index(before: end)] == 0x09 { end = utf8.index(before: end) }
        return value[start..<end]
    }

    /// The inferred type of a column: numeric when every present value parses as a finite number and there are more
    /// than `categoricalLimit` distinct values (or any is fractional); otherwise categorical (labels, flags, codes).
    public static func inferType(_ values: [String], categoricalLimit: Int = 10) -> String {
        var distinct = Set<String>()
        var fractional = false
        for raw in values where !isMissing(raw) {
            let v = trimmed(raw)
            guard let number = Double(v), number.isFinite else { return "categorical" }
            if number != number.rounded() { fractional = true }
            if distinct.count <= categoricalLimit { distinct.insert(String(v)) }
        }
        if distinct.isEmpty { return "categorical" }
        return fractional || distinct.count > categoricalLimit ? "numeric" : "categorical"
    }

    /// The column as a `DriftColumn` of the given type, missing values dropped; also the number dropped.
    public func column(_ name: String, type: String) throws(ParseError) -> (DriftColumn, missing: Int) {
        guard let index = header.firstIndex(of: name) else { throw ParseError(description: "no column \"\(name)\"") }
        let present = columns[index].filter { !Self.isMissing($0) }
        let missing = columns[index].count - present.count
        if type == "numeric" {
            var numbers: [Double] = []
            numbers.reserveCapacity(present.count)
            for (row, raw) in present.enumerated() {
                guard let number = Double(Self.trimmed(raw)), number.isFinite else {
                    throw ParseError(description: "column \"\(name)\" is numeric but holds \"\(raw)\" (value \(row + 1))")
                }
                numbers.append(number)
            }
            return (.numeric(numbers), missing)
        }
        return (.categorical(present.map { String(Self.trimmed($0)) }), missing)
    }
}
