import Crypto
public import Foundation
public import EarshotInference

/// A model bundle: a directory with `model.tflite` and `manifest.json`, verified by hash before use.
public struct ModelBundle: Sendable {
    public let directory: String
    public let manifest: BundleManifest
    public let model: Model

    /// Loads and verifies a bundle directory. The model's SHA-256 must equal the manifest's.
    public init(directory: String) throws(RecognizerError) {
        self.directory = directory
        let manifestPath = directory + "/manifest.json"
        let modelPath = directory + "/model.tflite"
        guard let manifestData = FileManager.default.contents(atPath: manifestPath) else {
            throw RecognizerError(.bundle, "\(directory) is not a model bundle: \(manifestPath) is missing or unreadable.")
        }
        do {
            manifest = try JSONDecoder().decode(BundleManifest.self, from: manifestData)
        } catch {
            throw RecognizerError(.bundle, "\(manifestPath) is not a valid manifest: \(error).")
        }
        guard let modelData = FileManager.default.contents(atPath: modelPath) else {
            throw RecognizerError(.bundle, "\(directory): \(modelPath) is missing or unreadable.")
        }
        let digest = Self.sha256(modelData)
        guard digest == manifest.modelSha256.lowercased() else {
            throw RecognizerError(.integrity, "\(modelPath) does not match its manifest: SHA-256 \(digest), manifest says \(manifest.modelSha256). Refusing to load it.")
        }
        do {
            model = try Model(bytes: [UInt8](modelData), label: "\(manifest.name)@\(manifest.version)")
        } catch {
            throw RecognizerError(.model, error.message)
        }
        guard manifest.labels.count > 0 else { throw RecognizerError(.bundle, "\(manifestPath) lists no labels.") }
    }

    /// A bundle already in memory (a model just parsed and verified elsewhere, or a test's variant of a manifest).
    public init(manifest: BundleManifest, model: Model, directory: String = "") {
        self.directory = directory
        self.manifest = manifest
        self.model = model
    }

    /// Lowercase hex SHA-256.
    public static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}

/// A recogniser failure: bundle layout, integrity, model or input.
public struct RecognizerError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable { case bundle, integrity, model, input }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
    public var description: String { message }
}
