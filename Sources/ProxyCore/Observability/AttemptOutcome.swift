/// How one upstream attempt went, up to its response head.
public enum AttemptOutcome: Sendable, Equatable {
    /// Could not connect, TLS failed, or the connection broke before the head.
    case connectionFailed(String)
    /// No response head within the attempt's time limit.
    case timedOut
    /// The response head arrived with this status.
    case responded(status: Int)

    /// Whether the attempt failed: no head, or 429 or 5xx. Failures trigger failover and count
    /// against the provider's circuit breaker.
    public var isFailure: Bool {
        switch self {
        case .connectionFailed, .timedOut: return true
        case .responded(let status): return status == 429 || (status >= 500 && status < 600)
        }
    }

    /// Whether the provider answered the request (2xx or 3xx): auto-detection remembers it.
    public var isAnswer: Bool {
        if case .responded(let status) = self { return status < 400 }
        return false
    }

    /// A short description for logs and the 503 message.
    public var summary: String {
        switch self {
        case .connectionFailed(let why): return "connection failed (\(why))"
        case .timedOut: return "timed out"
        case .responded(let status): return "HTTP \(status)"
        }
    }
}
