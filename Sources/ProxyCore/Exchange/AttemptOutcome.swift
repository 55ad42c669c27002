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

/// The failover rule of SPEC §4.
public enum FailoverPolicy {
    /// Whether to drop this attempt and try the next candidate. Only called before any byte
    /// has reached the client.
    public static func shouldTryNext(after outcome: AttemptOutcome, candidatesLeft: Int) -> Bool {
        candidatesLeft > 0 && outcome.isFailure
    }

    /// What to do with a response head, before anything reached the client.
    public enum Verdict: Sendable, Equatable {
        /// Send this answer to the client.
        case commit
        /// Drop it and try the next candidate.
        case tryNext
        /// Drop it: every candidate failed; answer `finalError`.
        case giveUp
    }

    /// The decision for attempt `index` (from 0) of `total` on `outcome`. A single candidate's
    /// own answer is always committed; with several, a failing last answer gives way to the 503
    /// that names every attempt.
    public static func verdict(_ outcome: AttemptOutcome, attempt index: Int, of total: Int) -> Verdict {
        if shouldTryNext(after: outcome, candidatesLeft: total - index - 1) { return .tryNext }
        if total > 1 && shouldTryNext(after: outcome, candidatesLeft: 1) { return .giveUp }
        return .commit
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
