/// A response proxyd answers itself, without an upstream.
public struct LocalResponse: Sendable, Equatable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response with `Content-Type: application/json`.
    public static func json(_ status: Int, _ value: JSONValue, headers: HTTPHeaders = HTTPHeaders()) -> LocalResponse {
        var h = headers
        h.set("Content-Type", "application/json")
        return LocalResponse(status: status, headers: h, body: value.encoded())
    }

    /// An error in the hub form's error shape.
    public static func error(_ error: ProxyError) -> LocalResponse {
        var response = json(error.status, error.body)
        for (name, value) in error.extraHeaders { response.headers.add(name, value) }
        return response
    }
}
