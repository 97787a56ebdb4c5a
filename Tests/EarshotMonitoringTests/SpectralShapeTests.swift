import EarshotMonitoring
import Foundation
import Testing

/// Spectral centroid and tilt against signals whose answers are known in closed form.
@Suite("spectral shape")
struct SpectralShapeTests {
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state }
    }

    static func gaussian(_ g: inout Generator) -> Double {
        let u = max(1e-12, Double.random(in: 0..<1, using: &g)), v = Double.random(in: 0..<1, using: &g)
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }

    @Test func aToneWhiteNoiseAndPinkNoiseHaveTheirKnownShapes() throws {
        let tone = (0..<16_000).map { Int16(8_000 * sin(2 * Double.pi * 1_000 * Double($0) / 16_000)) }
        let toneShape = try #require(SpectralShape.of(tone[...]))
        #expect(abs(toneShape.centroidHz - 1_000) < 40, "\(toneShape)")

        var g = Generator(state: 7)
        let white = (0..<64_000).map { _ in Int16(max(-32_767, min(32_767, 3_000 * Self.gaussian(&g)))) }
        let whiteShape = try #require(SpectralShape.of(white[...]))
        #expect(abs(whiteShape.centroidHz - 4_000) < 100 && abs(whiteShape.tiltDBPerOctave) < 0.5, "\(whiteShape)")

        // Pink noise (Voss–McCartney, 16 rows): −3 dB per octave.
        var rows = [Double](repeating: 0, count: 16)
        var pink: [Int16] = []
        for i in 1...64_000 {
            let row = (i & -i).trailingZeroBitCount
            if row < rows.count { rows[row] = Self.gaussian(&g) }
            pink.append(Int16(max(-32_767, min(32_767, 1_200 * (rows.reduce(0, +) + Self.gaussian(&g))))))
        }
        let pinkShape = try #require(SpectralShape.of(pink[...]))
        #expect(abs(pinkShape.tiltDBPerOctave + 3) < 0.8 && pinkShape.centroidHz < whiteShape.centroidHz, "\(pinkShape)")

        #expect(SpectralShape.of([Int16](repeating: 0, count: 4_000)[...]) == nil)
        #expect(SpectralShape.of([Int16](repeating: 100, count: 100)[...]) == nil)
    }
}
