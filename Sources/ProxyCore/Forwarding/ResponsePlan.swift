/// What happens to an upstream response that proxyd commits to sending.
public struct ResponsePlan: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: BodyHandling
}

/// How the body of a committed response is carried.
public enum BodyHandling: Sendable {
    /// Bytes go to the client as they came; a break truncates the transfer.
    case passThrough
    /// An SSE chat-completion stream, watched and possibly rewritten event by event.
    case chatStream(ChatStreamSettings)
    /// A whole JSON chat completion, rewritten once complete.
    case chatJSON(ChatStreamSettings)
    /// An Anthropic event stream, translated to a chat-completions stream.
    case anthropicStream(AnthropicTranslation)
    /// A whole Anthropic answer, translated once complete.
    case anthropicJSON(AnthropicTranslation)
    /// An Anthropic error body, translated to the OpenAI error shape with the same status.
    case anthropicError
}

/// Settings the chat transforms need.
public struct ChatStreamSettings: Sendable, Equatable {
    public var think: ThinkSettings
    /// Keep the usage chunk (one with no choices) from the client: proxyd asked for it.
    public var hideUsage: Bool
    public init(think: ThinkSettings, hideUsage: Bool = false) {
        self.think = think
        self.hideUsage = hideUsage
    }
}

extension ForwardPlan {
    /// Plans the client response for the upstream head of `attempt`.
    public func responsePlan(for attempt: UpstreamAttempt, status: Int, upstreamHeaders: HTTPHeaders,
                             requestID: String) -> ResponsePlan {
        let contentType = (upstreamHeaders["Content-Type"] ?? "").lowercasedASCII
        let isSSE = contentType.hasPrefix("text/event-stream")
        let isJSON = contentType.hasPrefix("application/json")
        var body = BodyHandling.passThrough
        if isChatCompletion, let translation = attempt.translation {
            if !(200...299).contains(status) {
                body = isJSON ? .anthropicError : .passThrough
            } else if isSSE {
                body = .anthropicStream(translation)
            } else if isJSON {
                body = .anthropicJSON(translation)
            }
        } else if isChatCompletion {
            let settings = ChatStreamSettings(think: attempt.think, hideUsage: hideUsage)
            if isSSE {
                body = .chatStream(settings)
            } else if isJSON && (200...299).contains(status) {
                // Whole answers are read to the end: for reasoning, usage and the cost header.
                body = .chatJSON(settings)
            }
        }
        // A chat stream may gain an error event and a JSON answer may be rewritten, so their
        // length is no longer the upstream's.
        let rewritten: Bool
        if case .passThrough = body { rewritten = false } else { rewritten = true }
        var headers = HeaderPolicy.clientResponseHeaders(upstream: upstreamHeaders, bodyRewritten: rewritten,
                                                         decoded: attempt.decodesAnswer)
        if case .anthropicError = body { headers.set("Content-Type", "application/json") }
        headers.add("x-request-id", requestID)
        headers.add("x-proxyd-provider", attempt.label)
        if isSSE {
            headers.set("X-Accel-Buffering", "no")
            headers.set("Cache-Control", "no-cache")
        }
        return ResponsePlan(status: status, headers: headers, body: body)
    }
}

extension ChatStreamSettings {
    /// A whole chat completion ready to send: its body after `<think>` processing, the usage it
    /// reports, and the cost of that usage at `prices`.
    public func finishWhole(_ body: [UInt8], prices: Usage.Prices) -> (body: [UInt8], usage: Usage?, cost: Double?) {
        let usage = body.withUnsafeBytes { Usage.ofCompletion($0) }
        return (rewriteWhole(body), usage, usage?.cost(prices: prices))
    }

    /// The body of a whole chat completion after `<think>` processing; the bytes as they came
    /// when nothing changes or the body is not a JSON chat completion.
    public func rewriteWhole(_ body: [UInt8]) -> [UInt8] {
        body.withUnsafeBytes { ChatChunkRewriter.rewriteWhole($0, think: think) } ?? body
    }
}
