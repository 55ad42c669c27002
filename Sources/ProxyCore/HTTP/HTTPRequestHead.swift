/// The HTTP versions proxyd serves.
public enum HTTPVersion: Sendable, Equatable {
    case http10
    case http11
}

/// How a request's body is delimited on the wire.
public enum HTTPRequestFraming: Sendable, Equatable {
    /// No body (neither `Content-Length` nor `Transfer-Encoding`).
    case none
    /// Exactly this many bytes follow the head.
    case length(Int)
    /// `Transfer-Encoding: chunked`.
    case chunked
}

/// A request's line and header fields, read and checked by `HTTPRequestParser`.
public struct HTTPRequestHead: Sendable, Equatable {
    /// The method, as sent (a token).
    public var method: String
    /// The request target, byte for byte (origin-form, or `*` for OPTIONS).
    public var target: String
    public var version: HTTPVersion
    /// The header fields in order, names and values as sent (values without surrounding whitespace).
    public var headers: HTTPHeaders
    public var framing: HTTPRequestFraming
    /// Whether the connection may carry another request after this one's answer, as the client asked.
    public var keepAlive: Bool
    /// Whether the client waits for `100 Continue` before it sends the body.
    public var expectsContinue: Bool

    public init(method: String, target: String, version: HTTPVersion, headers: HTTPHeaders = HTTPHeaders(),
                framing: HTTPRequestFraming = .none, keepAlive: Bool = true, expectsContinue: Bool = false) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.framing = framing
        self.keepAlive = keepAlive
        self.expectsContinue = expectsContinue
    }

    /// Whether the answer may not carry a body whatever its headers say (`HEAD`).
    public var forbidsResponseBody: Bool { method == "HEAD" }
}

/// Why a request was refused before anything of it was used: the status to answer with and a
/// message that says what was wrong. The connection is closed after the answer.
public struct HTTPRequestError: Error, Sendable, Equatable {
    public var status: Int
    public var message: String
    public var code: String

    public init(status: Int, message: String, code: String) {
        self.status = status
        self.message = message
        self.code = code
    }

    static func bad(_ message: String, code: String = "malformed_request") -> HTTPRequestError {
        HTTPRequestError(status: 400, message: message, code: code)
    }

    /// 413: a body over the limit.
    public static func bodyTooLarge(limit: Int) -> HTTPRequestError {
        HTTPRequestError(status: 413, message: "request body is larger than the limit of \(limit) bytes", code: "body_too_large")
    }

    /// 431: a head over the limit.
    public static func headTooLarge(limit: Int) -> HTTPRequestError {
        HTTPRequestError(status: 431, message: "request line and headers are larger than the limit of \(limit) bytes",
                         code: "headers_too_large")
    }

    /// The error in proxyd's client-facing shape.
    public var proxyError: ProxyError {
        ProxyError(status: status, message: message, type: "invalid_request_error", code: code)
    }
}
