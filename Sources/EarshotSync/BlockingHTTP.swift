import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP exchange on the caller's thread, with a hard deadline: sync and rollout polls run from a command-line
/// process or a timer, never from an event loop, so blocking is what they want.
struct BlockingHTTP {
    struct Reply {
        var status: Int
        var body: Data
        var headers: [String: String]
        /// The first 300 bytes as text, for error messages.
        var excerpt: String { String(decoding: body.prefix(300), as: UTF8.self) }
    }

    let session: URLSession

    func send(_ request: URLRequest, timeout: TimeInterval) throws(SyncError) -> Reply {
        final class Box: @unchecked Sendable { var data: Data?; var response: HTTPURLResponse?; var error: String? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let task = session.dataTask(with: request) { data, response, error in
            box.data = data
            box.response = response as? HTTPURLResponse
            box.error = error?.localizedDescription
            done.signal()
        }
        task.resume()
        let url = request.url?.absoluteString ?? "?"
        guard done.wait(timeout: .now() + timeout + 1) == .success else {
            task.cancel()
            throw SyncError(.transient, "\(url) did not answer within \(Int(timeout)) s")
        }
        if let error = box.error { throw SyncError(.transient, "\(url): \(error)") }
        var headers: [String: String] = [:]
        for (key, value) in box.response?.allHeaderFields ?? [:] {
            if let key = key as? String, let value = value as? String { headers[key.lowercased()] = value }
        }
        return Reply(status: box.response?.statusCode ?? 0, body: box.data ?? Data(), headers: headers)
    }
}
