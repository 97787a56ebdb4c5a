import CEarshotKernels
import EarshotTestSupport
import Testing

/// The hand-vectorised C loops against plain loops, on random and extreme int8 data. The operator vectors already
/// pin the kernels to LiteRT; these pin each SIMD routine directly, including odd tap counts, strides, and the
/// largest products (−128 · −255), so a lane or tail bug cannot hide behind a model that never reaches it.
@Suite("C kernels vs plain loops")
struct CKernelTests {
    @Test(arguments: [0, 1])
    func depthwiseRow8MatchesThePlainLoop(broadcast: Int32) {
        var rng = SeededGenerator(seed: 42)
        for trial in 0..<2000 {
            let count = trial % 11
            let wStride = 8 + Int.random(in: 0...24, using: &rng)
            let xStride = (broadcast == 1 ? 1 : 8) + Int.random(in: 0...24, using: &rng)
            let extreme = trial % 5 == 0
            let offset: Int32 = extreme ? 127 * (trial % 2 == 0 ? 1 : -1) : Int32.random(in: -127...128, using: &rng)
            let w: [Int8] = (0..<(count * wStride + 8)).map { _ in extreme ? -128 : Int8.random(in: .min ... .max, using: &rng) }
            let x: [Int8] = (0..<(count * xStride + 8)).map { _ in
                extreme ? (offset > 0 ? 127 : -128) : Int8.random(in: .min ... .max, using: &rng)
            }
            let start: [Int32] = (0..<8).map { _ in Int32.random(in: -1_000_000...1_000_000, using: &rng) }
            var fast = start, plain = start
            earshot_depthwise_row8(&fast, w, wStride, x, xStride, offset, count, broadcast)
            earshot_depthwise_row8_portable(&plain, w, wStride, x, xStride, offset, count, broadcast)
            #expect(fast == plain, "trial \(trial): count \(count), strides \(wStride)/\(xStride), offset \(offset)")
            if fast != plain { return }
        }
    }

    @Test func dotProductMatchesThePlainLoop() {
        var rng = SeededGenerator(seed: 7)
        for trial in 0..<500 {
            let count = trial < 100 ? trial : Int.random(in: 0...4000, using: &rng)
            let extreme = trial % 7 == 0
            let a: [Int8] = (0..<count).map { _ in extreme ? -128 : Int8.random(in: .min ... .max, using: &rng) }
            let b: [Int8] = (0..<count).map { _ in extreme ? -128 : Int8.random(in: .min ... .max, using: &rng) }
            let expected = zip(a, b).reduce(Int32(0)) { $0 &+ Int32($1.0) * Int32($1.1) }
            #expect(earshot_dot_i8(a, b, count) == expected, "trial \(trial), count \(count)")
        }
    }
}
