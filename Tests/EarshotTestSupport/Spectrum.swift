import EarshotMonitoring
import Foundation

/// Spectral measurements for resampler and signal tests: a radix-2 FFT with a Blackman–Harris window.
public enum Spectrum {
    /// Power spectrum in dB (relative to the largest bin) of the first power-of-two `n` samples, windowed
    /// with a 4-term Blackman–Harris window (side lobes below −92 dB). Returns `n/2 + 1` bins.
    public static func relativeDecibels(_ samples: [Double], n: Int) -> [Double] {
        precondition(n > 0 && n & (n - 1) == 0 && samples.count >= n)
        var re = [Double](repeating: 0, count: n)
        var im = [Double](repeating: 0, count: n)
        let a0 = 0.35875, a1 = 0.48829, a2 = 0.14128, a3 = 0.01168
        for i in 0..<n {
            let x = 2 * Double.pi * Double(i) / Double(n - 1)
            re[i] = samples[i] * (a0 - a1 * cos(x) + a2 * cos(2 * x) - a3 * cos(3 * x))
        }
        fft(&re, &im)
        let power = (0...(n / 2)).map { re[$0] * re[$0] + im[$0] * im[$0] }
        let top = power.max() ?? 1
        return power.map { 10 * log10(max($0 / top, 1e-30)) }
    }

    /// In-place iterative radix-2 complex FFT (the one EarshotMonitoring measures spectral shape with).
    public static func fft(_ re: inout [Double], _ im: inout [Double]) { SpectralShape.fft(&re, &im) }

    /// Frequency in Hz of the strongest bin.
    public static func peakFrequency(_ decibels: [Double], sampleRate: Int) -> Double {
        let index = decibels.indices.max(by: { decibels[$0] < decibels[$1] }) ?? 0
        return Double(index) * Double(sampleRate) / Double(2 * (decibels.count - 1))
    }

    /// The strongest bin, in dB relative to the peak, outside ±`guardHz` of `frequency`.
    public static func strongestSpur(_ decibels: [Double], sampleRate: Int, excluding frequency: Double, guardHz: Double) -> Double {
        let binHz = Double(sampleRate) / Double(2 * (decibels.count - 1))
        var worst = -400.0
        for (index, level) in decibels.enumerated() where abs(Double(index) * binHz - frequency) > guardHz && index > 0 {
            worst = max(worst, level)
        }
        return worst
    }

    /// A sine of `frequency` Hz at `amplitude` (fraction of full scale), `seconds` long.
    public static func tone(frequency: Double, amplitude: Double, sampleRate: Int, seconds: Double) -> [Double] {
        (0..<Int(Double(sampleRate) * seconds)).map { amplitude * sin(2 * Double.pi * frequency * Double($0) / Double(sampleRate)) }
    }

    /// RMS of samples.
    public static func rms(_ samples: some Collection<Double>) -> Double {
        (samples.reduce(0) { $0 + $1 * $1 } / Double(max(1, samples.count))).squareRoot()
    }
}
