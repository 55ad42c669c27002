/// A client's request as the I/O layer received it: nothing decoded or normalized.
public struct IncomingRequest: Sendable {
    /// The method as sent (`GET`, `POST`, ...).
    public var method: String
    /// The request target byte for byte as it appeared on the request line (path and query).
    public var target: String {
        didSet { queryStart = IncomingRequest.queryMark(target) }
    }
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Where the `?` is, found once.
    private var queryStart: String.Index?

    public init(method: String, target: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        queryStart = IncomingRequest.queryMark(target)
    }

    static func queryMark(_ target: String) -> String.Index? {
        target.utf8.firstIndex(of: UInt8(ascii: "?"))
    }

    /// The target up to the first `?`.
    public var path: Substring {
        if let q = queryStart { return target[..<q] }
        return target[...]
    }

    /// The query string without its `?`, or nil when the target has none.
    public var query: Substring? {
        guard let q = queryStart else { return nil }
        return target[target.utf8.index(after: q)...]
    }
}
