public import Crypto
public import Foundation
public import EarshotInference

/// A model bundle: a directory with `model.tflite` and `manifest.json`, verified by hash before use.
public struct ModelBundle: Sendable {
    public let directory: String
    public let manifest: BundleManifest
    public let model: Model

    /// The signature file: base64 of an ed25519 signature over the exact bytes of `manifest.json` (which holds the
    /// model's SHA-256, so the signature covers the model too).
    public static let signatureFile = "manifest.sig"

    /// Loads and verifies a bundle directory. The model's SHA-256 must equal the manifest's; when `trustedKeys` is not
    /// empty, `manifest.sig` must also be a valid signature of `manifest.json` by one of them.
    public init(directory: String, trustedKeys: [Curve25519.Signing.PublicKey] = []) throws(RecognizerError) {
        self.directory = directory
        let manifestPath = directory + "/manifest.json"
        let modelPath = directory + "/model.tflite"
        guard let manifestData = FileManager.default.contents(atPath: manifestPath) else {
            throw RecognizerError(.bundle, "\(directory) is not a model bundle: \(manifestPath) is missing or unreadable.")
        }
        if !trustedKeys.isEmpty {
            let signaturePath = directory + "/" + Self.signatureFile
            guard let text = FileManager.default.contents(atPath: signaturePath),
                  let signature = Data(base64Encoded: String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw RecognizerError(.integrity, "\(directory) is not signed (\(signaturePath) is missing or not base64), and signing keys are configured. Refusing to load it.")
            }
            guard trustedKeys.contains(where: { $0.isValidSignature(signature, for: manifestData) }) else {
                throw RecognizerError(.integrity, "\(directory): the signature of manifest.json is not valid for any configured key. Refusing to load it.")
            }
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

    /// Signs a bundle directory's manifest with `key`, writing `manifest.sig`.
    public static func sign(directory: String, key: Curve25519.Signing.PrivateKey) throws {
        let manifest = try Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json"))
        let signature = try key.signature(for: manifest)
        try Data((signature.base64EncodedString() + "\n").utf8).write(to: URL(fileURLWithPath: directory + "/" + signatureFile), options: .atomic)
    }

    /// A public key from its file: base64 of the 32 raw bytes (what `earshot models keygen` writes).
    public static func publicKey(file: String) throws(RecognizerError) -> Curve25519.Signing.PublicKey {
        guard let key = keyBytes(file).flatMap({ try? Curve25519.Signing.PublicKey(rawRepresentation: $0) }) else {
            throw RecognizerError(.input, "\(file) is not an ed25519 public key (base64 of 32 bytes).")
        }
        return key
    }

    /// A private key from its file: base64 of the 32 raw bytes.
    public static func privateKey(file: String) throws(RecognizerError) -> Curve25519.Signing.PrivateKey {
        guard let key = keyBytes(file).flatMap({ try? Curve25519.Signing.PrivateKey(rawRepresentation: $0) }) else {
            throw RecognizerError(.input, "\(file) is not an ed25519 private key (base64 of 32 bytes).")
        }
        return key
    }

    /// The base64 content of a key file, decoded.
    static func keyBytes(_ file: String) -> Data? {
        FileManager.default.contents(atPath: file)
            .flatMap { Data(base64Encoded: String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) }
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
