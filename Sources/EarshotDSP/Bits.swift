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
        if value == 0 { return 0 }
        var num = value
        var result: UInt32 = 0
        let maxBitNumber = (32 - mostSignificantBit(value)) | 1
        var bit: UInt32 = 1 << UInt32(31 - maxBitNumber)
        var iterations = (31 - maxBitNumber) / 2 + 1
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
        if num > result && result != 0xFFFF { result += 1 }
        return UInt16(truncatingIfNeeded: result)
    }

    /// Integer square root of a 64-bit value, rounded to nearest.
    ///
    /// Values below 2^32 take the 32-bit path (as TFLM does), which saturates at 0xFFFF.
    @inline(__always)
    public static func squareRoot(_ value: UInt64) -> UInt32 {
        if value >> 32 == 0 { return UInt32(squareRoot(UInt32(truncatingIfNeeded: value))) }
        var num = value
        var result: UInt64 = 0
        let maxBitNumber = (64 - mostSignificantBit(value)) | 1
        var bit: UInt64 = 1 << UInt64(63 - maxBitNumber)
        var iterations = (63 - maxBitNumber) / 2 + 1
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
        if num > result && result != 0xFFFF_FFFF { result += 1 }
        return UInt32(truncatingIfNeeded: result)
    }
}
