import EarshotTestSupport
import Foundation
import Testing

/// `earshot models` as an operator uses it: keys, signed bundles, the store's slots, and `earshot run --store`
/// following them.
@Suite("earshot models")
struct ModelsCommandTests {
    @Test func signedBundlesGoThroughTheStoreIntoTheRuntime() throws {
        let directory = Fixtures.temporaryDirectory("cli-models")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = directory + "/store"
        func earshot(_ arguments: [String]) throws -> ProcessResult { try Programs.earshot(arguments) }
        #expect(try earshot(["models", "keygen", directory + "/fleet"]).status == 0)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/fleet.key")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let v2 = try Fixtures.commandBundleVariant(at: directory + "/v2") { $0["version"] = "0.2.0" }
        let keyed = ["--store", store, "--trusted-key", directory + "/fleet.pub"]
        // Unsigned: refused with the integrity exit code, nothing installed.
        let unsigned = try earshot(["models", "install", v2] + keyed)
        #expect(unsigned.status == 80 && unsigned.stderr.contains("not signed"), "\(unsigned.stderr)")
        #expect(try earshot(["models", "sign", v2, "--key", directory + "/fleet.key"]).status == 0)
        let installed = try earshot(["models", "install", v2, "--activate"] + keyed)
        #expect(installed.status == 0 && installed.stdout == "command-en@0.2.0\n", "\(installed.stderr)")
        let shipped = Fixtures.packageRoot + "/Models/command/command-en"
        #expect(try earshot(["models", "install", shipped] + keyed).status == 80)      // the shipped bundle is not signed by this key
        #expect(try earshot(["models", "install", shipped, "--store", store]).status == 0)
        #expect(try earshot(["models", "canary", "command-en@0.1.0", "--percent", "50", "--store", store]).status == 0)
        let list = try earshot(["models", "list", "--json", "--store", store])
        let object = try #require(try JSONSerialization.jsonObject(with: list.stdoutData) as? [String: Any])
        let slots = try #require(object["slots"] as? [String: Any])
        #expect(slots["active"] as? String == "command-en@0.2.0")
        #expect((slots["candidate"] as? [String: Any])?["mode"] as? String == "canary")
        #expect((object["installed"] as? [String])?.count == 2)
        // The runtime answers from the store's slots: each decision names the model that answered.
        let recording = try TranscribeCommandTests.recording(["stop", "seven", "forward", "left"], in: directory)
        let run = try earshot(["run", "--audio", recording, "--store", store])
        #expect(run.status == 0, "\(run.stderr)")
        let decisions = run.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(decisions.map { $0["text"] as? String ?? "" } == ["stop", "seven", "forward", "left"])
        #expect(decisions.allSatisfy { ($0["models"] as? [String: String])?["candidate"] == "command-en@0.1.0" && $0["canary"] is Bool })
        #expect(try earshot(["models", "rollback", "--store", store]).status == 64)   // nothing before 0.2.0 was active
        #expect(try earshot(["models", "activate", "command-en@0.1.0", "--store", store]).status == 0)
        #expect(try earshot(["models", "rollback", "--store", store]).status == 0)
        let after = try earshot(["models", "list", "--store", store])
        #expect(after.stdout.contains("command-en@0.2.0  active") && after.stdout.contains("rollback command-en@0.2.0"), "\(after.stdout)")
        #expect(try earshot(["run", "--audio", recording, "--store", store, "--model", shipped]).status == 64)
    }
}
