import EarshotTestSupport
import Foundation

/// The committed oracle vectors (made by scripts/oracles/make_frontend_vectors.py) and the audio they were made from.
enum OracleVectors {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Vectors/\(name)", withExtension: nil)!
    }

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: url(name))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// Frames per clip from one vector file.
    static func frames(_ file: String) throws -> [String: [[Int]]] {
        let object = try json(file)
        return (object["frames"] as! [String: [[Int]]])
    }

    /// The samples of a named clip: committed generated audio, or the shared fixtures.
    static func samples(_ clip: String) throws -> [Int16] {
        switch clip {
        case let name where name.hasPrefix("speech_commands_"):
            let word = name.dropFirst("speech_commands_".count)
            return try wavSamples(Fixtures.path("tflm-micro-speech/\(word)_1000ms.wav"))
        case "pocketsphinx_goforward":
            return try Fixtures.int16Samples(rawFile: Fixtures.path("pocketsphinx/goforward.raw"))
        case "librivox_0880":
            return try wavSamples(Fixtures.path("pocketsphinx/sense_and_sensibility_01_austen_64kb-0880.wav"))
        default:
            return try Fixtures.int16Samples(rawFile: url("audio/\(clip).raw").path)
        }
    }

    /// 16-bit PCM from a canonical WAV (data chunk found by walking the chunks).
    static func wavSamples(_ path: String) throws -> [Int16] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var offset = 12
        while offset + 8 <= data.count {
            let id = String(decoding: data[offset..<(offset + 4)], as: UTF8.self)
            let size = Int(data[offset + 4]) | Int(data[offset + 5]) << 8 | Int(data[offset + 6]) << 16 | Int(data[offset + 7]) << 24
            if id == "data" {
                let body = data[(offset + 8)..<min(data.count, offset + 8 + size)]
                return body.withUnsafeBytes { bytes in
                    (0..<(body.count / 2)).map { Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self)) }
                }
            }
            offset += 8 + size + (size & 1)
        }
        throw CocoaError(.fileReadCorruptFile)
    }
}
