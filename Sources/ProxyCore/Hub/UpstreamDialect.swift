/// The API a provider speaks, as configured by its `api`. proxyd's hub form is a
/// chat-completions request: every chat request a client makes is read in that form, and a
/// dialect turns it into its own request and says how its answers come back.
///
/// A dialect is a value: the code that knows its wire format lives with it, and nothing else
/// asks which dialect a provider speaks.
public protocol UpstreamDialect: Sendable {
    /// The name a provider's `api` gives it in configuration.
    var name: String { get }
    /// The chat endpoint's path below a provider's base URL, when `chatCompletionsUrl` is not set.
    var chatPath: String { get }
    /// Puts a provider's configured key into the upstream request headers (where any client
    /// key has been removed).
    func addKey(_ key: String, to headers: inout HTTPHeaders)
    /// Turns the draft of a chat request into this dialect's request and sets how its answers
    /// come back. Returns the error to answer when the request cannot be expressed.
    func prepareChat(_ draft: inout ChatRequestDraft) -> ProxyError?
}

/// A chat request on its way to one provider, while its dialect shapes it.
public struct ChatRequestDraft {
    /// The upstream headers the header policy chose; the dialect adds its own.
    public var headers: HTTPHeaders
    /// The body to send; on entry the client's bytes.
    public var body: [UInt8]
    /// The client's body as read, or nil when it is forwarded untouched (a path passed through,
    /// or a body that is not a JSON object).
    public let request: ChatRequestBody?
    /// The model to ask the upstream for, when it is not the one the body names.
    public let upstreamModel: String?
    /// What happens to reasoning in the answer.
    public let think: ThinkSettings
    /// `max_tokens` for dialects that require one, when the client sent none.
    public let defaultMaxTokens: Int
    /// Seconds since the epoch: the `created` of answers proxyd makes.
    public let unixTime: Int
    /// How the answers come back; the dialect sets it.
    public var answers: any AnswerMapping = UntouchedAnswers()

    public init(headers: HTTPHeaders, body: [UInt8], request: ChatRequestBody?, upstreamModel: String? = nil,
                think: ThinkSettings = ThinkSettings(), defaultMaxTokens: Int = 4096, unixTime: Int = 0) {
        self.headers = headers
        self.body = body
        self.request = request
        self.upstreamModel = upstreamModel
        self.think = think
        self.defaultMaxTokens = defaultMaxTokens
        self.unixTime = unixTime
    }
}

/// The dialects a configuration may name, and the one spoken where no provider says otherwise
/// (the generic forwarder, and chat paths passed through): the hub form itself.
public struct DialectRegistry: Sendable {
    public let hub: any UpstreamDialect
    public let all: [any UpstreamDialect]

    public init(hub: any UpstreamDialect, others: [any UpstreamDialect]) {
        self.hub = hub
        all = [hub] + others
    }

    /// The dialect configured as `name`.
    public func named(_ name: String) -> (any UpstreamDialect)? { all.first { $0.name == name } }

    /// The names, for error messages.
    public var names: String {
        let n = all.map(\.name)
        return n.count <= 1 ? n.joined() : n.dropLast().joined(separator: ", ") + " or " + n.last!
    }
}
