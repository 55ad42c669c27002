import ProxyCore
import Testing

@Suite("Planner decisions")
struct GatewayTests {
    static let config = #"""
    {"inheritDefaults": false,
     "auth": {"keys": ["proxy-key"]},
     "providers": {
       "fake": {"baseUrl": "http://127.0.0.1:9", "allowedPaths": ["/v1/*"], "apiKey": "env:FAKE_KEY", "models": ["m1", "shared"], "priority": 20},
       "other": {"baseUrl": "https://other.example/base", "allowedPaths": ["/ok"], "chatCompletionsUrl": "https://other.example/chat?x=1",
                 "models": ["shared"], "priority": 10},
       "claude": {"baseUrl": "https://anthropic.example", "api": "anthropic", "allowedPaths": ["/v1/*"], "apiKey": "literal-anthropic-key"}
     },
     "debugRoutes": true}
    """#

    static let gateway = Gateway(configuration: try! ConfigurationLoader.load(file: Array(config.utf8), environment: ["FAKE_KEY": "sk-fake-secret"]))
    static let auth = ("Authorization", "Bearer proxy-key")

    func decide(_ method: String, _ target: String, headers: [(String, String)] = [auth], body: String = "") -> Decision {
        Self.gateway.decide(IncomingRequest(method: method, target: target, headers: HTTPHeaders(headers), body: Array(body.utf8)),
                            context: RequestContext(newRequestID: "new-id"))
    }

    func status(_ d: Decision) -> Int {
        switch d.action {
        case .respond(let r): return r.status
        case .metrics: return 200
        case .forward: return 0
        }
    }

    func plan(_ d: Decision) throws -> ForwardPlan {
        guard case .forward(let p) = d.action else { throw PlanMissing() }
        return p
    }
    struct PlanMissing: Error {}

    static let order: [(String, String, String, [(String, String)], Int)] = [
        ("no proxy key beats everything", "POST", "/healthz/x", [], 401),
        ("wrong proxy key", "GET", "/v1/models", [("Authorization", "Bearer nope")], 401),
        ("health needs no key", "GET", "/healthz", [], 200),
        ("readiness needs no key", "GET", "/readyz", [], 200),
        ("the root needs no key", "GET", "/", [], 200),
        ("the root by HEAD", "HEAD", "/", [], 200),
        ("the root takes GET and HEAD only", "POST", "/", [auth], 405),
        ("405 before 404", "POST", "/metrics", [auth], 405),
        ("unknown route", "GET", "/v1/nothing", [auth], 404),
        ("unknown provider", "GET", "/nobody/v1/models", [auth], 404),
        ("unknown provider before a bad path", "GET", "/nobody/v1/../x", [auth], 404),
        ("bad path before a refused path", "GET", "/fake/v1/%2e%2e/admin", [auth], 400),
        ("refused path", "GET", "/fake/v2/models", [auth], 403),
        ("unknown prebuilt provider", "POST", "/provider/nobody/v1/chat/completions", [auth], 404),
        ("refused generic host", "POST", "/proxy/https://evil.example/v1/chat/completions", [auth], 403),
        ("malformed generic base", "POST", "/proxy/ftp://x/v1/chat/completions", [auth], 400),
    ]

    @Test("checks run in this order: 401, 405, 404, 400, 403", arguments: order)
    func checkOrder(name: String, method: String, target: String, headers: [(String, String)], expected: Int) {
        #expect(status(decide(method, target, headers: headers)) == expected)
    }

    @Test("the root GET / names the service and its version")
    func root() throws {
        let d = decide("GET", "/")
        guard case .respond(let r) = d.action else { Issue.record(); return }
        let body = try JSONValue.parse(r.body)
        #expect(body["service"]?.stringValue == "proxyd" && body["version"]?.stringValue == Version.string)
        #expect(d.route == "root")
    }

    @Test("405 carries Allow")
    func allowHeader() {
        guard case .respond(let r) = decide("DELETE", "/v1/models").action else { Issue.record(); return }
        #expect(r.headers["Allow"] == "GET")
    }

    @Test("errors are in the OpenAI shape and carry the request id")
    func errorShape() throws {
        guard case .respond(let r) = decide("GET", "/fake/v2/x").action else { Issue.record(); return }
        let body = try JSONValue.parse(r.body)
        #expect(body["error"]?["type"]?.stringValue == "permission_error")
        #expect(body["error"]?["code"]?.stringValue == "path_not_allowed")
        #expect(body["error"]?["message"]?.stringValue?.isEmpty == false)
        #expect(r.headers["x-request-id"] == "new-id")
    }

    @Test("pass-through: base URL plus the raw rest and query; the provider's key; the proxy key never forwarded")
    func passThrough() throws {
        let p = try plan(decide("GET", "/fake/v1/models/a%20b?limit=2&x=%2F"))
        let a = try #require(p.attempts.first)
        #expect(a.url.description == "http://127.0.0.1:9/v1/models/a%20b?limit=2&x=%2F")
        #expect(a.headers.values("Authorization") == ["Bearer sk-fake-secret"])
        #expect(!p.isChatCompletion)
        #expect(try plan(decide("POST", "/fake/v1/chat/completions", body: "{}")).isChatCompletion)
    }

    @Test("prebuilt provider: chatCompletionsUrl unchanged, the client's query appended with &")
    func prebuilt() throws {
        let a = try #require(try plan(decide("POST", "/provider/other/v1/chat/completions?y=2", body: "{}")).attempts.first)
        #expect(a.url.description == "https://other.example/chat?x=1&y=2")
        #expect(a.label == "other")
    }

    @Test("generic forwarder sends no configured key, only the client's own")
    func genericNoConfiguredKey() throws {
        let cfg = try ConfigurationLoader.load(file: Array(#"{"inheritDefaults": false, "providers": {"fake": {"baseUrl": "http://127.0.0.1:9", "apiKey": "sk-fake-secret"}}}"#.utf8), environment: [:])
        let d = Gateway(configuration: cfg).decide(
            IncomingRequest(method: "POST", target: "/proxy/http://127.0.0.1:9/v1/chat/completions",
                            headers: HTTPHeaders([("Authorization", "Bearer client-own")]), body: Array("{}".utf8)),
            context: RequestContext(newRequestID: "n"))
        let a = try #require(try plan(d).attempts.first)
        #expect(a.headers.values("Authorization") == ["Bearer client-own"])
        #expect(a.url.description == "http://127.0.0.1:9/v1/chat/completions")
    }

    @Test("chat completions: catalog candidates by priority")
    func candidatesByPriority() throws {
        let p = try plan(decide("POST", "/v1/chat/completions", body: #"{"model":"shared","messages":[]}"#))
        #expect(p.attempts.map(\.label) == ["other", "fake"])
    }

    @Test("chat completions: a provider/model prefix is stripped from the forwarded model, the rest byte for byte")
    func prefixRewrite() throws {
        let body = #"{ "messages" : [ {"role":"user","content":"h\u00e9"} ], "model" : "fake/some-model", "temperature": 0.70 }"#
        let a = try #require(try plan(decide("POST", "/v1/chat/completions", body: body)).attempts.first)
        #expect(String(decoding: a.body, as: UTF8.self) == body.replacing("\"fake/some-model\"", with: "\"some-model\""))
        #expect(a.url.description == "http://127.0.0.1:9/v1/chat/completions")
    }

    @Test("chat completions: bad JSON and a missing model are 400; an unknown model is 404", arguments: [
        ("{", 400), (#"{"messages":[]}"#, 400), (#"{"model": 5}"#, 400), (#"[1]"#, 400), (#"{"model":"nobody-serves-this"}"#, 404),
    ])
    func chatErrors(body: String, expected: Int) {
        #expect(status(decide("POST", "/v1/chat/completions", body: body)) == expected)
    }

    @Test("the dry run explains the decision with every secret redacted")
    func dryRun() throws {
        guard case .respond(let r) = decide("GET", "/debug/fake/v1/models", headers: [Self.auth, ("X-Trace", "t")]).action else { Issue.record(); return }
        let text = String(decoding: r.body, as: UTF8.self)
        let j = try JSONValue.parse(r.body)
        #expect(j["route"]?.stringValue == "passthrough" && j["provider"]?.stringValue == "fake")
        #expect(j["upstream_url"]?.stringValue == "http://127.0.0.1:9/v1/models")
        #expect(j["allowed"]?.boolValue == true && j["matched_pattern"]?.stringValue == "/v1/*")
        #expect(j["headers"]?["Authorization"]?.stringValue == "[redacted]")
        #expect(!text.contains("sk-fake-secret") && !text.contains("proxy-key"))
        guard case .respond(let refused) = decide("GET", "/debug/fake/v2/x").action else { Issue.record(); return }
        let jr = try JSONValue.parse(refused.body)
        #expect(jr["allowed"]?.boolValue == false && jr["status"]?.intValue == 403 && jr["reason"]?.stringValue?.isEmpty == false)
    }

    @Test("explain (proxyd route) covers every route family without leaking keys")
    func explain() throws {
        let g = Self.gateway
        let pass = g.explain(method: "GET", path: "/claude/v1/models", model: nil)
        #expect(pass["headers"]?["x-api-key"]?.stringValue == "[redacted]")
        #expect(!pass.jsonText.contains("literal-anthropic-key"))
        let chat = g.explain(method: "POST", path: "/v1/chat/completions", model: "shared", headers: HTTPHeaders([Self.auth]))
        #expect(chat["candidates"]?.arrayValue?.count == 2)
        #expect(g.explain(method: "GET", path: "/nope/x", model: nil)["status"]?.intValue == 404)
    }
}
