/// What proxyd does to chat-completion answers: `<think>` processing, and keeping back the usage
/// chunk proxyd asked for on the client's behalf.
public struct ChatAnswerSettings: Sendable, Equatable {
    public var think: ThinkSettings
    /// Keep the usage chunk (one with no choices) from the client: proxyd asked for it.
    public var hideUsage: Bool
    public init(think: ThinkSettings, hideUsage: Bool = false) {
        self.think = think
        self.hideUsage = hideUsage
    }
}

/// The answers of a chat-completions upstream: an event stream goes through
/// `ChatStreamTransform`; a whole successful JSON answer is read to its end (for reasoning,
/// usage and the cost header) and rewritten; anything else goes as it came.
public struct ChatAnswers: AnswerMapping {
    public let settings: ChatAnswerSettings

    public init(_ settings: ChatAnswerSettings) { self.settings = settings }

    public func transform(for head: AnswerHead, limits: AnswerLimits) -> any ResponseTransform {
        switch head.body {
        case .eventStream:
            return ChatStreamTransform(settings: settings, maxEventBytes: limits.maxEventBytes)
        case .json where head.isSuccess:
            return WholeAnswer(settings, limit: limits.maxResponseBytes)
        default:
            return PassThroughAnswer.shared
        }
    }
}

extension ChatAnswerSettings: WholeAnswerRewrite {
    /// A whole chat completion after `<think>` processing, with the usage it reports. A body
    /// that is not a chat completion goes as it came.
    public func rewrite(_ body: [UInt8]) -> Result<(body: [UInt8], usage: Usage?), ProxyError> {
        let usage = body.withUnsafeBytes { Usage.ofCompletion($0) }
        return .success((rewriteWhole(body), usage))
    }

    /// A whole chat completion ready to send: its body after `<think>` processing, the usage it
    /// reports, and the cost of that usage at `prices`.
    public func finishWhole(_ body: [UInt8], prices: Usage.Prices) -> (body: [UInt8], usage: Usage?, cost: Double?) {
        // `rewrite` never fails for a chat completion: a body of another shape goes as it came.
        let done = (try? rewrite(body).get()) ?? (body: body, usage: nil)
        return (done.body, done.usage, done.usage?.cost(prices: prices))
    }

    /// The body of a whole chat completion after `<think>` processing; the bytes as they came
    /// when nothing changes or the body is not a JSON chat completion.
    public func rewriteWhole(_ body: [UInt8]) -> [UInt8] {
        body.withUnsafeBytes { ChatChunkRewriter.rewriteWhole($0, think: think) } ?? body
    }
}
