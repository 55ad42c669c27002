import FakeUpstream
import Glibc
import ProxyCore
import Testing

@Suite("Routing policy end to end")
struct PolicyEndToEndTests {
    static let config = """
    {"inheritDefaults": false,
     "providers": {
       "keyed": {"baseUrl": "http://FAKE", "allowedPaths": ["/v1/*"], "apiKey": "env:KEYED_KEY"},
       "open": {"baseUrl": "http://FAKE", "allowedPaths": ["/v1/*"]},
       "anth": {"baseUrl": "http://FAKE", "api": "anthropic", "allowedPaths": ["/v1/*"], "apiKey": "env:ANTH_KEY"},
       "strict": {"baseUrl": "http://FAKE", "allowedPaths": ["/v1/*"], "apiKey": "env:UNSET_KEY", "requiresApiKey": true}
     }}
    """
    static let env = ["KEYED_KEY": "sk-keyed-secret", "ANTH_KEY": "ak-anth-secret"]

    @Test("refused paths and hosts never reach the upstream", arguments: [
        ("GET", "/keyed/v2/models", 403), ("GET", "/keyed/v1/%2e%2e/admin", 400), ("GET", "/keyed/v1//x", 400),
        ("GET", "/keyed/v1/a%5cb", 400), ("POST", "/proxy/http://127.0.0.2:1/v1/chat/completions", 403),
        ("POST", "/proxy/http://0x7f.0.0.1/v1/chat/completions", 400), ("GET", "/nobody/v1/models", 404),
        ("GET", "/keyed", 404),
    ])
    func refusedNeverForwarded(method: String, target: String, expected: Int) throws {
        let h = try Harness(config: Self.config, environment: Self.env)
        let c = try TestConnection(port: h.port)
        try c.sendRaw(Array("\(method) \(target) HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}".utf8))
        let head = try c.readHead()
        #expect(head.status == expected)
        let body = try c.readBody(head)
        #expect(try JSONValue.parse(body)["error"]?["message"]?.stringValue?.isEmpty == false)
        #expect(h.fake.requests.isEmpty)
    }

    @Test("keys reach the upstream only where the rules say")
    func keys() throws {
        let h = try Harness(config: Self.config, environment: Self.env)
        let client = [("Authorization", "Bearer client-own-key")]
        _ = try httpRequest(port: h.port, "GET", "/keyed/v1/models", headers: client)
        #expect(h.fake.requests.last?.headers.values("Authorization") == ["Bearer sk-keyed-secret"])
        _ = try httpRequest(port: h.port, "GET", "/open/v1/models", headers: client)
        #expect(h.fake.requests.last?.headers.values("Authorization") == ["Bearer client-own-key"])
        _ = try httpRequest(port: h.port, "GET", "/anth/v1/models", headers: client)
        let anth = try #require(h.fake.requests.last?.headers)
        #expect(anth["x-api-key"] == "ak-anth-secret" && anth["anthropic-version"] == "2023-06-01" && !anth.contains("Authorization"))
        _ = try httpRequest(port: h.port, "POST", "/proxy/http://127.0.0.1:\(h.fakePort)/v1/chat/completions", headers: client,
                            body: #"{"model":"m"}"#)
        #expect(h.fake.requests.last?.headers.values("Authorization") == ["Bearer client-own-key"])
        _ = try httpRequest(port: h.port, "POST", "/proxy/http://127.0.0.1:\(h.fakePort)/v1/chat/completions", body: #"{"model":"m"}"#)
        #expect(h.fake.requests.last?.headers.contains("Authorization") == false)
        let (strict, body) = try httpRequest(port: h.port, "GET", "/strict/v1/models")
        #expect(strict.status == 401 && body.contains("UNSET_KEY"))
        #expect(h.fake.requests.count == 5)
        // No key value appears in proxyd's logs.
        for secret in ["sk-keyed-secret", "ak-anth-secret", "client-own-key"] { #expect(!h.log.contains(secret)) }
    }

    @Test("with auth.keys the proxy key is required, checked, and never forwarded")
    func proxyKeys() throws {
        let config = Self.config.replacing(#""inheritDefaults": false,"#, with: #""inheritDefaults": false, "auth": {"keys": ["env:PROXY_KEY"]},"#)
        let h = try Harness(config: config, environment: Self.env.merging(["PROXY_KEY": "pk-gate"]) { a, _ in a })
        let (noKey, _) = try httpRequest(port: h.port, "GET", "/open/v1/models")
        #expect(noKey.status == 401)
        let (badKey, _) = try httpRequest(port: h.port, "GET", "/open/v1/models", headers: [("Authorization", "Bearer pk-wrong")])
        #expect(badKey.status == 401)
        let (health, _) = try httpRequest(port: h.port, "GET", "/healthz")
        #expect(health.status == 200)
        #expect(h.fake.requests.isEmpty)
        let (ok, _) = try httpRequest(port: h.port, "GET", "/open/v1/models", headers: [("Authorization", "Bearer pk-gate")])
        #expect(ok.status == 200)
        #expect(h.fake.requests.last?.headers.contains("Authorization") == false)
        let (keyed, _) = try httpRequest(port: h.port, "GET", "/keyed/v1/models", headers: [("Authorization", "Bearer pk-gate")])
        #expect(keyed.status == 200)
        #expect(h.fake.requests.last?.headers.values("Authorization") == ["Bearer sk-keyed-secret"])
        #expect(!h.log.contains("pk-gate"))
    }

    @Test("the generic forwarder accepts the three spellings of its base URL")
    func genericSpellings() throws {
        let h = try Harness(config: Self.config, environment: Self.env)
        let base = "http://127.0.0.1:\(h.fakePort)"
        let encoded = "http%3A%2F%2F127.0.0.1%3A\(h.fakePort)"
        for spelling in [base, "http:/127.0.0.1:\(h.fakePort)", encoded] {
            let c = try TestConnection(port: h.port)
            let body = #"{"model":"m1"}"#
            try c.sendRaw(Array("POST /proxy/\(spelling)/v1/chat/completions?q=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8))
            let head = try c.readHead()
            #expect(head.status == 200, "\(spelling)")
            _ = try c.readBody(head)
            #expect(h.fake.requests.last?.target == "/v1/chat/completions?q=1")
        }
    }
}
