import Foundation

/// The long-term spectrum's shape of a stretch of audio: where its energy sits (centroid) and how it falls with
/// frequency (tilt, dB per octave). A change of microphone or of room shows here before it shows in accuracy, so
/// every utterance record carries both, and the drift engine watches them.
public struct SpectralShape: Sendable, Hashable, Codable {
    /// Power-weighted mean frequency over 100 Hz … 7.9 kHz, in Hz.
    public var centroidHz: Double
    /// Least-squares slope of band power (dB) against log2 frequency over 125 Hz … 7.9 kHz: 0 for white noise,
    /// about −3 for pink, more negative for a muffled microphone.
    public var tiltDBPerOctave: Double

    static let size = 512

    /// The shape of 16 kHz `samples` (Hann-windowed 512-point frames, hop 256, power averaged); nil for less than a
    /// frame or for silence.
    public static func of(_ samples: ArraySlice<Int16>, sampleRate: Double = 16_000) -> SpectralShape? {
        guard samples.count >= size else { return nil }
        let window = (0..<size).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(size)) }
        var power = [Double](repeating: 0, count: size / 2 + 1)
        var re = [Double](repeating: 0, count: size), im = [Double](repeating: 0, count: size)
        var frames = 0
        var start = samples.startIndex
        while start + size <= samples.endIndex {
            for i in 0..<size { re[i] = Double(samples[start + i]) / 32_768 * window[i]; im[i] = 0 }
            fft(&re, &im)
            for k in 0...(size / 2) { power[k] += re[k] * re[k] + im[k] * im[k] }
            frames += 1
            start += size / 2
        }
        let binHz = sampleRate / Double(size)
        var weighted = 0.0, total = 0.0
        for k in 0...(size / 2) {
            let f = Double(k) * binHz
            guard f >= 100, f <= 7_900 else { continue }
            weighted += f * power[k]; total += power[k]
        }
        guard total > 1e-12 * Double(frames) else { return nil }
        // Third-octave bands from 125 Hz: mean power per band in dB against the band centre's octave number.
        var xs: [Double] = [], ys: [Double] = []
        var low = 125.0
        while low * pow(2, 1.0 / 3) <= 7_900 {
            let high = low * pow(2, 1.0 / 3)
            let bins = (0...(size / 2)).filter { Double($0) * binHz >= low && Double($0) * binHz < high }
            if !bins.isEmpty {
                let mean = bins.reduce(0.0) { $0 + power[$1] } / Double(bins.count)
                if mean > 0 { xs.append(log2((low * high).squareRoot())); ys.append(10 * log10(mean)) }
            }
            low = high
        }
        let n = Double(xs.count)
        let mx = xs.reduce(0, +) / n, my = ys.reduce(0, +) / n
        let sxy = zip(xs, ys).reduce(0.0) { $0 + ($1.0 - mx) * ($1.1 - my) }
        let sxx = xs.reduce(0.0) { $0 + ($1 - mx) * ($1 - mx) }
        return SpectralShape(centroidHz: weighted / total, tiltDBPerOctave: sxx > 0 ? sxy / sxx : 0)
    }

    /// In-place iterative radix-2 complex FFT (size a power of two). Double precision: for measurements, not the
    /// fixed-point frontend.
    public static func fft(_ re: inout [Double], _ im: inout [Double]) {
        let n = re.count
        var j = 0
        for i in 1..<n {
            var bit = n >> 1
            while j & bit != 0 { j ^= bit; bit >>= 1 }
            j |= bit
            if i < j { re.swapAt(i, j); im.swapAt(i, j) }
        }
        var length = 2
        while length <= n {
            let angle = -2 * Double.pi / Double(length)
            for start in stride(from: 0, to: n, by: length) {
                for k in 0..<(length / 2) {
                    let wr = cos(angle * Double(k)), wi = sin(angle * Double(k))
                    let a = start + k, b = a + length / 2
                    let tr = re[b] * wr - im[b] * wi, ti = re[b] * wi + im[b] * wr
                    re[b] = re[a] - tr; im[b] = im[a] - ti
                    re[a] += tr; im[a] += ti
                }
            }
            length <<= 1
        }
    }
}
