import ProxyCore

/// A request to send upstream.
public struct UpstreamRequest: Sendable {
    public var url: UpstreamURL
    public var method: String
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Time allowed to connect.
    public var connectTimeoutSeconds: Double
    /// Have libcurl decode a compressed answer (gzip, deflate and whatever else it was built
    /// with) before the body is delivered. libcurl then adds no `Accept-Encoding` of its own
    /// when the headers carry one.
    public var decodesAnswer = false

    public init(url: UpstreamURL, method: String, headers: HTTPHeaders, body: [UInt8], connectTimeoutSeconds: Double = 30) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }
}
