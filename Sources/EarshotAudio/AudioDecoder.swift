internal import CSndFile
import Glibc
public import Foundation

/// Decodes sound files held in memory (uploads to `earshot serve`) to the pipeline's 16 kHz mono samples.
public enum AudioDecoder {
    /// Decodes `data`, a whole sound file in any format libsndfile reads, named `name` in error messages. The bytes go
    /// to an anonymous memory file, never to disk, and through the same header checks as `AudioFileReader(path:)`.
    /// Files longer than `maximumSeconds` are refused before decoding.
    public static func pipelineSamples(from data: Data, name: String, maximumSeconds: Double) throws(AudioError) -> (info: AudioFileInfo, samples: [Int16]) {
        guard !data.isEmpty else { throw AudioError(.corruptFile, "\(name) is empty (0 bytes).") }
        let fd = earshot_memory_file("earshot-upload")
        guard fd >= 0 else { throw AudioError(.writeFailed, "Could not hold \(name) in memory.", cause: String(cString: strerror(errno))) }
        defer { close(fd) }
        let written = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
        guard written else { throw AudioError(.writeFailed, "Could not hold \(name) in memory.", cause: String(cString: strerror(errno))) }
        let path = "/proc/self/fd/\(fd)"
        func renamed(_ error: AudioError) -> AudioError {
            AudioError(error.code, error.message.replacingOccurrences(of: path, with: name), cause: error.cause)
        }
        do throws(AudioError) {
            let reader = try AudioFileReader(path: path)
            var info = reader.info
            info.path = name
            guard info.duration <= maximumSeconds else {
                throw AudioError(.tooLong, String(format: "%@ lasts %.1f s; the limit is %.0f s.", name, info.duration, maximumSeconds))
            }
            let source = try ConvertingSource(reader)
            var samples: [Int16] = []
            samples.reserveCapacity(Int(info.duration * Double(StreamConverter.pipelineRate)) + 1_024)
            let limit = Int(maximumSeconds * Double(StreamConverter.pipelineRate)) + 16_000
            while try source.read(appendingTo: &samples, maximum: 16_000) {
                // A header can understate the length (streams); the decoded audio is bounded all the same.
                guard samples.count <= limit else { throw AudioError(.tooLong, "\(name) is longer than the \(Int(maximumSeconds)) s limit.") }
            }
            return (info, samples)
        } catch {
            throw renamed(error)
        }
    }
}
