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
        var rows: [[String]] = []
        var field = ""
        var row: [String] = []
        var quoted = false
        var line = 1
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let p = pending { pending = nil; return p }
            return iterator.next()
        }
        while let ch = next() {
            if quoted {
                if ch == "\"" {
                    if let after = next() {
                        if after == "\"" { field.unicodeScalars.append("\"") } else { quoted = false; pending = after }
                    } else { quoted = false }
                } else {
                    if ch == "\n" { line += 1 }
                    field.unicodeScalars.append(ch)
                }
                continue
            }
            switch ch {
            case "\"" where field.isEmpty: quoted = true
            case ",": row.append(field); field = ""
            case "\r": continue
            case "\n":
                row.append(field); field = ""
                if !(row.count == 1 && row[0].isEmpty) { rows.append(row) }
                row = []
                line += 1
            default: field.unicodeScalars.append(ch)
            }
        }
        if quoted { throw ParseError(description: "\(name): a quoted field opened before line \(line) never closes") }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
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

    /// Values that count as missing: empty, NA, NaN, null (any case).
    public static func isMissing(_ value: String) -> Bool {
        let v = value.trimmingCharacters(in: .whitespaces).lowercased()
        return v.isEmpty || v == "na" || v == "nan" || v == "null" || v == "none"
    }

    /// The inferred type of a column: numeric when every present value parses as a finite number and there are more
    /// than `categoricalLimit` distinct values (or any is fractional); otherwise categorical (labels, flags, codes).
    public static func inferType(_ values: [String], categoricalLimit: Int = 10) -> String {
        var distinct = Set<String>()
        var fractional = false
        for raw in values where !isMissing(raw) {
            let v = raw.trimmingCharacters(in: .whitespaces)
            guard let number = Double(v), number.isFinite else { return "categorical" }
            if number != number.rounded() { fractional = true }
            if distinct.count <= categoricalLimit { distinct.insert(v) }
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
                guard let number = Double(raw.trimmingCharacters(in: .whitespaces)), number.isFinite else {
                    throw ParseError(description: "column \"\(name)\" is numeric but holds \"\(raw)\" (value \(row + 1))")
                }
                numbers.append(number)
            }
            return (.numeric(numbers), missing)
        }
        return (.categorical(present.map { $0.trimmingCharacters(in: .whitespaces) }), missing)
    }
}
