/// The chat-completions API: proxyd's hub form, spoken as it is. The request goes as the client
/// sent it, with the model renamed when a catalog entry says so and the usage chunk asked for
/// when a streaming client did not (and kept from it then).
public struct OpenAIChatDialect: UpstreamDialect {
    public init() {}
    public var name: String { "openai" }
    public var chatPath: String { "/v1/chat/completions" }

    public func addKey(_ key: String, to headers: inout HTTPHeaders) {
        headers.add("Authorization", "Bearer " + key)
    }

    public func prepareChat(_ draft: inout ChatRequestDraft) -> ProxyError? {
        var hideUsage = false
        if let request = draft.request {
            hideUsage = request.shouldAskForUsage
            if hideUsage || draft.upstreamModel != nil {
                draft.body = request.edited(model: draft.upstreamModel, askForUsage: hideUsage)
            }
        }
        draft.answers = ChatAnswers(ChatAnswerSettings(think: draft.think, hideUsage: hideUsage))
        return nil
    }
}
