/// Resolves paths to routes with a lookup on the first segment, never by trying each rule.
public struct Router: Sendable {
    /// A route resolution: the route, or the error to answer.
    public enum Resolution: Sendable, Equatable {
        case route(Route)
        case notFound
        case methodNotAllowed(allowed: [String])
    }

    enum Family: Sendable {
        case exact([Substring: (Route, String)])   // rest-of-path → (route, method)
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

    /// `/v1/models/{id...}` and `/api/v1/models/{id...}`: one model of the catalog.
    static func modelByID(first: Substring, rest: Substring) -> (Route, String)? {
        let prefix: Substring = first == "v1" ? "/models/" : first == "api" ? "/v1/models/" : ""
        guard !prefix.isEmpty, rest.utf8.count > prefix.utf8.count, rest.utf8.starts(with: prefix.utf8) else { return nil }
        return (.model(id: rest.dropFirst(prefix.count)), "GET")
    }

    /// Splits `/{segment}{/rest}`: a non-empty first segment and a rest starting with `/`.
    static func segmentAndRest(_ s: Substring) -> (Substring, Substring)? {
        let u = s.utf8
        guard u.first == UInt8(ascii: "/") else { return nil }
        let afterSlash = u.index(after: u.startIndex)
        guard let slash = u[afterSlash...].firstIndex(of: UInt8(ascii: "/")), slash > afterSlash else { return nil }
        return (s[afterSlash..<slash], s[slash...])
    }

    /// Resolves `method` and the raw `path` (no query). Works on UTF-8 bytes: paths are
    /// compared byte for byte, never as Unicode text.
    public func resolve(method: String, path: Substring) -> Resolution {
        let u = path.utf8
        guard u.first == UInt8(ascii: "/") else { return .notFound }
        if u.count == 1 {
            return method == "GET" || method == "HEAD" ? .route(.root) : .methodNotAllowed(allowed: ["GET", "HEAD"])
        }
        let afterSlash = path[u.index(after: u.startIndex)...]
        let segmentEnd = afterSlash.utf8.firstIndex(of: UInt8(ascii: "/")) ?? afterSlash.endIndex
        let first = afterSlash[..<segmentEnd]
        let rest = afterSlash[segmentEnd...]
        guard let family = families[first] else {
            // Pass-through: `/{provider}/{rest...}` with a non-empty first segment and a rest.
            guard !first.isEmpty, !rest.isEmpty else { return .notFound }
            return .route(.passThrough(provider: first, rest: rest))
        }
        switch family {
        case .exact(let table):
            guard let (route, allowed) = table[rest] ?? Router.modelByID(first: first, rest: rest) else { return .notFound }
            return method == allowed ? .route(route) : .methodNotAllowed(allowed: [allowed])
        case .proxy:
            let ru = rest.utf8, suffix = Router.chatSuffix.utf8
            guard ru.count > suffix.count + 1, ru.reversed().starts(with: suffix.reversed()) else { return .notFound }
            let base = rest[ru.index(after: ru.startIndex)..<ru.index(ru.endIndex, offsetBy: -suffix.count)]
            return method == "POST" ? .route(.genericProxy(baseURL: base)) : .methodNotAllowed(allowed: ["POST"])
        case .provider:
            // /provider/{id}/v1/chat/completions
            guard let (id, tail) = Router.segmentAndRest(rest) else { return .notFound }
            guard tail.utf8.elementsEqual(Router.chatSuffix.utf8) else { return .notFound }
            return method == "POST" ? .route(.prebuiltProvider(id: id)) : .methodNotAllowed(allowed: ["POST"])
        case .debug:
            guard debugEnabled, let (provider, tail) = Router.segmentAndRest(rest) else { return .notFound }
            return .route(.debug(provider: provider, rest: tail))
        }
    }
}
