import ProxyCore
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    func load(_ json: String, env: [String: String] = [:], overrides: CommandLineOverrides = CommandLineOverrides()) throws(ConfigurationError) -> Configuration {
        try ConfigurationLoader.load(file: Array(json.utf8), environment: env, overrides: overrides)
    }

    func problems(_ json: String, env: [String: String] = [:]) -> [String] {
        do { _ = try load(json, env: env); return [] } catch { return error.problems }
    }

    @Test("with no file: the built-in table, 127.0.0.1:8080, keys from the environment")
    func builtInDefaults() throws {
        let c = try ConfigurationLoader.load(file: nil, environment: ["OPENAI_API_KEY": "sk-test"])
        #expect(c.server.listenHost == "127.0.0.1" && c.server.listenPort == 8080)
        #expect(c.server.workers == 0 && c.server.maxBodyBytes == 10_485_760 && c.server.maxHeaderBytes == 65536)
        #expect(c.providers.map(\.id) == ["openai", "anthropic", "openrouter", "chutes", "fireworks", "together", "groq", "deepseek", "mistral"])
        #expect(c.provider("openai")?.apiKey == "sk-test")
        #expect(c.provider("anthropic")?.apiKey == nil)
        #expect(c.provider("anthropic")?.dialect.name == "anthropic")
        #expect(c.provider("anthropic")?.chatCompletionsURL.description == "https://api.anthropic.com/v1/messages")
        #expect(c.provider("openrouter")?.chatCompletionsURL.description == "https://openrouter.ai/api/v1/chat/completions")
        #expect(c.provider("chutes")?.chatCompletionsURL.description == "https://llm.chutes.ai/v1/chat/completions")
        #expect(c.provider("openai")?.priority == 100 && c.provider("openai")?.timeoutSeconds == 60)
        #expect(c.think.mode == .split && c.think.field == "reasoning_content" && c.think.tags == ["think"])
        #expect(!c.debugRoutes && c.genericProxy.enabled)
    }

    @Test("a file entry merges key by key over the built-in provider of that name")
    func mergeOverBuiltIn() throws {
        let c = try load(#"{"providers": {"openrouter": {"priority": 5, "models": ["deepseek/deepseek-r1"]}, "local": {"baseUrl": "http://127.0.0.1:9000"}}}"#)
        let p = try #require(c.provider("openrouter"))
        #expect(p.priority == 5 && p.models == ["deepseek/deepseek-r1"])
        #expect(p.baseURL.description == "https://openrouter.ai" && p.supportsNativeUsdCost)
        #expect(c.providers.last?.id == "local")
        #expect(c.provider("local")?.chatCompletionsURL.description == "http://127.0.0.1:9000/v1/chat/completions")
        #expect(c.provider("local")?.allowedPaths.patterns.isEmpty == true)
    }

    @Test("inheritDefaults false starts from an empty table")
    func noInherit() throws {
        let c = try load(#"{"inheritDefaults": false, "providers": {"a": {"baseUrl": "https://a.example"}}}"#)
        #expect(c.providers.map(\.id) == ["a"])
    }

    @Test("precedence: flags beat PROXYD_LISTEN, which beats the file")
    func precedence() throws {
        let file = #"{"server": {"listen": "127.0.0.1:7000", "workers": 3}}"#
        #expect(try load(file).server.listenPort == 7000)
        #expect(try load(file, env: ["PROXYD_LISTEN": "0.0.0.0:7001"]).server.listenPort == 7001)
        let c = try load(file, env: ["PROXYD_LISTEN": "0.0.0.0:7001"], overrides: CommandLineOverrides(listen: "127.0.0.1:7002", workers: 1))
        #expect(c.server.listenPort == 7002 && c.server.workers == 1)
    }

    @Test("MODEL_LIST_URL replaces modelList.url and .file, and creates the section")
    func modelListEnv() throws {
        let c = try load(#"{"modelList": {"file": "/tmp/x.json", "refreshSeconds": 60}}"#, env: ["MODEL_LIST_URL": "https://m.example/list.json"])
        #expect(c.modelList?.source == .url(try UpstreamURL.parse("https://m.example/list.json")))
        #expect(c.modelList?.refreshSeconds == 60)
        #expect(try load("{}", env: ["MODEL_LIST_URL": "http://m.example/l"]).modelList != nil)
    }

    @Test("auth.keys: literals and env: references")
    func authKeys() throws {
        let c = try load(#"{"auth": {"keys": ["literal-key", "env:PROXYD_KEY"]}}"#, env: ["PROXYD_KEY": "from-env"])
        #expect(c.authKeys == ["literal-key", "from-env"])
    }

    static let errors: [(String, String, [String])] = [
        ("star not at the end", #"{"providers": {"openrouter": {"allowedPaths": ["/a", "/b", "/api/*/x"]}}}"#,
         ["providers.openrouter.allowedPaths[2]: '*' may only end a pattern"]),
        ("pattern without a leading slash", #"{"providers": {"openai": {"allowedPaths": ["v1/*"]}}}"#,
         ["providers.openai.allowedPaths[0]: must start with '/'"]),
        ("unknown top-level key", #"{"serverz": {}}"#, ["serverz: unknown key"]),
        ("unknown nested key", #"{"server": {"listen": "127.0.0.1:1", "port": 1}}"#, ["server.port: unknown key"]),
        ("unknown provider key", #"{"providers": {"openai": {"baseURL": "https://x"}}}"#, ["providers.openai.baseURL: unknown key"]),
        ("wrong type", #"{"server": {"workers": "two"}}"#, ["server.workers: must be an integer, not string"]),
        ("wrong type for a list", #"{"auth": {"keys": "k"}}"#, ["auth.keys: must be an array, not string"]),
        ("baseUrl not http(s)", #"{"providers": {"x": {"baseUrl": "ftp://x.example"}}}"#,
         ["providers.x.baseUrl: must be an absolute http(s) URL: scheme must be http or https"]),
        ("baseUrl relative", #"{"providers": {"x": {"baseUrl": "/v1"}}}"#,
         ["providers.x.baseUrl: must be an absolute http(s) URL: is not an absolute URL"]),
        ("baseUrl missing", #"{"inheritDefaults": false, "providers": {"x": {"api": "openai"}}}"#, ["providers.x.baseUrl: is required"]),
        ("reserved provider id", #"{"providers": {"metrics": {"baseUrl": "https://m.example"}}}"#,
         ["providers.metrics: 'metrics' is reserved for proxyd's own routes and cannot be a provider id"]),
        ("unset auth key variable", #"{"auth": {"keys": ["env:NOPE_UNSET"]}}"#, ["auth.keys[0]: environment variable NOPE_UNSET is not set"]),
        ("url and file together", #"{"modelList": {"url": "https://m.example/l", "file": "/tmp/l"}}"#, ["modelList: url and file cannot both be set"]),
        ("bad think mode", #"{"think": {"mode": "hide"}}"#, ["think.mode: must be split, strip or off"]),
        ("bad api", #"{"providers": {"x": {"baseUrl": "https://x.example", "api": "gemini"}}}"#, ["providers.x.api: must be openai or anthropic"]),
        ("bad listen", #"{"server": {"listen": "8080"}}"#, ["server.listen: must be HOST:PORT"]),
        ("bad allowed host", #"{"genericProxy": {"allowedHosts": ["a.example:http"]}}"#, ["genericProxy.allowedHosts[0]: malformed port"]),
        ("every problem is reported", #"{"server": {"workers": -1}, "debugRoutes": "yes"}"#,
         ["server.workers: must be at least 0", "debugRoutes: must be a boolean, not string"]),
    ]

    @Test("load errors name their key path", arguments: errors)
    func loadErrors(name: String, json: String, expected: [String]) {
        #expect(problems(json) == expected)
    }

    @Test("not JSON, or not an object")
    func notJSON() {
        #expect(problems("{").first?.hasPrefix("configuration is not valid JSON") == true)
        #expect(problems("[]") == ["configuration must be a JSON object, not array"])
    }
}
