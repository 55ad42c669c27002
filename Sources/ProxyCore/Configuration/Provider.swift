/// One upstream provider, fully resolved: every default applied, its key read. Immutable and
/// shared by reference: a request's plan refers to it without copying it.
public final class Provider: Sendable, Equatable {
    public let id: String
    public let baseURL: UpstreamURL
    /// The API it speaks (`api`).
    public let dialect: any UpstreamDialect
    public let chatCompletionsURL: UpstreamURL
    public let allowedPaths: AllowedPaths
    /// The key sent upstream, if one is configured and its variable is set.
    public let apiKey: String?
    /// The environment variable the key comes from, for error messages (never the key).
    public let apiKeyVariable: String?
    public let requiresApiKey: Bool
    public let timeoutSeconds: Double
    public let priority: Int
    public let autoDetect: Bool
    public let models: [String]
    public let supportsNativeUsdCost: Bool
    public let headers: [(String, String)]
    public let think: ThinkMode?
    public let defaultMaxTokens: Int

    public init(id: String, baseURL: UpstreamURL, dialect: any UpstreamDialect, chatCompletionsURL: UpstreamURL, allowedPaths: AllowedPaths,
                apiKey: String?, apiKeyVariable: String?, requiresApiKey: Bool, timeoutSeconds: Double, priority: Int,
                autoDetect: Bool, models: [String], supportsNativeUsdCost: Bool, headers: [(String, String)],
                think: ThinkMode?, defaultMaxTokens: Int) {
        self.id = id
        self.baseURL = baseURL
        self.dialect = dialect
        self.chatCompletionsURL = chatCompletionsURL
        self.allowedPaths = allowedPaths
        self.apiKey = apiKey
        self.apiKeyVariable = apiKeyVariable
        self.requiresApiKey = requiresApiKey
        self.timeoutSeconds = timeoutSeconds
        self.priority = priority
        self.autoDetect = autoDetect
        self.models = models
        self.supportsNativeUsdCost = supportsNativeUsdCost
        self.headers = headers
        self.think = think
        self.defaultMaxTokens = defaultMaxTokens
    }

    public static func == (lhs: Provider, rhs: Provider) -> Bool {
        lhs.id == rhs.id && lhs.baseURL == rhs.baseURL && lhs.dialect.name == rhs.dialect.name
            && lhs.chatCompletionsURL == rhs.chatCompletionsURL && lhs.allowedPaths == rhs.allowedPaths
            && lhs.apiKey == rhs.apiKey && lhs.apiKeyVariable == rhs.apiKeyVariable
            && lhs.requiresApiKey == rhs.requiresApiKey && lhs.timeoutSeconds == rhs.timeoutSeconds
            && lhs.priority == rhs.priority && lhs.autoDetect == rhs.autoDetect && lhs.models == rhs.models
            && lhs.supportsNativeUsdCost == rhs.supportsNativeUsdCost
            && lhs.headers.elementsEqual(rhs.headers, by: { $0 == $1 }) && lhs.think == rhs.think
            && lhs.defaultMaxTokens == rhs.defaultMaxTokens
    }
}
