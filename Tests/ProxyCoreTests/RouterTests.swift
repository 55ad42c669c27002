import ProxyCore
import Testing

@Suite("Route table")
struct RouterTests {
    static let router = Router(debugRoutes: true)

    static let cases: [(String, String, String, Router.Resolution)] = [
        ("health", "GET", "/healthz", .route(.health)),
        ("root", "GET", "/", .route(.root)),
        ("one model", "GET", "/v1/models/gpt-4o", .route(.model(id: "gpt-4o"))),
        ("one model with a slash", "GET", "/v1/models/deepseek/deepseek-r1", .route(.model(id: "deepseek/deepseek-r1"))),
        ("one model, legacy path", "GET", "/api/v1/models/m%2Fx", .route(.model(id: "m%2Fx"))),
        ("one model, wrong method", "DELETE", "/v1/models/x", .methodNotAllowed(allowed: ["GET"])),
        ("an empty model id", "GET", "/v1/models/", .notFound),
        ("root by HEAD", "HEAD", "/", .route(.root)),
        ("root by POST", "POST", "/", .methodNotAllowed(allowed: ["GET", "HEAD"])),
        ("empty first segment", "GET", "//x", .notFound),
        ("readiness", "GET", "/readyz", .route(.ready)),
        ("metrics", "GET", "/metrics", .route(.metrics)),
        ("openapi", "GET", "/openapi.json", .route(.openAPI)),
        ("models", "GET", "/v1/models", .route(.models)),
        ("legacy models", "GET", "/api/v1/models", .route(.models)),
        ("chat completions", "POST", "/v1/chat/completions", .route(.chatCompletions)),
        ("legacy chat completions", "POST", "/api/v1/chat/completions", .route(.chatCompletions)),
        ("generic forwarder", "POST", "/proxy/https://h.example/v1/chat/completions", .route(.genericProxy(baseURL: "https://h.example"))),
        ("generic forwarder with prefix", "POST", "/proxy/https://h.example/p/v1/chat/completions", .route(.genericProxy(baseURL: "https://h.example/p"))),
        ("prebuilt provider", "POST", "/provider/chutes/v1/chat/completions", .route(.prebuiltProvider(id: "chutes"))),
        ("debug", "GET", "/debug/openai/v1/models", .route(.debug(provider: "openai", rest: "/v1/models"))),
        ("pass-through", "GET", "/openai/v1/models", .route(.passThrough(provider: "openai", rest: "/v1/models"))),
        ("pass-through any method", "DELETE", "/openai/v1/files/1", .route(.passThrough(provider: "openai", rest: "/v1/files/1"))),
        ("wrong method on health", "POST", "/healthz", .methodNotAllowed(allowed: ["GET"])),
        ("wrong method on models", "POST", "/v1/models", .methodNotAllowed(allowed: ["GET"])),
        ("wrong method on chat", "GET", "/v1/chat/completions", .methodNotAllowed(allowed: ["POST"])),
        ("wrong method on forwarder", "GET", "/proxy/https://h.example/v1/chat/completions", .methodNotAllowed(allowed: ["POST"])),
        ("wrong method on provider route", "PUT", "/provider/x/v1/chat/completions", .methodNotAllowed(allowed: ["POST"])),
        ("reserved segment, no route", "GET", "/v1/embeddings", .notFound),
        ("reserved segment alone", "GET", "/v1", .notFound),
        ("health with a tail", "GET", "/healthz/x", .notFound),
        ("forwarder without the suffix", "POST", "/proxy/https://h.example/v1/embeddings", .notFound),
        ("forwarder without a base", "POST", "/proxy/v1/chat/completions", .notFound),
        ("provider route other tail", "POST", "/provider/x/v1/embeddings", .notFound),
        ("provider alone", "GET", "/openai", .notFound),
        ("empty first segment", "GET", "//openai/v1/models", .notFound),
    ]

    @Test("resolution", arguments: cases)
    func resolution(name: String, method: String, path: String, expected: Router.Resolution) {
        #expect(Self.router.resolve(method: method, path: path[...]) == expected)
    }

    @Test("debug routes are a 404 unless turned on")
    func debugOff() {
        #expect(Router(debugRoutes: false).resolve(method: "GET", path: "/debug/openai/v1/models") == .notFound)
    }
}
