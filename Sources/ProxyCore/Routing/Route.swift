/// The routes of SPEC §1, as resolved from a method and a raw path.
public enum Route: Sendable, Equatable {
    case health
    case ready
    case metrics
    case openAPI
    case models
    case chatCompletions
    /// Route 7: the raw `{base_url...}` between `/proxy/` and `/v1/chat/completions`.
    case genericProxy(baseURL: Substring)
    /// Route 8.
    case prebuiltProvider(id: Substring)
    /// Route 9: how `/{provider}{rest}` would be routed.
    case debug(provider: Substring, rest: Substring)
    /// Route 10: `rest` starts with `/`.
    case passThrough(provider: Substring, rest: Substring)

    /// The short name used in logs and metrics.
    public var name: String {
        switch self {
        case .health: return "healthz"
        case .ready: return "readyz"
        case .metrics: return "metrics"
        case .openAPI: return "openapi"
        case .models: return "models"
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
        case .health, .ready: return false
        default: return true
        }
    }
}

/// Resolves paths to routes with a lookup on the first segment, never by trying each rule.
public struct Router: Sendable {
    /// A route resolution: the route, or the error to answer.
    public enum Resolution: Sendable, Equatable {
        case route(Route)
        case notFound
        case methodNotAllowed(allowed: [String])
    }

    enum Family: Sendable {
        case exact([String: (Route, String)])   // rest-of-path → (route, method)
        case proxy
        case provider
        case debug
    }

    let families: [Substring: Family]
    let debugEnabled: Bool

    public init(debugRoutes: Bool) {
        debugEnabled = debugRoutes
        families = [
            "healthz": .exact(["": (.health, "GET")]),
            "readyz": .exact(["": (.ready, "GET")]),
            "metrics": .exact(["": (.metrics, "GET")]),
            "openapi.json": .exact(["": (.openAPI, "GET")]),
            "v1": .exact(["/models": (.models, "GET"), "/chat/completions": (.chatCompletions, "POST")]),
            "api": .exact(["/v1/models": (.models, "GET"), "/v1/chat/completions": (.chatCompletions, "POST")]),
            "proxy": .proxy,
            "provider": .provider,
            "debug": .debug,
        ]
    }

    static let chatSuffix = "/v1/chat/completions"

    /// Resolves `method` and the raw `path` (no query).
    public func resolve(method: String, path: Substring) -> Resolution {
        guard path.first == "/" else { return .notFound }
        let afterSlash = path.dropFirst()
        let segmentEnd = afterSlash.firstIndex(of: "/") ?? afterSlash.endIndex
        let first = afterSlash[..<segmentEnd]
        let rest = afterSlash[segmentEnd...]
        guard let family = families[first] else {
            // Route 10: `/{provider}/{rest...}` with a non-empty first segment and a rest.
            guard !first.isEmpty, rest.count > 0 else { return .notFound }
            return .route(.passThrough(provider: first, rest: rest))
        }
        switch family {
        case .exact(let table):
            guard let (route, allowed) = table[String(rest)] else { return .notFound }
            return method == allowed ? .route(route) : .methodNotAllowed(allowed: [allowed])
        case .proxy:
            guard rest.hasSuffix(Router.chatSuffix), rest.count > Router.chatSuffix.count + 1 else { return .notFound }
            let base = rest.dropFirst().dropLast(Router.chatSuffix.count)
            return method == "POST" ? .route(.genericProxy(baseURL: base)) : .methodNotAllowed(allowed: ["POST"])
        case .provider:
            // /provider/{id}/v1/chat/completions
            let tail = rest.dropFirst()
            guard rest.first == "/", let slash = tail.firstIndex(of: "/") else { return .notFound }
            let id = tail[..<slash]
            guard !id.isEmpty, tail[slash...] == Router.chatSuffix else { return .notFound }
            return method == "POST" ? .route(.prebuiltProvider(id: id)) : .methodNotAllowed(allowed: ["POST"])
        case .debug:
            guard debugEnabled else { return .notFound }
            let tail = rest.dropFirst()
            guard rest.first == "/", let slash = tail.firstIndex(of: "/") else { return .notFound }
            let provider = tail[..<slash]
            guard !provider.isEmpty else { return .notFound }
            return .route(.debug(provider: provider, rest: tail[slash...]))
        }
    }
}
