import EarshotAudio
import EarshotEdge
import EarshotTestSupport
import Foundation
import Testing

/// Kept audio is a bounded, reproducible sample, and nothing at all by default.
@Suite("audio keeper")
struct AudioKeeperTests {
    @Test func theShareIsPAndTheChoiceIsReproducible() {
        let keeper = AudioKeeper(directory: "/nonexistent/audio", policy: .init(share: 0.1))
        let n = 20_000
        let kept = (0..<n).filter { keeper.isSampled("run-\($0)") }.count
        let sigma = (0.1 * 0.9 / Double(n)).squareRoot()
        #expect(abs(Double(kept) / Double(n) - 0.1) < 4 * sigma, "\(kept) of \(n)")
        #expect((0..<100).allSatisfy { keeper.isSampled("run-\($0)") == keeper.isSampled("run-\($0)") })
        #expect(!(0..<1_000).contains { AudioKeeper(directory: "/x", policy: .init(share: 0)).isSampled("run-\($0)") })
    }

    @Test func filesAreFLACBoundedByBytesAndAge() throws {
        let directory = Fixtures.temporaryDirectory("keeper")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keeper = AudioKeeper(directory: directory + "/audio", policy: .init(share: 1, maximumBytes: 150_000, retentionDays: 1))
        var generator = SeededGenerator(seed: 5)
        let second = (0..<16_000).map { _ in Int16.random(in: -3_000...3_000, using: &generator) }   // noise: FLAC cannot shrink it much
        var names: [String] = []
        for i in 0..<12 { names.append(try #require(keeper.keep(id: "u-\(i)", samples: second[...]))) }
        let inventory = keeper.inventory()
        #expect(inventory.bytes <= 150_000 && inventory.files < 12 && inventory.files > 0, "\(inventory)")
        // The newest survive; each is a real 1 s, 16 kHz FLAC.
        let newest = directory + "/" + names.last!
        let info = try AudioFileReader(path: newest).info
        #expect(info.container.hasPrefix("FLAC") && info.sampleRate == 16_000 && info.frames == 16_000)
        #expect(!FileManager.default.fileExists(atPath: directory + "/" + names[0]))
        // Past the retention time, files go at the next enforcement.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -2 * 86_400)], ofItemAtPath: newest)
        keeper.enforce()
        #expect(!FileManager.default.fileExists(atPath: newest))
    }
}
