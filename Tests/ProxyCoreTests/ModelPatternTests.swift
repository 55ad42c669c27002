@testable import ProxyCore
import Testing

@Suite("models patterns and the built-in prefixes")
struct ModelPatternTests {
    /// The upstream URLs of the candidates for `model`, in order, as the dry run shows them.
    func candidates(_ g: Gateway, _ model: String) -> [String] {
        let e = g.explain(method: "POST", path: "/v1/chat/completions", model: model)
        return e["candidates"]?.arrayValue?.compactMap { $0["upstream_url"]?.stringValue } ?? []
    }

    func providers(_ g: Gateway, _ model: String) -> [String] {
        let e = g.explain(method: "POST", path: "/v1/chat/completions", model: model)
        return e["candidates"]?.arrayValue?.compactMap { $0["provider"]?.stringValue } ?? []
    }

    static let builtin: [(String, String)] = [
        ("gpt-4o-mini", "https://api.openai.com/v1/chat/completions"),
        ("gpt-4.1", "https://api.openai.com/v1/chat/completions"),
        ("o3-mini", "https://api.openai.com/v1/chat/completions"),
        ("o1", "https://api.openai.com/v1/chat/completions"),
        ("chatgpt-4o-latest", "https://api.openai.com/v1/chat/completions"),
        ("claude-sonnet-4-5", "https://api.anthropic.com/v1/messages"),
        ("claude-3-7-sonnet-20250219", "https://api.anthropic.com/v1/messages"),
        ("deepseek-chat", "https://api.deepseek.com/chat/completions"),
        ("deepseek-reasoner", "https://api.deepseek.com/chat/completions"),
        ("mistral-large-latest", "https://api.mistral.ai/v1/chat/completions"),
        ("codestral-latest", "https://api.mistral.ai/v1/chat/completions"),
    ]

    @Test("with no file, each built-in prefix routes to its provider", arguments: builtin)
    func builtinPrefixes(model: String, url: String) throws {
        let g = Gateway(configuration: try ConfigurationLoader.load(file: nil, environment: [:]))
        #expect(candidates(g, model) == [url])
        // Patterns are not listed: the built-in table alone lists no models.
        #expect(g.catalog.listing["data"]?.arrayValue?.isEmpty == true)
    }

    @Test("exact ids beat patterns; among patterns the longest prefix wins, then priority, then file order")
    func order() throws {
        let c = try ConfigurationLoader.load(file: Array("""
            {"inheritDefaults": false, "providers": {
              "broad": {"baseUrl": "https://broad.example", "models": ["gpt-*"], "priority": 1},
              "narrow": {"baseUrl": "https://narrow.example", "models": ["gpt-4o-*"], "priority": 50},
              "exact": {"baseUrl": "https://exact.example", "models": ["gpt-4o-mini"], "priority": 99},
              "tie1": {"baseUrl": "https://tie1.example", "models": ["m-*"], "priority": 5},
              "tie2": {"baseUrl": "https://tie2.example", "models": ["m-*"], "priority": 5},
              "low": {"baseUrl": "https://low.example", "models": ["m-*"], "priority": 1}
            }}
            """.utf8), environment: [:])
        let g = Gateway(configuration: c)
        #expect(providers(g, "gpt-4o-mini") == ["exact"])
        #expect(providers(g, "gpt-4o-2024") == ["narrow", "broad"])
        #expect(providers(g, "gpt-3.5-turbo") == ["broad"])
        #expect(providers(g, "m-1") == ["low", "tie1", "tie2"])
        #expect(providers(g, "other").isEmpty)
        // The model goes upstream as the client named it.
        let e = g.explain(method: "POST", path: "/v1/chat/completions", model: "gpt-3.5-turbo")
        #expect(e["upstream_url"]?.stringValue == "https://broad.example/v1/chat/completions")
        #expect(g.catalog.listing["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["gpt-4o-mini"])
    }

    @Test("a file's models replace the built-in prefixes of that provider")
    func fileReplacesPrefixes() throws {
        let c = try ConfigurationLoader.load(file: Array(#"{"providers": {"openai": {"models": ["only-this"]}}}"#.utf8), environment: [:])
        let g = Gateway(configuration: c)
        #expect(providers(g, "gpt-4o-mini").isEmpty)
        #expect(providers(g, "only-this") == ["openai"])
        #expect(providers(g, "claude-haiku-4-5") == ["anthropic"])
    }

    @Test("a '*' anywhere but at the end, or alone, is a load error naming the key")
    func badPatterns() {
        do {
            _ = try ConfigurationLoader.load(file: Array(#"{"providers": {"openai": {"models": ["gpt-*-mini", "*", "ok-*"]}}}"#.utf8), environment: [:])
            Issue.record("loaded")
        } catch {
            #expect(error.problems.contains("providers.openai.models[0]: '*' may only end a pattern"))
            #expect(error.problems.contains("providers.openai.models[1]: must name a model or a prefix ending in '*'"))
            #expect(error.problems.count == 2)
        }
    }

    @Test("the dry run explains an Anthropic provider's model instead of refusing the stand-in request")
    func explainAnthropic() throws {
        let g = Gateway(configuration: try ConfigurationLoader.load(file: nil, environment: [:]))
        let e = g.explain(method: "POST", path: "/v1/chat/completions", model: "claude-sonnet-4-5")
        #expect(e["allowed"]?.boolValue == true && e["provider"]?.stringValue == "anthropic")
        #expect(e["upstream_url"]?.stringValue == "https://api.anthropic.com/v1/messages")
    }

    @Test("RFC 3339 times from Unix seconds", arguments: [
        (0, "1970-01-01T00:00:00Z"), (1_700_000_000, "2023-11-14T22:13:20Z"), (951_782_400, "2000-02-29T00:00:00Z"),
        (1_739_923_200, "2025-02-19T00:00:00Z"), (4_107_542_399, "2100-02-28T23:59:59Z"),
    ])
    func rfc3339(seconds: Int, text: String) {
        #expect(ModelCatalog.rfc3339(seconds) == text)
    }
}
