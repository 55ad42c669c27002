/// What the I/O layer does for an `ExchangeMachine`, in the order given. Actions are plain
/// values; what they send or start is read from the machine (`current`, `reply`,
/// `output`, `record`), so queuing one copies nothing.
public enum ExchangeAction: Sendable, Equatable {
    /// Start the upstream request of the attempt of this index, the machine's `current`; any
    /// earlier one is over.
    case startAttempt(Int)
    /// Stop the running upstream transfer; no `upstreamDone` follows.
    case cancelUpstream
    /// Let a paused upstream transfer deliver again.
    case resumeUpstream
    /// Arm the exchange's one timer to fire after this many seconds (replacing any other time).
    case armTimer(seconds: Double)
    /// The timer is not needed now.
    case cancelTimer
    /// Send the client the head of `reply`; a streamed body follows.
    case sendHead
    /// Send the machine's `output`.
    case sendOutput
    /// End the streamed body properly.
    case finishStream
    /// End the streamed body without its proper end, so the client can tell it was cut short.
    case abortStream
    /// Send `reply` whole.
    case respond
    /// The attempt of this index ended well or badly: its provider's circuit breaker counts it.
    case noteProvider(attempt: Int, failed: Bool)
    /// The plan's model, found by auto-detection, was answered by this attempt's provider: try
    /// it first next time.
    case remember(attempt: Int)
    /// The attempt of this index failed before any byte reached the client (`failureSummary`
    /// says how) and the next one starts.
    case failingOver(from: Int)
    /// The exchange is over on proxyd's side. `record` is final except `bytesOut`, which the
    /// I/O layer fills in once the client's side is over too.
    case finish
}

/// What to do with the body bytes an upstream transfer just delivered: the transfer's verdict,
/// and what to send the client now (after the actions queued meanwhile, such as its head).
public struct BodyStep: Sendable, Equatable {
    public enum Send: Sendable, Equatable {
        case nothing
        /// The machine's `output`.
        case output
        /// The delivered bytes, as they came.
        case input
    }

    public var verdict: UpstreamBodyVerdict
    public var send: Send

    public init(_ verdict: UpstreamBodyVerdict, send: Send = .nothing) {
        self.verdict = verdict
        self.send = send
    }
}

/// What an upstream transfer does with the bytes it just delivered.
public enum UpstreamBodyVerdict: Sendable, Equatable {
    /// Taken; keep delivering.
    case accept
    /// Not taken: pause, and deliver them again after `resumeUpstream`.
    case pause
    /// Stop the transfer; `upstreamDone` follows.
    case cancel
}

/// The limits one exchange keeps to.
public struct ExchangeLimits: Sendable, Equatable {
    public var answers: AnswerLimits
    /// A committed answer that sends nothing for this long is ended.
    public var streamIdleTimeoutSeconds: Double
    /// Above this many bytes queued for the client, the upstream is paused.
    public var highWaterBytes: Int

    public init(answers: AnswerLimits = AnswerLimits(), streamIdleTimeoutSeconds: Double = 300, highWaterBytes: Int = 256 * 1024) {
        self.answers = answers
        self.streamIdleTimeoutSeconds = streamIdleTimeoutSeconds
        self.highWaterBytes = highWaterBytes
    }
}
