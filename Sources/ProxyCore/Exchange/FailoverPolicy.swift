/// When to try the next candidate: after a connection error, a timeout, or an upstream 429 or
/// 5xx, and only while nothing has reached the client.
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
