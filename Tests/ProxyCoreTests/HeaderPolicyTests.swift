import ProxyCore
import Testing

@Suite("Header and key policy")
struct HeaderPolicyTests {
    static func provider(api: String = "openai", key: String? = nil, requires: Bool = false,
                         headers: [(String, String)] = []) throws -> Provider {
        var json = #"{"inheritDefaults": false, "providers": {"p": {"baseUrl": "https://p.example", "api": "\#(api)""#
        if key != nil { json += #", "apiKey": "env:P_KEY""# }
        if requires { json += #", "requiresApiKey": true"# }
        if !headers.isEmpty { json += #", "headers": {"# + headers.map { #""\#($0.0)": "\#($0.1)""# }.joined(separator: ",") + "}" }
        json += "}}}"
        let c = try ConfigurationLoader.load(file: Array(json.utf8), environment: key.map { ["P_KEY": $0] } ?? [:])
        return try #require(c.provider("p"))
    }

    static let client = HTTPHeaders([
        ("Host", "proxy.local"), ("Connection", "keep-alive, X-Hop"), ("Keep-Alive", "timeout=5"), ("X-Hop", "1"),
        ("Proxy-Authorization", "Basic abc"), ("TE", "trailers"), ("Upgrade", "h2c"), ("Transfer-Encoding", "chunked"),
        ("Content-Length", "10"), ("Content-Type", "application/json"), ("Authorization", "Bearer client-key"),
        ("Accept-Encoding", "gzip"), ("X-Custom", "kept"), ("x-request-id", "client-id"),
    ])

    func headers(_ keys: HeaderPolicy.KeySource, proxyKeys: Bool = false, identity: Bool = false) -> Result<HTTPHeaders, ProxyError> {
        HeaderPolicy.upstreamRequestHeaders(client: Self.client, keys: keys, proxyKeysConfigured: proxyKeys, requestID: "rid-1", identityEncoding: identity)
    }

    @Test("hop-by-hop fields, those named in Connection, Host and Content-Length are not forwarded")
    func hopByHop() throws {
        let h = try headers(.clientOnly).get()
        for name in ["Host", "Connection", "Keep-Alive", "X-Hop", "Proxy-Authorization", "TE", "Upgrade", "Transfer-Encoding", "Content-Length"] {
            #expect(!h.contains(name), "\(name)")
        }
        #expect(h["X-Custom"] == "kept" && h["Content-Type"] == "application/json" && h["Accept-Encoding"] == "gzip")
        #expect(h.values("x-request-id") == ["rid-1"])
    }

    @Test("a chat completion asks for identity in place of the client's Accept-Encoding")
    func identity() throws {
        #expect(try headers(.clientOnly, identity: true).get().values("Accept-Encoding") == ["identity"])
        #expect(try headers(.clientOnly, identity: false).get().values("Accept-Encoding") == ["gzip"])
    }

    @Test("a decoded answer loses Content-Encoding and Content-Length; others keep them")
    func decodedResponseHeaders() {
        let upstream = HTTPHeaders([("Content-Type", "application/json"), ("Content-Encoding", "gzip"), ("Content-Length", "120")])
        let decoded = HeaderPolicy.clientResponseHeaders(upstream: upstream, bodyRewritten: false, decoded: true)
        #expect(!decoded.contains("Content-Encoding") && !decoded.contains("Content-Length") && decoded["Content-Type"] == "application/json")
        let kept = HeaderPolicy.clientResponseHeaders(upstream: upstream, bodyRewritten: false)
        #expect(kept["Content-Encoding"] == "gzip" && kept["Content-Length"] == "120")
    }

    @Test("the generic forwarder passes the client's own Authorization and nothing else")
    func genericKeys() throws {
        #expect(try headers(.clientOnly).get()["Authorization"] == "Bearer client-key")
    }

    @Test("a configured openai key replaces the client's")
    func openAIKey() throws {
        let h = try headers(.provider(Self.provider(key: "sk-provider"))).get()
        #expect(h.values("Authorization") == ["Bearer sk-provider"])
    }

    @Test("a configured anthropic key goes in x-api-key with anthropic-version; the client's version wins")
    func anthropicKey() throws {
        let p = try Self.provider(api: "anthropic", key: "ak-provider")
        let h = try headers(.provider(p)).get()
        #expect(h["x-api-key"] == "ak-provider" && !h.contains("Authorization") && h["anthropic-version"] == "2023-06-01")
        var client = Self.client
        client.add("anthropic-version", "2024-01-01")
        let h2 = try HeaderPolicy.upstreamRequestHeaders(client: client, keys: .provider(p), proxyKeysConfigured: false,
                                                         requestID: "r", identityEncoding: false).get()
        #expect(h2.values("anthropic-version") == ["2024-01-01"])
    }

    @Test("without a configured key the client's key passes through")
    func clientKeyPassThrough() throws {
        #expect(try headers(.provider(Self.provider())).get()["Authorization"] == "Bearer client-key")
    }

    @Test("with auth.keys the client's Authorization was the proxy key and is never forwarded")
    func proxyKeyNotForwarded() throws {
        let h = try headers(.provider(Self.provider()), proxyKeys: true).get()
        #expect(!h.contains("Authorization"))
        let h2 = try headers(.provider(Self.provider(key: "sk-provider")), proxyKeys: true).get()
        #expect(h2.values("Authorization") == ["Bearer sk-provider"])
    }

    @Test("requiresApiKey with no key anywhere is a 401 naming the variable, never a value")
    func requiresKey() throws {
        var json = #"{"inheritDefaults": false, "providers": {"p": {"baseUrl": "https://p.example", "apiKey": "env:P_KEY", "requiresApiKey": true}}}"#
        let c = try ConfigurationLoader.load(file: Array(json.utf8), environment: [:])
        let p = try #require(c.provider("p"))
        let r = HeaderPolicy.upstreamRequestHeaders(client: HTTPHeaders([("X", "1")]), keys: .provider(p), proxyKeysConfigured: false,
                                                    requestID: "r", identityEncoding: false)
        guard case .failure(let e) = r else { Issue.record("expected a 401"); return }
        #expect(e.status == 401 && e.message.contains("P_KEY"))
        json = ""
    }

    @Test("per-provider headers are added")
    func extraHeaders() throws {
        let h = try headers(.provider(Self.provider(headers: [("X-Title", "proxyd")]))).get()
        #expect(h["X-Title"] == "proxyd")
    }

    @Test("response headers: hop-by-hop dropped, Content-Length dropped only when the body is rewritten")
    func responseHeaders() {
        let upstream = HTTPHeaders([("Content-Type", "text/event-stream"), ("Content-Length", "100"), ("Connection", "close"),
                                    ("Transfer-Encoding", "chunked"), ("X-Upstream", "1"), ("x-request-id", "upstream-id")])
        let kept = HeaderPolicy.clientResponseHeaders(upstream: upstream, bodyRewritten: false)
        #expect(kept["Content-Length"] == "100" && kept["X-Upstream"] == "1" && !kept.contains("Connection") && !kept.contains("Transfer-Encoding"))
        #expect(!kept.contains("x-request-id"))
        #expect(!HeaderPolicy.clientResponseHeaders(upstream: upstream, bodyRewritten: true).contains("Content-Length"))
    }

    @Test("redaction hides every secret")
    func redaction() {
        let r = HeaderPolicy.redacted(HTTPHeaders([("Authorization", "Bearer sk-1"), ("x-api-key", "ak-1"), ("X-Ok", "v")]))
        #expect(r["Authorization"] == "[redacted]" && r["x-api-key"] == "[redacted]" && r["X-Ok"] == "v")
    }

    @Test("proxy keys compare exactly", arguments: [("k-123", true), ("k-124", false), ("k-12", false), ("k-1234", false), ("", false)])
    func proxyKeys(presented: String, ok: Bool) {
        #expect(HeaderPolicy.proxyKeyMatches(presented, keys: ["other", "k-123"]) == ok)
    }
}
