/// How one upstream attempt went, up to its response head.
public enum AttemptOutcome: Sendable, Equatable {
    /// Could not connect, TLS failed, or the connection broke before the head.
    case connectionFailed(String)
    /// No response head within the attempt's time limit.
    case timedOut
    /// The response head arrived with this status.
    case responded(status: Int)

    /// A short description for logs and the 503 message.
    public var summary: String {
        switch self {
        case .connectionFailed(let why): return "connection failed (\(why))"
        case .timedOut: return "timed out"
        case .responded(let status): return "HTTP \(status)"
        }
    }
}

/// The failover rule of SPEC §4.
public enum FailoverPolicy {
    /// Whether to drop this attempt and try the next candidate. Only called before any byte
    /// has reached the client.
    public static func shouldTryNext(after outcome: AttemptOutcome, candidatesLeft: Int) -> Bool {
        guard candidatesLeft > 0 else { return false }
        switch outcome {
        case .connectionFailed, .timedOut: return true
        case .responded(let status): return status == 429 || (500...599).contains(status)
        }
    }

    /// The error answered when the last attempt failed before a head: a single candidate's own
    /// outcome (502/504), or with several a 503 naming what each got.
    public static func finalError(outcomes: [(label: String, outcome: AttemptOutcome)]) -> ProxyError {
        if outcomes.count == 1, let only = outcomes.first {
            switch only.outcome {
            case .timedOut: return .gatewayTimeout("upstream \(only.label) did not answer in time")
            default: return .badGateway("upstream \(only.label): \(only.outcome.summary)")
            }
        }
        let list = outcomes.map { "\($0.label): \($0.outcome.summary)" }.joined(separator: "; ")
        return .unavailable("every candidate failed: \(list)")
    }
}
