import Foundation

/// The frontend's analysis window: buffers streaming samples and applies a Q12 Hann window every `step` samples.
///
/// Matches TFLM's `WindowPopulateState`/`WindowProcessSamples`: coefficients are ⌊0.5 + 4096·(½ − ½·cos(2π(i+½)/N))⌋
/// computed in `Float`, and each output is `(sample × coefficient) >> 12`.
public final class Window {
    /// Fractional bits of the coefficients (`kFrontendWindowBits`).
    public static let coefficientBits = 12
    /// Samples per window.
    public let size: Int
    /// Samples between window starts.
    public let step: Int
    /// Q12 coefficients, one per sample.
    public let coefficients: [Int16]
    private let input: UnsafeMutablePointer<Int16>
    /// The last windowed frame; valid until the next frame is produced.
    public let output: UnsafeMutablePointer<Int16>
    private var inputUsed = 0
    /// Largest |output| of the last frame (sets the FFT's input scaling).
    public private(set) var maxAbsOutput: Int16 = 0

    /// Creates a window of `sizeMs` milliseconds stepping by `stepMs` at `sampleRate`.
    public init(sizeMs: Int, stepMs: Int, sampleRate: Int, tables: FrontendTableConvention = .microFrontend) {
        size = sizeMs * sampleRate / 1000
        step = stepMs * sampleRate / 1000
        precondition(size > 0 && step > 0 && step <= size, "window \(sizeMs) ms / step \(stepMs) ms is not usable")
        coefficients = Self.hann(size: size, tables: tables)
        input = .allocate(capacity: size)
        input.initialize(repeating: 0, count: size)
        output = .allocate(capacity: size)
        output.initialize(repeating: 0, count: size)
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    /// The Q12 Hann table: in single precision, rounded half up, as the TFLM C code does (π rounded to the nearest
    /// `Float`), or in double precision rounded half to even, as TFLM's signal-library generator does.
    public static func hann(size: Int, tables: FrontendTableConvention = .microFrontend) -> [Int16] {
        if tables == .signalLibrary {
            let arg = Double.pi * 2 / Double(size)
            return (0..<size).map { i in
                let value = 0.5 - 0.5 * cos(arg * (Double(i) + 0.5))
                return Int16((value * Double(1 << coefficientBits)).rounded(.toNearestOrEven))
            }
        }
        let arg = Float(Double.pi) * 2 / Float(size)
        return (0..<size).map { i in
            let value = Float(0.5) - Float(0.5) * cos(arg * (Float(i) + 0.5))
            return Int16(floor(value * Float(1 << coefficientBits) + 0.5))
        }
    }

    /// Takes samples until a window is full. Returns true when `output` holds a new frame.
    /// - Parameter consumed: set to how many of `samples` were taken (the rest belong to later frames).
    public func process(_ samples: UnsafeBufferPointer<Int16>, consumed: inout Int) -> Bool {
        let take = min(size - inputUsed, samples.count)
        if take > 0 { (input + inputUsed).update(from: samples.baseAddress!, count: take) }
        consumed = take
        inputUsed += take
        guard inputUsed == size else { return false }
        var maxAbs: Int16 = 0
        coefficients.withUnsafeBufferPointer { coefficient in
            for i in 0..<size {
                // Q0.15 × Q3.12 → Q3.27, >> 12 → Q0.15 (the coefficient is at most 1.0, so it fits)
                let value = Int16(truncatingIfNeeded: (Int32(input[i]) * Int32(coefficient[i])) >> Int32(Self.coefficientBits))
                output[i] = value
                let magnitude = value < 0 ? 0 &- value : value
                if magnitude > maxAbs { maxAbs = magnitude }
            }
        }
        (input).update(from: input + step, count: size - step)
        inputUsed -= step
        maxAbsOutput = maxAbs
        return true
    }

    /// Forgets buffered samples.
    public func reset() {
        input.update(repeating: 0, count: size)
        output.update(repeating: 0, count: size)
        inputUsed = 0
        maxAbsOutput = 0
    }
}
