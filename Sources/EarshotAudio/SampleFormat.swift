import Foundation
/// An interleaved PCM sample encoding that capture and raw streams accept.
public enum SampleFormat: String, Sendable, CaseIterable, Codable {
    /// Signed 16-bit little-endian integers (ALSA `S16_LE`).
    case s16le = "S16_LE"
    /// Signed 32-bit little-endian integers (ALSA `S32_LE`; 24-bit codecs deliver this, MSB-aligned).
    case s32le = "S32_LE"
    /// 32-bit IEEE float little-endian in [-1, 1] (ALSA `FLOAT_LE`).
    case f32le = "FLOAT_LE"

    /// Bytes one sample occupies.
    public var bytesPerSample: Int {
        switch self {
        case .s16le: 2
        case .s32le, .f32le: 4
        }
    }

    /// Parses ALSA-style (`S16_LE`) or short (`s16le`, `s16`, `f32`) spellings.
    public init?(parsing text: String) {
        switch text.lowercased().replacingOccurrences(of: "_", with: "") {
        case "s16le", "s16", "int16": self = .s16le
        case "s32le", "s32", "int32": self = .s32le
        case "floatle", "float", "f32le", "f32", "float32": self = .f32le
        default: return nil
        }
    }

    /// Converts `frameCount × channels` interleaved samples from little-endian `bytes` into floats in [-1, 1).
    ///
    /// Integers are scaled by 2^-(bits-1), so 16-bit input converts exactly and converts back exactly.
    /// Non-finite floats become 0 so one bad sample cannot poison the resampler.
    public func decode(_ bytes: UnsafeRawBufferPointer, sampleCount: Int, into output: UnsafeMutablePointer<Float>) {
        precondition(bytes.count >= sampleCount * bytesPerSample, "buffer holds fewer samples than claimed")
        switch self {
        case .s16le:
            for i in 0..<sampleCount {
                let raw = bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
                output[i] = Float(Int16(bitPattern: UInt16(littleEndian: raw))) * (1.0 / 32_768)
            }
        case .s32le:
            for i in 0..<sampleCount {
                let raw = bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)
                output[i] = Float(Int32(bitPattern: UInt32(littleEndian: raw))) * (1.0 / 2_147_483_648)
            }
        case .f32le:
            for i in 0..<sampleCount {
                let raw = bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)
                let value = Float(bitPattern: UInt32(littleEndian: raw))
                output[i] = value.isFinite ? value : 0
            }
        }
    }
}
