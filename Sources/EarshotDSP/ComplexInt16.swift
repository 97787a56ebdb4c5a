/// A complex number with Q0.15 parts, laid out like kissfft's `kiss_fft_cpx` (real, then imaginary).
@frozen
public struct ComplexInt16: Sendable, Hashable {
    public var real: Int16
    public var imag: Int16
    @inlinable public init(real: Int16, imag: Int16) {
        self.real = real
        self.imag = imag
    }
}

/// The fixed-point arithmetic of kissfft built with `FIXED_POINT=16`, spelled out so it can be matched bit for bit.
///
/// C promotes `int16_t` operands to `int` and truncates on store; wrapping `Int16` arithmetic gives the same bits.
@usableFromInline
enum Q15 {
    /// `sround`: rounds a Q0.30 product sum to Q0.15 (add 2^14, arithmetic shift by 15, truncate to 16 bits).
    @inline(__always) @usableFromInline
    static func round(_ x: Int32) -> Int16 { Int16(truncatingIfNeeded: (x &+ (1 << 14)) >> 15) }

    /// `S_MUL`: Q0.15 × Q0.15 → Q0.15, rounded.
    @inline(__always) @usableFromInline
    static func multiply(_ a: Int16, _ b: Int16) -> Int16 { round(Int32(a) &* Int32(b)) }

    /// `C_MUL`: complex product, each part rounded once.
    @inline(__always) @usableFromInline
    static func multiply(_ a: ComplexInt16, _ b: ComplexInt16) -> ComplexInt16 {
        ComplexInt16(real: round(Int32(a.real) &* Int32(b.real) &- Int32(a.imag) &* Int32(b.imag)),
                     imag: round(Int32(a.real) &* Int32(b.imag) &+ Int32(a.imag) &* Int32(b.real)))
    }

    /// `C_FIXDIV`: divides both parts by `divisor` as kissfft does, multiplying by ⌊32767 / divisor⌋ in Q0.15.
    @inline(__always) @usableFromInline
    static func divide(_ c: ComplexInt16, by divisor: Int32) -> ComplexInt16 {
        let factor = 32_767 / divisor
        return ComplexInt16(real: round(Int32(c.real) &* factor), imag: round(Int32(c.imag) &* factor))
    }

    @inline(__always) @usableFromInline
    static func add(_ a: ComplexInt16, _ b: ComplexInt16) -> ComplexInt16 {
        ComplexInt16(real: a.real &+ b.real, imag: a.imag &+ b.imag)
    }

    @inline(__always) @usableFromInline
    static func subtract(_ a: ComplexInt16, _ b: ComplexInt16) -> ComplexInt16 {
        ComplexInt16(real: a.real &- b.real, imag: a.imag &- b.imag)
    }
}
