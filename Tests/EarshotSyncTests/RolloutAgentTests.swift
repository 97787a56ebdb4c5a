import EarshotEdge
import EarshotSync
import Foundation
import Testing

/// What the device accepts from a collector's assignment before it touches its disk or sends its token anywhere.
@Suite("rollout agent")
struct RolloutAgentTests {
    @Test func bundleIdsAreSafeFileNames() {
        for good in ["command-en@0.2.0", "command_scrambled@1.0.0+build.5", "a@b"] { #expect(RolloutAgent.isBundleID(good), "\(good)") }
        for bad in ["../x@1", "a/b@1", ".hidden@1", "a@", "@1", "a@1@2", "a@1/../../etc", "a b@1", "ä@1", String(repeating: "a", count: 130) + "@1"] {
            #expect(!RolloutAgent.isBundleID(bad), "\(bad)")
        }
    }

    @Test func bundlesAreFetchedOnlyFromTheCollector() throws {
        let agent = RolloutAgent(store: ModelStore(directory: "/nonexistent"), collector: URL(string: "http://127.0.0.1:8090")!, token: "t")
        #expect(try agent.bundleLocation("v1/models/a@1/bundle").absoluteString == "http://127.0.0.1:8090/v1/models/a@1/bundle")
        for foreign in ["http://evil.example/v1/models/a@1/bundle", "//evil.example/x", "https://127.0.0.1:8090/x", "http://127.0.0.1:9999/x"] {
            #expect(throws: SyncError.self, "\(foreign)") { try agent.bundleLocation(foreign) }
        }
    }
}
