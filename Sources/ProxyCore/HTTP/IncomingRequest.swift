/// A client's request as the I/O layer received it: nothing decoded or normalized.
public struct IncomingRequest: Sendable {
    /// The method as sent (`GET`, `POST`, ...).
    public var method: String
    /// The request target byte for byte as it appeared on the request line (path and query).
    public var target: String
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(method: String, target: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
    }

    /// The target up to the first `?`.
    public var path: Substring {
        if let q = target.firstIndex(of: "?") { return target[..<q] }
        return target[...]
    }

    /// The query string without its `?`, or nil when the target has none.
    public var query: Substring? {
        guard let q = target.firstIndex(of: "?") else { return nil }
        return target[target.index(after: q)...]
    }
}
