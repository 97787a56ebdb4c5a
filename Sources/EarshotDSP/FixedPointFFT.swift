import Foundation

/// A real-input FFT in Q0.15 whose every output bit equals kissfft's `kiss_fftr` built with `FIXED_POINT=16`
/// (kissfft v1.3.0, the FFT inside the TFLM micro frontend and its signal library).
///
/// Mixed radix (4, 2, 3, 5, then generic), decimation in time, each butterfly stage scaled by 1/radix, so the
/// output is the DFT divided by the size. Tables are built once in `init`; `transform` allocates nothing.
/// It owns raw scratch memory and is not `Sendable`: one owner, one thread.
public final class FixedPointFFT {
    /// Real input length (even).
    public let size: Int
    private let half: Int                                // complex FFT length, size / 2
    private let twiddles: UnsafeMutablePointer<ComplexInt16>
    private let superTwiddles: UnsafeMutablePointer<ComplexInt16>
    private let scratch: UnsafeMutablePointer<ComplexInt16>
    private let factors: [Int]                           // p1, m1, p2, m2, … with p·m = previous m
    private let genericScratch: UnsafeMutablePointer<ComplexInt16>

    /// Creates an FFT of even `size` ≥ 2.
    public init(size: Int) {
        precondition(size >= 2 && size % 2 == 0, "the real FFT needs an even size")
        self.size = size
        half = size / 2
        twiddles = .allocate(capacity: half)
        superTwiddles = .allocate(capacity: max(1, half / 2))
        scratch = .allocate(capacity: half)
        for i in 0..<half {
            let phase = -2 * 3.141592653589793238462643383279502884197169399375105820974944 * Double(i) / Double(half)
            twiddles[i] = Self.unitComplex(phase)
        }
        for i in 0..<(half / 2) {
            let phase = -3.14159265358979323846264338327 * (Double(i + 1) / Double(half) + 0.5)
            superTwiddles[i] = Self.unitComplex(phase)
        }
        let factored = Self.factor(half)
        factors = factored
        let largestRadix = stride(from: 0, to: factored.count, by: 2).map { factored[$0] }.max() ?? 1
        genericScratch = .allocate(capacity: largestRadix)
    }

    deinit {
        twiddles.deallocate()
        superTwiddles.deallocate()
        scratch.deallocate()
        genericScratch.deallocate()
    }

    /// `kf_cexp` in fixed point: ⌊0.5 + 32767·cos⌋, ⌊0.5 + 32767·sin⌋.
    private static func unitComplex(_ phase: Double) -> ComplexInt16 {
        ComplexInt16(real: Int16(floor(0.5 + 32_767 * cos(phase))), imag: Int16(floor(0.5 + 32_767 * sin(phase))))
    }

    /// `kf_factor`: powers of 4 first, then 2, then odd primes; what is left after √n is a single factor.
    public static func factor(_ value: Int) -> [Int] {
        var n = value
        var p = 4
        let floorSqrt = Double(n).squareRoot().rounded(.down)
        var result: [Int] = []
        repeat {
            while n % p != 0 {
                switch p {
                case 4: p = 2
                case 2: p = 3
                default: p += 2
                }
                if Double(p) > floorSqrt { p = n }
            }
            n /= p
            result.append(p)
            result.append(n)
        } while n > 1
        return result
    }

    /// Transforms `size` real samples into `size / 2 + 1` complex bins (DC … Nyquist).
    /// - Parameters:
    ///   - input: `size` samples; read only.
    ///   - output: room for `size / 2 + 1` bins; fully overwritten.
    public func transform(_ input: UnsafePointer<Int16>, into output: UnsafeMutablePointer<ComplexInt16>) {
        input.withMemoryRebound(to: ComplexInt16.self, capacity: half) { packed in
            work(scratch, packed, stride: 1, factorIndex: 0)
        }
        // Split the packed transform of even/odd samples into the real signal's spectrum.
        let dc = Q15.divide(scratch[0], by: 2)
        output[0] = ComplexInt16(real: dc.real &+ dc.imag, imag: 0)
        output[half] = ComplexInt16(real: dc.real &- dc.imag, imag: 0)
        if half >= 2 {
            for k in 1...(half / 2) {
                let fpk = Q15.divide(scratch[k], by: 2)
                let mirrored = scratch[half - k]
                let fpnk = Q15.divide(ComplexInt16(real: mirrored.real, imag: 0 &- mirrored.imag), by: 2)
                let f1k = Q15.add(fpk, fpnk)
                let f2k = Q15.subtract(fpk, fpnk)
                let tw = Q15.multiply(f2k, superTwiddles[k - 1])
                output[k] = ComplexInt16(real: Self.halve(Int32(f1k.real) + Int32(tw.real)),
                                         imag: Self.halve(Int32(f1k.imag) + Int32(tw.imag)))
                output[half - k] = ComplexInt16(real: Self.halve(Int32(f1k.real) - Int32(tw.real)),
                                                imag: Self.halve(Int32(tw.imag) - Int32(f1k.imag)))
            }
        }
    }

    /// `HALF_OF` on an `int` sum, then the store's truncation to 16 bits.
    @inline(__always)
    private static func halve(_ x: Int32) -> Int16 { Int16(truncatingIfNeeded: x >> 1) }

    /// `kf_work`: recursive mixed-radix decimation in time.
    private func work(_ out: UnsafeMutablePointer<ComplexInt16>, _ input: UnsafePointer<ComplexInt16>, stride fstride: Int, factorIndex: Int) {
        let p = factors[factorIndex]
        let m = factors[factorIndex + 1]
        if m == 1 {
            for k in 0..<p { out[k] = input[k * fstride] }
        } else {
            for k in 0..<p { work(out + k * m, input + k * fstride, stride: fstride * p, factorIndex: factorIndex + 2) }
        }
        switch p {
        case 2: butterfly2(out, fstride, m)
        case 3: butterfly3(out, fstride, m)
        case 4: butterfly4(out, fstride, m)
        case 5: butterfly5(out, fstride, m)
        default: butterflyGeneric(out, fstride, m, p)
        }
    }

    private func butterfly2(_ out: UnsafeMutablePointer<ComplexInt16>, _ fstride: Int, _ m: Int) {
        for k in 0..<m {
            let a = Q15.divide(out[k], by: 2)
            let b = Q15.divide(out[k + m], by: 2)
            let t = Q15.multiply(b, twiddles[k * fstride])
            out[k + m] = Q15.subtract(a, t)
            out[k] = Q15.add(a, t)
        }
    }

    private func butterfly4(_ out: UnsafeMutablePointer<ComplexInt16>, _ fstride: Int, _ m: Int) {
        for k in 0..<m {
            let f0 = Q15.divide(out[k], by: 4)
            let f1 = Q15.divide(out[k + m], by: 4)
            let f2 = Q15.divide(out[k + 2 * m], by: 4)
            let f3 = Q15.divide(out[k + 3 * m], by: 4)
            let s0 = Q15.multiply(f1, twiddles[k * fstride])
            let s1 = Q15.multiply(f2, twiddles[2 * k * fstride])
            let s2 = Q15.multiply(f3, twiddles[3 * k * fstride])
            let s5 = Q15.subtract(f0, s1)
            let sum0 = Q15.add(f0, s1)
            let s3 = Q15.add(s0, s2)
            let s4 = Q15.subtract(s0, s2)
            out[k + 2 * m] = Q15.subtract(sum0, s3)
            out[k] = Q15.add(sum0, s3)
            out[k + m] = ComplexInt16(real: s5.real &+ s4.imag, imag: s5.imag &- s4.real)
            out[k + 3 * m] = ComplexInt16(real: s5.real &- s4.imag, imag: s5.imag &+ s4.real)
        }
    }

    private func butterfly3(_ out: UnsafeMutablePointer<ComplexInt16>, _ fstride: Int, _ m: Int) {
        let epi3 = twiddles[fstride * m]
        for k in 0..<m {
            let f0 = Q15.divide(out[k], by: 3)
            let f1 = Q15.divide(out[k + m], by: 3)
            let f2 = Q15.divide(out[k + 2 * m], by: 3)
            let s1 = Q15.multiply(f1, twiddles[k * fstride])
            let s2 = Q15.multiply(f2, twiddles[2 * k * fstride])
            let s3 = Q15.add(s1, s2)
            var s0 = Q15.subtract(s1, s2)
            var fm = ComplexInt16(real: Int16(truncatingIfNeeded: Int32(f0.real) - (Int32(s3.real) >> 1)),
                                  imag: Int16(truncatingIfNeeded: Int32(f0.imag) - (Int32(s3.imag) >> 1)))
            s0 = ComplexInt16(real: Q15.multiply(s0.real, epi3.imag), imag: Q15.multiply(s0.imag, epi3.imag))
            out[k] = Q15.add(f0, s3)
            out[k + 2 * m] = ComplexInt16(real: fm.real &+ s0.imag, imag: fm.imag &- s0.real)
            fm.real = fm.real &- s0.imag
            fm.imag = fm.imag &+ s0.real
            out[k + m] = fm
        }
    }

    private func butterfly5(_ out: UnsafeMutablePointer<ComplexInt16>, _ fstride: Int, _ m: Int) {
        let ya = twiddles[fstride * m]
        let yb = twiddles[fstride * 2 * m]
        for u in 0..<m {
            let s0 = Q15.divide(out[u], by: 5)
            let f1 = Q15.divide(out[u + m], by: 5)
            let f2 = Q15.divide(out[u + 2 * m], by: 5)
            let f3 = Q15.divide(out[u + 3 * m], by: 5)
            let f4 = Q15.divide(out[u + 4 * m], by: 5)
            let s1 = Q15.multiply(f1, twiddles[u * fstride])
            let s2 = Q15.multiply(f2, twiddles[2 * u * fstride])
            let s3 = Q15.multiply(f3, twiddles[3 * u * fstride])
            let s4 = Q15.multiply(f4, twiddles[4 * u * fstride])
            let s7 = Q15.add(s1, s4), s10 = Q15.subtract(s1, s4)
            let s8 = Q15.add(s2, s3), s9 = Q15.subtract(s2, s3)
            out[u] = ComplexInt16(real: s0.real &+ s7.real &+ s8.real, imag: s0.imag &+ s7.imag &+ s8.imag)
            let s5 = ComplexInt16(real: s0.real &+ Q15.multiply(s7.real, ya.real) &+ Q15.multiply(s8.real, yb.real),
                                  imag: s0.imag &+ Q15.multiply(s7.imag, ya.real) &+ Q15.multiply(s8.imag, yb.real))
            let s6 = ComplexInt16(real: Q15.multiply(s10.imag, ya.imag) &+ Q15.multiply(s9.imag, yb.imag),
                                  imag: (0 &- Q15.multiply(s10.real, ya.imag)) &- Q15.multiply(s9.real, yb.imag))
            out[u + m] = Q15.subtract(s5, s6)
            out[u + 4 * m] = Q15.add(s5, s6)
            let s11 = ComplexInt16(real: s0.real &+ Q15.multiply(s7.real, yb.real) &+ Q15.multiply(s8.real, ya.real),
                                   imag: s0.imag &+ Q15.multiply(s7.imag, yb.real) &+ Q15.multiply(s8.imag, ya.real))
            let s12 = ComplexInt16(real: (0 &- Q15.multiply(s10.imag, yb.imag)) &+ Q15.multiply(s9.imag, ya.imag),
                                   imag: Q15.multiply(s10.real, yb.imag) &- Q15.multiply(s9.real, ya.imag))
            out[u + 2 * m] = Q15.add(s11, s12)
            out[u + 3 * m] = Q15.subtract(s11, s12)
        }
    }

    private func butterflyGeneric(_ out: UnsafeMutablePointer<ComplexInt16>, _ fstride: Int, _ m: Int, _ p: Int) {
        for u in 0..<m {
            var k = u
            for q1 in 0..<p {
                genericScratch[q1] = Q15.divide(out[k], by: Int32(p))
                k += m
            }
            k = u
            for _ in 0..<p {
                var twiddleIndex = 0
                var accumulator = genericScratch[0]
                for q in 1..<p {
                    twiddleIndex += fstride * k
                    if twiddleIndex >= half { twiddleIndex -= half }
                    accumulator = Q15.add(accumulator, Q15.multiply(genericScratch[q], twiddles[twiddleIndex]))
                }
                out[k] = accumulator
                k += m
            }
        }
    }
}
