/// A strict, allocation-light JSON reader over UTF-8 bytes (RFC 8259: no trailing commas, no comments, no leading zeros,
/// nesting at most 64 deep, strings valid UTF-8). Ingest reads a batch with it in one pass, keeping each record's exact
/// bytes: the general-purpose parser plus re-encoding cost five times more and was the collector's bottleneck.
struct JSONScanner {
    struct Failure: Error { var message: String }

    private let bytes: UnsafeBufferPointer<UInt8>
    private(set) var position = 0
    private var depth = 0
    static let maximumDepth = 64

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    var atEnd: Bool { position >= bytes.count }

    private func fail(_ what: String) -> Failure { Failure(message: "\(what) at byte \(position)") }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    /// The next non-blank byte, not consumed.
    mutating func peek() throws(Failure) -> UInt8 {
        skipWhitespace()
        guard position < bytes.count else { throw fail("unexpected end of JSON") }
        return bytes[position]
    }

    mutating func expect(_ byte: UInt8) throws(Failure) {
        guard try peek() == byte else { throw fail("expected '\(Character(Unicode.Scalar(byte)))'") }
        position += 1
    }

    /// Reads an object, calling `member` with each key; `member` reads the value and returns true, or returns false
    /// and the value is skipped.
    mutating func object(_ member: (inout JSONScanner, String) throws(Failure) -> Bool) throws(Failure) {
        try expect(UInt8(ascii: "{"))
        depth += 1
        guard depth <= Self.maximumDepth else { throw fail("JSON nested deeper than \(Self.maximumDepth)") }
        if try peek() == UInt8(ascii: "}") { position += 1; depth -= 1; return }
        while true {
            let key = try string()
            try expect(UInt8(ascii: ":"))
            if try !member(&self, key) { try skipValue() }
            switch try peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"): position += 1; depth -= 1; return
            default: throw fail("expected ',' or '}' in an object")
            }
        }
    }

    /// Reads an array, calling `element` for each value (which it must read).
    mutating func array(_ element: (inout JSONScanner, Int) throws(Failure) -> Void) throws(Failure) {
        try expect(UInt8(ascii: "["))
        depth += 1
        guard depth <= Self.maximumDepth else { throw fail("JSON nested deeper than \(Self.maximumDepth)") }
        if try peek() == UInt8(ascii: "]") { position += 1; depth -= 1; return }
        var index = 0
        while true {
            try element(&self, index)
            index += 1
            switch try peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"): position += 1; depth -= 1; return
            default: throw fail("expected ',' or ']' in an array")
            }
        }
    }

    /// Skips one value of any kind, checking its syntax; returns its byte range.
    @discardableResult
    mutating func skipValue() throws(Failure) -> Range<Int> {
        let first = try peek()
        let start = position
        switch first {
        case UInt8(ascii: "{"): try object { _, _ throws(Failure) in false }
        case UInt8(ascii: "["): try array { scanner, _ throws(Failure) in try scanner.skipValue() }
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: _ = try number()                   // out-of-range numbers are refused everywhere, as Foundation does
        }
        return start..<position
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw fail("unexpected end of JSON") }
        for k in 0..<count where bytes[position + k] != word.utf8Start[k] { throw fail("invalid literal") }
        position += count
    }

    /// A digest of one value's content that ignores what JSON leaves free: whitespace, the order of an object's members,
    /// escapes and number spelling ("1.0" and "1e0" are one number). Two 64-bit lanes of a fixed mix, the same in every
    /// process, so collectors sharing a database agree on whether a resent record is the one stored.
    mutating func contentDigest() throws(Failure) -> ContentDigest {
        let first = try peek()
        switch first {
        case UInt8(ascii: "{"):
            var sum = ContentDigest(0x6F62_6A65_6374, 0x7B7D)
            try object { s, key throws(Failure) in
                let value = try s.contentDigest()
                sum.add(ContentDigest(text: key).combined(with: value))
                return true
            }
            return sum.combined(with: ContentDigest(0x7D, 0x7B))
        case UInt8(ascii: "["):
            var running = ContentDigest(0x6172_7261_79, 0x5B5D)
            try array { s, _ throws(Failure) in running = running.combined(with: try s.contentDigest()) }
            return running.combined(with: ContentDigest(0x5D, 0x5B))
        case UInt8(ascii: "\""): return try stringDigest()
        case UInt8(ascii: "t"): try literal("true"); return ContentDigest(0x7472_7565, 1)
        case UInt8(ascii: "f"): try literal("false"); return ContentDigest(0x6661_6C73_65, 2)
        case UInt8(ascii: "n"): try literal("null"); return ContentDigest(0x6E75_6C6C, 3)
        default:
            let value = try number()
            return ContentDigest(0x6E75_6D, (value == 0 ? 0 : value).bitPattern)
        }
    }

    /// A value that must be a string, or null (nil).
    mutating func optionalString() throws(Failure) -> String? {
        if try peek() == UInt8(ascii: "n") { try literal("null"); return nil }
        return try string()
    }

    /// A value that is a number (nil for null or any other kind, which is skipped).
    mutating func optionalNumber() throws(Failure) -> Double? {
        let first = try peek()
        if first == UInt8(ascii: "-") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) { return try number() }
        try skipValue()
        return nil
    }

    /// A value that is true or false (nil for anything else, which is skipped).
    mutating func optionalBool() throws(Failure) -> Bool? {
        switch try peek() {
        case UInt8(ascii: "t"): try literal("true"); return true
        case UInt8(ascii: "f"): try literal("false"); return false
        default: try skipValue(); return nil
        }
    }

    mutating func number() throws(Failure) -> Double {
        let range = try numberRange()
        // The grammar is checked; strtod-free conversion through Swift's parser of the ASCII slice.
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw fail("number out of range") }
        return value
    }

    /// An integer (a number with no fraction, within ±2^53).
    mutating func integer() throws(Failure) -> Int64? {
        let first = try peek()
        guard first == UInt8(ascii: "-") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else { try skipValue(); return nil }
        let value = try number()
        guard value == value.rounded(), abs(value) < 9_007_199_254_740_992 else { return nil }
        return Int64(value)
    }

    private mutating func numberRange() throws(Failure) -> Range<Int> {
        let start = position
        func digit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        if position < bytes.count && bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count, digit(bytes[position]) else { throw fail("invalid value") }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            while position < bytes.count && digit(bytes[position]) { position += 1 }
        }
        if position < bytes.count && bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard position < bytes.count, digit(bytes[position]) else { throw fail("invalid number") }
            while position < bytes.count && digit(bytes[position]) { position += 1 }
        }
        if position < bytes.count && (bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E")) {
            position += 1
            if position < bytes.count && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")) { position += 1 }
            guard position < bytes.count, digit(bytes[position]) else { throw fail("invalid number") }
            while position < bytes.count && digit(bytes[position]) { position += 1 }
        }
        return start..<position
    }

    /// Checks a string's syntax (escapes, control characters, UTF-8) without building it.
    private mutating func skipString() throws(Failure) {
        _ = try stringContent(build: false)
    }

    mutating func string() throws(Failure) -> String {
        guard try peek() == UInt8(ascii: "\"") else { throw fail("expected a string") }
        return try stringContent(build: true) ?? ""
    }

    private mutating func stringContent(build: Bool) throws(Failure) -> String? {
        let (raw, escaped) = try stringBytes()
        guard build else { return nil }
        let text = String(decoding: raw, as: UTF8.self)
        return escaped ? try Self.unescape(text) : text
    }

    /// Scans a string (the opening quote is next): its raw bytes between the quotes, checked, and whether it has escapes.
    /// ASCII needs no UTF-8 check; other bytes get the full one.
    private mutating func stringBytes() throws(Failure) -> (UnsafeBufferPointer<UInt8>, escaped: Bool) {
        position += 1                                   // the opening quote
        let start = position
        var escaped = false, ascii = true
        while true {
            guard position < bytes.count else { throw fail("unterminated string") }
            let b = bytes[position]
            if b == UInt8(ascii: "\"") { break }
            if b < 0x20 { throw fail("control character in a string") }
            if b == UInt8(ascii: "\\") {
                escaped = true
                position += 1
                guard position < bytes.count else { throw fail("unterminated string") }
                switch bytes[position] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"): position += 1
                case UInt8(ascii: "u"):
                    guard position + 4 < bytes.count, (1...4).allSatisfy({ Self.hex(bytes[position + $0]) != nil }) else {
                        throw fail("invalid \\u escape")
                    }
                    position += 5
                default: throw fail("invalid escape")
                }
                continue
            }
            if b >= 0x80 { ascii = false }
            position += 1
        }
        let raw = UnsafeBufferPointer(rebasing: bytes[start..<position])
        position += 1                                   // the closing quote
        if !ascii && String(validating: raw, as: UTF8.self) == nil { throw fail("a string is not valid UTF-8") }
        return (raw, escaped)
    }

    /// The content digest of a string value, from its bytes when it has no escapes (no String built).
    private mutating func stringDigest() throws(Failure) -> ContentDigest {
        let (raw, escaped) = try stringBytes()
        if escaped { return ContentDigest(text: try Self.unescape(String(decoding: raw, as: UTF8.self))) }
        return ContentDigest(utf8: raw)
    }

    static func hex(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(b - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// Decodes the escapes of an already-checked string body, joining UTF-16 surrogate pairs.
    static func unescape(_ text: String) throws(Failure) -> String {
        var out = String.UnicodeScalarView()
        var scalars = Array(text.unicodeScalars)[...]
        func unit() throws(Failure) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let s = scalars.popFirst(), s.isASCII, let h = hex(UInt8(s.value)) else { throw Failure(message: "invalid \\u escape") }
                value = value << 4 | h
            }
            return value
        }
        while let s = scalars.popFirst() {
            guard s == "\\", let e = scalars.popFirst() else { out.append(s); continue }
            switch e {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "u":
                var code = try unit()
                if (0xD800..<0xDC00).contains(code), scalars.first == "\\", scalars.dropFirst().first == "u" {
                    scalars = scalars.dropFirst(2)
                    let low = try unit()
                    guard (0xDC00..<0xE000).contains(low) else { throw Failure(message: "unpaired surrogate in a \\u escape") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { throw Failure(message: "unpaired surrogate in a \\u escape") }
                out.append(scalar)
            default: out.append(e)
            }
        }
        return String(out)
    }
}

/// 128 bits from two independently seeded 64-bit mixes (splitmix64 finaliser): not cryptographic, but fixed across
/// processes and machines, and a device can only collide its own records.
struct ContentDigest: Equatable {
    var a: UInt64, b: UInt64
    init(_ a: UInt64, _ b: UInt64) { self.a = Self.mix(a ^ 0x9E37_79B9_7F4A_7C15); self.b = Self.mix(b &+ 0xD1B5_4A32_D192_ED03) }
    init(text: String) {
        var text = text
        self = text.withUTF8 { ContentDigest(utf8: $0) }
    }
    init(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        var a: UInt64 = 0xCBF2_9CE4_8422_2325, b: UInt64 = 0x8422_2325_CBF2_9CE4
        for byte in bytes {
            a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            b = (b &+ UInt64(byte)) &* 0x9E37_79B9_7F4A_7C15
            b ^= b >> 29
        }
        self.init(a ^ UInt64(bytes.count), b)
    }
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Order-dependent: (x then y) differs from (y then x).
    func combined(with other: ContentDigest) -> ContentDigest {
        ContentDigest(a &* 0x0000_0100_0000_01B3 ^ other.a, b &* 0x9E37_79B9_7F4A_7C15 &+ other.b)
    }
    /// Order-independent accumulation (object members).
    mutating func add(_ other: ContentDigest) { a &+= other.a; b &+= other.b }
    var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: 32)
        for k in 0..<16 {
            out[k] = digits[Int(a >> (60 - 4 * UInt64(k)) & 0xF)]
            out[16 + k] = digits[Int(b >> (60 - 4 * UInt64(k)) & 0xF)]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
