import ProxyCore
import Testing

@Suite("Generic forwarder target and host allow list")
struct GenericTargetTests {
    static let allowlist = HostAllowlist.parse(["llm.chutes.ai", "*.openai.com", "internal.example:8443", "*.corp.example:9000"]).0

    static func status(_ base: String) -> Int {
        switch GenericTarget.resolve(rawBase: base[...], query: nil, allowlist: allowlist) {
        case .success: return 200
        case .failure(let e): return e.status
        }
    }

    static let cases: [(String, String, Int)] = [
        ("listed host", "https://llm.chutes.ai", 200),
        ("listed host with a prefix", "https://llm.chutes.ai/api", 200),
        ("host case-insensitive", "https://LLM.Chutes.AI", 200),
        ("one trailing dot", "https://llm.chutes.ai.", 200),
        ("collapsed scheme slashes", "https:/llm.chutes.ai", 200),
        ("percent-encoded base", "https%3A%2F%2Fllm.chutes.ai", 200),
        ("explicit default port", "https://llm.chutes.ai:443", 200),
        ("wildcard subdomain", "https://api.openai.com", 200),
        ("wildcard deeper subdomain", "https://eu.api.openai.com", 200),
        ("host:port entry on its port", "https://internal.example:8443", 200),
        ("*.suffix:port entry on its port", "http://a.corp.example:9000", 200),
        // refused hosts: 403
        ("wildcard does not match the suffix itself", "https://openai.com", 403),
        ("look-alike suffix", "https://evilopenai.com", 403),
        ("allowed name as a subdomain of another", "https://llm.chutes.ai.evil.com", 403),
        ("prefix trick", "https://evilllm.chutes.ai", 403),
        ("other port than listed", "https://llm.chutes.ai:8443", 403),
        ("host:port entry on the default port", "https://internal.example", 403),
        ("*.suffix:port on another port", "http://a.corp.example:9001", 403),
        ("loopback name", "http://localhost", 403),
        ("canonical loopback address not listed", "http://127.0.0.1", 403),
        ("metadata address not listed", "http://169.254.169.254", 403),
        ("IPv6 loopback not listed", "http://[::1]", 403),
        ("IPv4-mapped IPv6 not listed", "http://[::ffff:127.0.0.1]", 403),
        // malformed or non-canonical: 400
        ("hex IPv4", "http://0x7f.0.0.1", 400),
        ("hex whole IPv4", "http://0x7f000001", 400),
        ("decimal IPv4", "http://2130706433", 400),
        ("short IPv4", "http://127.1", 400),
        ("octal IPv4", "http://0177.0.0.1", 400),
        ("IPv4 octet out of range", "http://256.0.0.1", 400),
        ("userinfo", "https://llm.chutes.ai@evil.com", 400),
        ("userinfo with password", "https://user:pw@llm.chutes.ai", 400),
        ("fragment trick", "https://evil.com#@llm.chutes.ai", 400),
        ("other scheme", "ftp://llm.chutes.ai", 400),
        ("file scheme", "file:///etc/passwd", 400),
        ("port out of range", "https://llm.chutes.ai:99999", 400),
        ("empty port", "https://llm.chutes.ai:", 400),
        ("non-numeric port", "https://llm.chutes.ai:https", 400),
        ("non-ASCII host", "https://ｌｌｍ.chutes.ai", 400),
        ("encoded non-ASCII host", "https%3A%2F%2F%EF%BD%8Clm.chutes.ai", 400),
        ("encoded dot decodes once to the listed host", "https://llm%2echutes.ai", 200),
        ("double-encoded host stays encoded and is refused", "https://llm%252echutes.ai", 400),
        ("encoded form of an unlisted host", "http%3A%2F%2F127.0.0.1", 403),
        ("empty label", "https://llm..chutes.ai", 400),
        ("backslash", "https://llm.chutes.ai\\@evil.com", 400),
        ("dot segment in prefix", "https://llm.chutes.ai/../admin", 400),
        ("bad escape", "https%3A%2F%2Fllm.chutes.ai%zz", 400),
        ("no scheme", "llm.chutes.ai", 400),
    ]

    @Test("allow list decisions", arguments: cases)
    func decision(name: String, base: String, expected: Int) {
        #expect(Self.status(base) == expected)
    }

    @Test("the target is the base URL followed by /v1/chat/completions and the client's query")
    func targetURL() throws {
        let url = try GenericTarget.resolve(rawBase: "https:/llm.chutes.ai/api"[...], query: "a=1&b=2"[...], allowlist: Self.allowlist).get()
        #expect(url.description == "https://llm.chutes.ai/api/v1/chat/completions?a=1&b=2")
    }

    @Test("by default the allow list holds the configured providers' hosts")
    func defaultAllowlist() throws {
        let c = try ConfigurationLoader.load(file: nil, environment: [:])
        let list = c.genericProxy.allowedHosts
        #expect(list.allows(host: "llm.chutes.ai", port: nil, scheme: .https))
        #expect(list.allows(host: "api.openai.com", port: nil, scheme: .https))
        #expect(!list.allows(host: "127.0.0.1", port: nil, scheme: .http))
        #expect(!list.allows(host: "llm.chutes.ai", port: 8080, scheme: .https))
    }
}
