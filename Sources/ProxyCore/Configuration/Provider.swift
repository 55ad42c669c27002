/// The API dialect an upstream speaks.
public enum APIDialect: String, Sendable, Equatable {
    case openai
    case anthropic
}

/// What happens to `<think>` reasoning in chat-completion responses.
public enum ThinkMode: String, Sendable, Equatable {
    /// Reasoning moves from `content` to the reasoning field.
    case split
    /// Reasoning is removed.
    case strip
    /// Bytes pass through untouched.
    case off
}

/// One upstream provider, fully resolved: every default applied, its key read.
public struct Provider: Sendable, Equatable {
    public var id: String
    public var baseURL: UpstreamURL
    public var api: APIDialect
    public var chatCompletionsURL: UpstreamURL
    public var allowedPaths: AllowedPaths
    /// The key sent upstream, if one is configured and its variable is set.
    public var apiKey: String?
    /// The environment variable the key comes from, for error messages (never the key).
    public var apiKeyVariable: String?
    public var requiresApiKey: Bool
    public var timeoutSeconds: Double
    public var priority: Int
    public var autoDetect: Bool
    public var models: [String]
    public var supportsNativeUsdCost: Bool
    public var headers: [(String, String)]
    public var think: ThinkMode?
    public var defaultMaxTokens: Int

    public static func == (lhs: Provider, rhs: Provider) -> Bool {
        lhs.id == rhs.id && lhs.baseURL == rhs.baseURL && lhs.api == rhs.api
            && lhs.chatCompletionsURL == rhs.chatCompletionsURL && lhs.allowedPaths == rhs.allowedPaths
            && lhs.apiKey == rhs.apiKey && lhs.apiKeyVariable == rhs.apiKeyVariable
            && lhs.requiresApiKey == rhs.requiresApiKey && lhs.timeoutSeconds == rhs.timeoutSeconds
            && lhs.priority == rhs.priority && lhs.autoDetect == rhs.autoDetect && lhs.models == rhs.models
            && lhs.supportsNativeUsdCost == rhs.supportsNativeUsdCost
            && lhs.headers.elementsEqual(rhs.headers, by: { $0 == $1 }) && lhs.think == rhs.think
            && lhs.defaultMaxTokens == rhs.defaultMaxTokens
    }
}
