import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The device's connection to its collector, shared by sync, rollout polls and audio upload: the base URL, the device's
/// bearer token, one ephemeral session, and one exchange at a time on the caller's thread with a hard deadline (these
/// run from a command-line process or a timer, never from an event loop, so blocking is what they want).
final class CollectorLink: @unchecked Sendable {
    struct Reply {
        var status: Int
        var body: Data
        var headers: [String: String]
        /// The first 300 bytes as text, for error messages.
        var excerpt: String { String(decoding: body.prefix(300), as: UTF8.self) }
    }

    let base: URL
    private let token: String
    var timeout: TimeInterval = 30
    private let session = URLSession(configuration: .ephemeral)

    init(base: URL, token: String) {
        self.base = base
        self.token = token
    }

    deinit { session.finishTasksAndInvalidate() }

    /// A request to `url` carrying the device's token and the timeout.
    func request(_ url: URL, method: String = "GET") -> URLRequest {
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        return request
    }

    func send(_ request: URLRequest) throws(SyncError) -> Reply {
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
