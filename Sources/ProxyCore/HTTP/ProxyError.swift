/// An error proxyd reports to a client; its body is the hub form's (chat completions') error shape:
/// `{"error": {"message": ..., "type": ..., "code": ...}}`.
public struct ProxyError: Error, Sendable, Equatable {
    public var status: Int
    public var message: String
    public var type: String
    public var code: String
    /// Headers that belong with this error (`Allow` on a 405).
    public var extraHeaders: [(String, String)]

    public init(status: Int, message: String, type: String, code: String, extraHeaders: [(String, String)] = []) {
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.extraHeaders = extraHeaders
    }

    public static func == (lhs: ProxyError, rhs: ProxyError) -> Bool {
        lhs.status == rhs.status && lhs.message == rhs.message && lhs.type == rhs.type && lhs.code == rhs.code
    }

    /// The JSON body.
    public var body: JSONValue {
        .object([("error", .object([
            ("message", .string(message)),
            ("type", .string(type)),
            ("code", .string(code)),
        ]))])
    }

    public static func badRequest(_ message: String, code: String = "bad_request") -> ProxyError {
        ProxyError(status: 400, message: message, type: "invalid_request_error", code: code)
    }
    public static func unauthorized(_ message: String, code: String = "invalid_api_key") -> ProxyError {
        ProxyError(status: 401, message: message, type: "authentication_error", code: code)
    }
    public static func forbidden(_ message: String, code: String) -> ProxyError {
        ProxyError(status: 403, message: message, type: "permission_error", code: code)
    }
    public static func notFound(_ message: String, code: String = "not_found") -> ProxyError {
        ProxyError(status: 404, message: message, type: "not_found_error", code: code)
    }
    public static func methodNotAllowed(_ method: String, allowed: [String]) -> ProxyError {
        ProxyError(status: 405, message: "method \(method) is not allowed here; use \(allowed.joined(separator: ", "))",
                   type: "invalid_request_error", code: "method_not_allowed",
                   extraHeaders: [("Allow", allowed.joined(separator: ", "))])
    }
    public static func badGateway(_ message: String, code: String = "upstream_connection_failed") -> ProxyError {
        ProxyError(status: 502, message: message, type: "upstream_error", code: code)
    }
    public static func unavailable(_ message: String, code: String = "no_upstream_available") -> ProxyError {
        ProxyError(status: 503, message: message, type: "upstream_error", code: code)
    }
    public static func gatewayTimeout(_ message: String) -> ProxyError {
        ProxyError(status: 504, message: message, type: "upstream_error", code: "upstream_timeout")
    }
}
