import Foundation

/// Presentation helpers shared by the commands.
enum Output {
    /// JSON with snake_case keys and stable key order: what scripts read.
    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        guard let data = try? encoder.encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Rounds for display and JSON: levels to 0.01 dB, so output stays readable and diffable.
    static func round(_ value: Double, places: Int = 2) -> Double {
        let scale = pow(10.0, Double(places))
        return (value * scale).rounded() / scale
    }

    /// Writes a line to stderr (progress, warnings); stdout is reserved for results.
    static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// True when stderr is a terminal (live meters instead of progress lines).
    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }
}

extension Output {
    /// Writes to stderr without a newline (for redrawing a meter line).
    static func noteInline(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
