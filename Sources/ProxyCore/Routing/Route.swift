/// The routes proxyd serves, as resolved from a method and a raw path.
public enum Route: Sendable, Equatable {
    /// The root `GET /`, what clients probe at start-up.
    case root
    case health
    case ready
    case metrics
    case openAPI
    case models
    /// `GET /v1/models/{id...}`: the raw rest of the path after `/models/`.
    case model(id: Substring)
    case chatCompletions
    /// The generic forwarder: the raw `{base_url...}` between `/proxy/` and `/v1/chat/completions`.
    case genericProxy(baseURL: Substring)
    /// A prebuilt provider: `/provider/{id}/v1/chat/completions`.
    case prebuiltProvider(id: Substring)
    /// The dry run `/debug/{provider}{rest}`: how `/{provider}{rest}` would be routed.
    case debug(provider: Substring, rest: Substring)
    /// Pass-through `/{provider}{rest}`: `rest` starts with `/`.
    case passThrough(provider: Substring, rest: Substring)

    /// The short name used in logs and metrics.
    public var name: String {
        switch self {
        case .root: return "root"
        case .health: return "healthz"
        case .ready: return "readyz"
        case .metrics: return "metrics"
        case .openAPI: return "openapi"
        case .models, .model: return "models"
        case .chatCompletions: return "chat_completions"
        case .genericProxy: return "proxy"
        case .prebuiltProvider: return "provider"
        case .debug: return "debug"
        case .passThrough: return "passthrough"
        }
    }

    /// Whether `auth.keys` guards this route.
    public var requiresProxyKey: Bool {
        switch self {
        case .root, .health, .ready: return false
        default: return true
        }
    }
}
