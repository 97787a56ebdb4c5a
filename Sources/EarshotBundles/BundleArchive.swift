public import Foundation

/// A bundle shipped as one file: a POSIX tar (ustar or GNU) holding `manifest.json`, `model.tflite` and optionally
/// `manifest.sig`, at the top or in one folder. The archive is untrusted bytes: every header and size is checked,
/// only those three regular files are taken, and nothing is written outside the directory it is unpacked into.
public enum BundleArchive {
    static let wanted: Set<String> = ["manifest.json", "model.tflite", ModelBundle.signatureFile]
    /// Largest member accepted (a model is tens of kilobytes; 64 MB leaves room for bigger ones).
    public static let maximumMemberBytes = 64 * 1_024 * 1_024

    /// Whether `path` is a regular file that starts like a tar archive (rather than a bundle directory).
    public static func looksLikeArchive(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
              let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 512)) ?? Data()
        return header.count == 512 && (header[257..<262] == Data("ustar".utf8))
    }

    /// The bundle files of `directory` as one ustar archive, byte for byte reproducible (fixed order, mode, owner and
    /// time), so the same bundle always has the same archive hash. The directory must verify first; this only packs.
    public static func pack(directory: String) throws(RecognizerError) -> Data {
        var archive = Data()
        for file in ["manifest.json", "model.tflite", ModelBundle.signatureFile] {
            guard let bytes = FileManager.default.contents(atPath: directory + "/" + file) else {
                if file == ModelBundle.signatureFile { continue }
                throw RecognizerError(.bundle, "\(directory)/\(file) cannot be read.")
            }
            var header = Data(count: 512)
            func put(_ text: String, _ at: Int) { for (k, b) in text.utf8.enumerated() { header[at + k] = b } }
            put(file, 0)
            put("0000644", 100); put("0000000", 108); put("0000000", 116)
            put(String(format: "%011o", bytes.count), 124)
            put("00000000000", 136)
            put("        ", 148)                                   // the checksum is summed with spaces in its place
            put("0", 156)
            put("ustar", 257); put("00", 263)
            let sum = header.reduce(0) { $0 + Int($1) }
            put(String(format: "%06o", sum), 148)
            header[154] = 0; header[155] = UInt8(ascii: " ")
            archive.append(header)
            archive.append(bytes)
            archive.append(Data(count: (512 - bytes.count % 512) % 512))
        }
        archive.append(Data(count: 1_024))                         // two zero blocks end the archive
        return archive
    }

    /// Unpacks the bundle files of the archive at `path` into `directory` (created); returns `directory`.
    public static func unpack(_ path: String, into directory: String) throws(RecognizerError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw RecognizerError(.bundle, "\(path) cannot be read.") }
        var files: [String: Data] = [:]
        var offset = 0
        var folder: String?
        while offset + 512 <= data.count {
            let header = data[data.startIndex + offset ..< data.startIndex + offset + 512]
            if header.allSatisfy({ $0 == 0 }) { break }           // end of archive
            guard Self.checksumValid(header) else { throw RecognizerError(.bundle, "\(path): the tar header at byte \(offset) is damaged (checksum).") }
            let name = Self.string(header, 0, 100)
            let prefix = Self.string(header, 345, 155)
            let full = prefix.isEmpty ? name : prefix + "/" + name
            guard let size = Self.octal(header, 124, 12), size >= 0, size <= maximumMemberBytes else {
                throw RecognizerError(.bundle, "\(path): \(full) has an impossible size.")
            }
            let type = header[header.startIndex + 156]
            let start = offset + 512
            guard start + size <= data.count else { throw RecognizerError(.bundle, "\(path) is truncated inside \(full).") }
            if type == UInt8(ascii: "0") || type == 0 {
                let components = full.split(separator: "/").map(String.init).filter { $0 != "." }
                guard !components.contains(".."), !full.hasPrefix("/") else { throw RecognizerError(.bundle, "\(path): \(full) points outside the bundle.") }
                if let file = components.last, wanted.contains(file), components.count <= 2 {
                    let parent = components.count == 2 ? components[0] : ""
                    if let folder, folder != parent { throw RecognizerError(.bundle, "\(path) holds bundle files in two folders.") }
                    folder = parent
                    guard files[file] == nil else { throw RecognizerError(.bundle, "\(path) holds \(file) twice.") }
                    files[file] = data.subdata(in: data.startIndex + start ..< data.startIndex + start + size)
                }
            }
            offset = start + (size + 511) / 512 * 512
        }
        guard files["manifest.json"] != nil, files["model.tflite"] != nil else {
            throw RecognizerError(.bundle, "\(path) is not a bundle archive: it needs manifest.json and model.tflite.")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for (name, bytes) in files { try bytes.write(to: URL(fileURLWithPath: directory + "/" + name)) }
        } catch {
            throw RecognizerError(.input, "Cannot unpack \(path) into \(directory): \(error.localizedDescription)")
        }
        return directory
    }

    static func string(_ header: Data, _ at: Int, _ length: Int) -> String {
        let bytes = header[header.startIndex + at ..< header.startIndex + at + length].prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func octal(_ header: Data, _ at: Int, _ length: Int) -> Int? {
        let text = string(header, at, length).trimmingCharacters(in: CharacterSet(charactersIn: " \0"))
        guard !text.isEmpty, text.count <= 11 else { return text.isEmpty ? 0 : nil }
        return Int(text, radix: 8)
    }

    /// The header checksum: the sum of its bytes with the checksum field read as spaces.
    static func checksumValid(_ header: Data) -> Bool {
        guard let stored = octal(header, 148, 8) else { return false }
        var sum = 0
        for (i, byte) in header.enumerated() { sum += (148..<156).contains(i) ? 32 : Int(byte) }
        return sum == stored
    }
}
