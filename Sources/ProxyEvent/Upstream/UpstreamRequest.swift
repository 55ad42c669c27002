import ProxyCore

/// A request to send upstream.
public struct UpstreamRequest: Sendable {
    public var url: UpstreamURL
    public var method: String
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Time allowed to connect.
    public var connectTimeoutSeconds: Double

    public init(url: UpstreamURL, method: String, headers: HTTPHeaders, body: [UInt8], connectTimeoutSeconds: Double = 30) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }
}
