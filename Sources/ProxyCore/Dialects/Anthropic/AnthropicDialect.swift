/// The Anthropic Messages API as an upstream: a chat-completions request is translated into a
/// Messages request (what cannot be expressed is refused with a 400), the key goes in
/// `x-api-key` with an `anthropic-version`, and answers are translated back.
public struct AnthropicDialect: UpstreamDialect {
    /// The API version sent when the client named none.
    public static let version = "2023-06-01"

    public init() {}
    public var name: String { "anthropic" }
    public var chatPath: String { "/v1/messages" }

    public func addKey(_ key: String, to headers: inout HTTPHeaders) {
        headers.add("x-api-key", key)
        if !headers.contains("anthropic-version") { headers.add("anthropic-version", Self.version) }
    }

    public func prepareChat(_ draft: inout ChatRequestDraft) -> ProxyError? {
        guard let body = try? JSONValue.parse(draft.body) else {
            return .badRequest("request body is not valid JSON", code: "invalid_json")
        }
        guard let model = draft.upstreamModel ?? body["model"]?.stringValue else {
            return .badRequest("request body has no 'model' string", code: "missing_model")
        }
        let request: Anthropic.Request
        switch AnthropicRequestTranslator.translate(body, model: model, defaultMaxTokens: draft.defaultMaxTokens) {
        case .failure(let e): return e
        case .success(let r): request = r
        }
        // The OpenAI SDK can only send a Bearer key; the Messages API wants it in x-api-key.
        // (With a configured key, or proxy keys, no client key is left here.)
        if !draft.headers.contains("x-api-key"), let key = draft.headers.bearerToken {
            draft.headers.remove("Authorization")
            draft.headers.add("x-api-key", key)
        }
        draft.body = request.json.encoded()
        draft.headers.set("Content-Type", "application/json")
        if !draft.headers.contains("anthropic-version") { draft.headers.add("anthropic-version", Self.version) }
        draft.answers = AnthropicAnswers(AnthropicTranslation(
            created: draft.unixTime, includeUsage: body["stream_options"]?["include_usage"]?.boolValue ?? false,
            reasoningField: draft.think.field, keepReasoning: draft.think.mode != .strip))
        return nil
    }
}

/// Answers of a Messages upstream, in the chat-completions form: a stream translated event by
/// event, a whole message translated once complete, an error body put in the OpenAI error
/// shape with its status; anything else as it came.
public struct AnthropicAnswers: AnswerMapping {
    public let translation: AnthropicTranslation

    public init(_ translation: AnthropicTranslation) { self.translation = translation }

    public func transform(for head: AnswerHead, limits: AnswerLimits) -> any ResponseTransform {
        switch (head.isSuccess, head.body) {
        case (true, .eventStream): return AnthropicStreamTranslator(translation, maxEventBytes: limits.maxEventBytes)
        case (true, .json): return WholeAnswer(WholeMessage(translation: translation), limit: limits.maxResponseBytes)
        case (false, .json): return WholeAnswer(ErrorBody(status: head.status), limit: limits.maxResponseBytes)
        default: return PassThroughAnswer.shared
        }
    }

    /// A whole Messages answer as a chat completion.
    struct WholeMessage: WholeAnswerRewrite {
        let translation: AnthropicTranslation
        func rewrite(_ body: [UInt8]) -> Result<(body: [UInt8], usage: Usage?), ProxyError> {
            guard let done = AnthropicResponseTranslator.translateWhole(body, translation) else {
                return .failure(.badGateway("upstream answer is not an Anthropic message", code: "upstream_malformed"))
            }
            return .success((done.body, done.usage))
        }
    }

    /// An error body in the OpenAI error shape, with the upstream's status.
    struct ErrorBody: WholeAnswerRewrite {
        let status: Int
        func rewrite(_ body: [UInt8]) -> Result<(body: [UInt8], usage: Usage?), ProxyError> {
            .success((AnthropicResponseTranslator.translateError(status: status, body: body), nil))
        }
    }
}
