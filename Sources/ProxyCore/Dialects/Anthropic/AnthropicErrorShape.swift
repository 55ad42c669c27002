/// Errors in the Messages API's shape, for clients that speak it:
/// `{"type": "error", "error": {"type": "not_found_error", "message": "..."}}`. The error types
/// are the API's own; one it has no name for is named by its status.
public enum AnthropicErrorShape {
    /// The error types the Messages API defines.
    static let types: Set<String> = [
        "invalid_request_error", "authentication_error", "permission_error", "not_found_error", "request_too_large",
        "rate_limit_error", "api_error", "overloaded_error",
    ]

    /// The body of `error` in this shape.
    public static func body(_ error: ProxyError) -> JSONValue {
        .object([
            ("type", .string("error")),
            ("error", .object([("type", .string(type(of: error))), ("message", .string(error.message))])),
        ])
    }

    /// The reply carrying `error` in this shape, with its status and headers.
    public static func reply(_ error: ProxyError) -> LocalResponse {
        var reply = LocalResponse.json(error.status, body(error))
        for (name, value) in error.extraHeaders { reply.headers.add(name, value) }
        return reply
    }

    static func type(of error: ProxyError) -> String {
        if types.contains(error.type) { return error.type }
        switch error.status {
        case 413: return "request_too_large"
        case 429: return "rate_limit_error"
        case 529: return "overloaded_error"
        case 401: return "authentication_error"
        case 403: return "permission_error"
        case 404: return "not_found_error"
        case 500...: return "api_error"
        default: return "invalid_request_error"
        }
    }
}
