/// What the I/O layer does for an `ExchangeMachine`, in the order given.
public enum ExchangeAction {
    /// Start this upstream request; any earlier one is over.
    case startAttempt(UpstreamAttempt)
    /// Stop the running upstream transfer; no `upstreamDone` follows.
    case cancelUpstream
    /// Let a paused upstream transfer deliver again.
    case resumeUpstream
    /// Arm the exchange's one timer to fire after this many seconds (replacing any other time).
    case armTimer(seconds: Double)
    /// The timer is not needed now.
    case cancelTimer
    /// Send the client's response head; a streamed body follows.
    case sendHead(status: Int, headers: HTTPHeaders)
    /// Send the machine's `output`.
    case sendOutput
    /// Send the upstream bytes just fed, as they came.
    case sendInput
    /// End the streamed body properly.
    case finishStream
    /// End the streamed body without its proper end, so the client can tell it was cut short.
    case abortStream
    /// Send a whole reply.
    case respond(status: Int, headers: HTTPHeaders, body: [UInt8])
    /// An attempt at a provider ended well or badly: its circuit breaker counts it.
    case noteProvider(id: String, failed: Bool)
    /// A model found by auto-detection was answered by this provider: try it first next time.
    case remember(model: String, provider: String)
    /// An attempt failed before any byte reached the client and the next candidate starts.
    case failingOver(from: String, result: String, next: String)
    /// The exchange is over on proxyd's side. The record is final except `bytesOut`, which the
    /// I/O layer fills in once the client's side is over too.
    case finish(ExchangeRecord)
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
