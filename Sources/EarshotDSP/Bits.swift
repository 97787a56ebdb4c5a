/// Integer helpers shared by the frontend stages (TFLM `bits.h` semantics).
public enum Bits {
    /// Number of significant bits: 0 for 0, 1 for 1, 32 for 0x8000_0000 (`32 − clz`).
    @inline(__always)
    public static func mostSignificantBit(_ x: UInt32) -> Int { 32 - x.leadingZeroBitCount }

    /// Number of significant bits of a 64-bit value: 0 for 0.
    @inline(__always)
    public static func mostSignificantBit(_ x: UInt64) -> Int { 64 - x.leadingZeroBitCount }

    /// Integer square root of a 32-bit value, rounded to nearest, saturating at 0xFFFF (bit-by-bit method).
    @inline(__always)
    public static func squareRoot(_ value: UInt32) -> UInt16 {
        UInt16(truncatingIfNeeded: bitwiseSquareRoot(value, saturation: 0xFFFF))
    }

    /// Integer square root of a 64-bit value, rounded to nearest.
    ///
    /// Values below 2^32 take the 32-bit path (as TFLM does), which saturates at 0xFFFF.
    @inline(__always)
    public static func squareRoot(_ value: UInt64) -> UInt32 {
        if value >> 32 == 0 { return UInt32(squareRoot(UInt32(truncatingIfNeeded: value))) }
        return UInt32(truncatingIfNeeded: bitwiseSquareRoot(value, saturation: 0xFFFF_FFFF))
    }

    /// The digit-by-digit square root shared by both widths; rounds up when the remainder exceeds the root,
    /// unless the root already equals `saturation`.
    @inline(__always)
    static func bitwiseSquareRoot<T: FixedWidthInteger & UnsignedInteger>(_ value: T, saturation: T) -> T {
        if value == 0 { return 0 }
        var num = value
        var result: T = 0
        let maxBitNumber = value.leadingZeroBitCount | 1          // TFLM: width − MostSignificantBit(value), made odd
        var bit: T = 1 << T(T.bitWidth - 1 - maxBitNumber)
        var iterations = (T.bitWidth - 1 - maxBitNumber) / 2 + 1
        while iterations > 0 {
            iterations -= 1
            if num >= result &+ bit {
                num -= result &+ bit
                result = (result >> 1) &+ bit
            } else {
                result >>= 1
            }
            bit >>= 2
        }
        if num > result && result != saturation { result += 1 }
        return result
    }
}
