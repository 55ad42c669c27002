@testable import ProxyCore
import Testing

@Suite("Model list, catalog and candidates")
struct CatalogTests {
    static let config = #"""
    {"inheritDefaults": false,
     "providers": {
       "fireworks": {"baseUrl": "https://api.fireworks.ai/inference", "priority": 20, "models": ["static-only"]},
       "together": {"baseUrl": "https://api.together.xyz", "priority": 10, "supportsNativeUsdCost": true},
       "anthropic": {"baseUrl": "https://api.anthropic.com", "api": "anthropic"},
       "autoA": {"baseUrl": "https://a.example", "autoDetect": true, "priority": 5},
       "autoB": {"baseUrl": "https://b.example", "autoDetect": true, "priority": 5},
       "autoC": {"baseUrl": "https://c.example", "autoDetect": true, "priority": 1}
     }}
    """#
    static let configuration = try! ConfigurationLoader.load(file: Array(config.utf8), environment: [:])
    static let providers = Set(configuration.providers.map(\.id))

    static let list = #"""
    [
      {"model_version": "deepseek-r1", "model_family": "deepseek", "handle": "/fireworks/v1/chat/completions", "prompt_price_1k": 0.003, "completion_price_1k": 0.008},
      {"model_version": "deepseek-r1", "handle": "/together/v1/chat/completions", "prompt_price_1k": 0.002, "completion_price_1k": 0.006},
      {"model_version": "claude-3-7-sonnet-20250219", "model_family": "claude-3", "handle": "/anthropic/v1/messages", "prompt_price_1k": 0.003, "completion_price_1k": 0.015},
      {"model_version": "ghost", "handle": "/nobody/v1/chat/completions"},
      {"model_version": "deepseek-r1", "handle": "/together/v1/other"},
      {"handle": "/together/v1/chat/completions"},
      {"model_version": "cheap", "handle": "/together/v1/chat/completions", "prompt_price_1k": "free"},
      {"model_version": "nohandle"},
      {"model_version": "bad-path", "handle": "/together/../admin"},
      "not an object"
    ]
    """#

    @Test("parsing: good entries kept, each bad one skipped with a warning that says why")
    func parsing() throws {
        let l = try ModelList.parse(Array(Self.list.utf8), providers: Self.providers)
        #expect(l.entries.map(\.model) == ["deepseek-r1", "deepseek-r1", "claude-3-7-sonnet-20250219"])
        #expect(l.entries[0].providerID == "fireworks" && l.entries[0].path == "/v1/chat/completions" && l.entries[0].family == "deepseek")
        #expect(l.warnings.count == 7)
        #expect(l.warnings.contains { $0.contains("unknown provider 'nobody'") })
        #expect(l.warnings.contains { $0.contains("duplicate") })
        #expect(l.warnings.contains { $0.contains("model_version missing") })
        #expect(l.warnings.contains { $0.contains("prompt_price_1k must be a non-negative number") })
        #expect(l.warnings.contains { $0.contains("handle missing") })
        #expect(l.warnings.contains { $0.contains("handle path refused") })
        #expect(l.warnings.contains { $0.contains("must be an object") })
    }

    @Test("malformed lists are refused whole", arguments: ["{", #"{"models": []}"#, "42"])
    func malformed(text: String) {
        #expect(throws: ModelList.Failure.self) { try ModelList.parse(Array(text.utf8), providers: Self.providers) }
    }

    @Test("the catalog: static models and the list, by priority, each model listed once")
    func catalog() throws {
        let l = try ModelList.parse(Array(Self.list.utf8), providers: Self.providers)
        let c = ModelCatalog(configuration: Self.configuration, modelList: l)
        #expect(c.entries(for: "deepseek-r1").map(\.providerID) == ["together", "fireworks"])
        #expect(c.entries(for: "deepseek-r1")[1].url.description == "https://api.fireworks.ai/inference/v1/chat/completions")
        #expect(c.entries(for: "static-only").map(\.url.description) == ["https://api.fireworks.ai/inference/v1/chat/completions"])
        #expect(c.entry(model: "deepseek-r1", provider: "fireworks")?.promptPrice1K == 0.003)
        #expect(c.entry(model: "deepseek-r1", provider: "together")?.promptPrice1K == 0.002)
        let data = try #require(c.listing["data"]?.arrayValue)
        #expect(data.map { $0["id"]?.stringValue } == ["static-only", "deepseek-r1", "claude-3-7-sonnet-20250219"])
        #expect(data[1]["owned_by"]?.stringValue == "together")
        #expect(data.allSatisfy { $0["object"]?.stringValue == "model" })
    }

    func candidates(_ model: String, remembered: String? = nil, cooling: Set<String> = []) throws -> [String] {
        let l = try ModelList.parse(Array(Self.list.utf8), providers: Self.providers)
        let g = Gateway(configuration: Self.configuration, modelList: l)
        let d = g.decide(IncomingRequest(method: "POST", target: "/v1/chat/completions", body: Array(#"{"model":"\#(model)"}"#.utf8)),
                         context: RequestContext(newRequestID: "r", rememberedProvider: { _ in remembered },
                                                 isCoolingDown: { cooling.contains($0) }))
        guard case .forward(let plan) = d.action else { return [] }
        return plan.attempts.map(\.label)
    }

    @Test("candidate order: catalog by priority, then provider/model, then auto-detect")
    func candidateOrder() throws {
        #expect(try candidates("deepseek-r1") == ["together", "fireworks"])
        #expect(try candidates("together/meta-llama") == ["together"])
        #expect(try candidates("unknown-model") == ["autoC", "autoA", "autoB"])
    }

    @Test("auto-detect tries the remembered provider first")
    func remembered() throws {
        #expect(try candidates("unknown-model", remembered: "autoB") == ["autoB", "autoC", "autoA"])
    }

    @Test("providers whose breaker is open are tried last")
    func coolingDown() throws {
        #expect(try candidates("deepseek-r1", cooling: ["together"]) == ["fireworks", "together"])
        #expect(try candidates("unknown-model", cooling: ["autoC"]) == ["autoA", "autoB", "autoC"])
    }

    @Test("prices belong to the entry: the same model costs differently at each provider")
    func prices() throws {
        let l = try ModelList.parse(Array(Self.list.utf8), providers: Self.providers)
        let g = Gateway(configuration: Self.configuration, modelList: l)
        let d = g.decide(IncomingRequest(method: "POST", target: "/v1/chat/completions", body: Array(#"{"model":"deepseek-r1"}"#.utf8)),
                         context: RequestContext(newRequestID: "r"))
        guard case .forward(let plan) = d.action else { Issue.record(); return }
        #expect(plan.attempts[0].prices == Usage.Prices(prompt1K: 0.002, completion1K: 0.006, nativeUSD: true))
        #expect(plan.attempts[1].prices == Usage.Prices(prompt1K: 0.003, completion1K: 0.008, nativeUSD: false))
    }
}

@Suite("Failover rule")
struct FailoverTests {
    static let cases: [(String, AttemptOutcome, Int, Bool)] = [
        ("connection error, more left", .connectionFailed("refused"), 1, true),
        ("timeout before the head, more left", .timedOut, 1, true),
        ("429, more left", .responded(status: 429), 1, true),
        ("500, more left", .responded(status: 500), 2, true),
        ("503, more left", .responded(status: 503), 1, true),
        ("504, more left", .responded(status: 504), 1, true),
        ("200", .responded(status: 200), 1, false),
        ("400 is the client's problem", .responded(status: 400), 1, false),
        ("401", .responded(status: 401), 1, false),
        ("404", .responded(status: 404), 1, false),
        ("connection error, none left", .connectionFailed("refused"), 0, false),
        ("503, none left", .responded(status: 503), 0, false),
    ]

    @Test("whether to try the next candidate", arguments: cases)
    func decision(name: String, outcome: AttemptOutcome, left: Int, expected: Bool) {
        #expect(FailoverPolicy.shouldTryNext(after: outcome, candidatesLeft: left) == expected)
    }

    @Test("verdicts on a response head", arguments: [
        (AttemptOutcome.responded(status: 503), 0, 2, FailoverPolicy.Verdict.tryNext),
        (.responded(status: 503), 1, 2, .giveUp),
        (.responded(status: 503), 0, 1, .commit),
        (.responded(status: 429), 0, 1, .commit),
        (.responded(status: 200), 0, 2, .commit),
        (.responded(status: 404), 1, 2, .commit),
    ])
    func verdicts(outcome: AttemptOutcome, index: Int, total: Int, expected: FailoverPolicy.Verdict) {
        #expect(FailoverPolicy.verdict(outcome, attempt: index, of: total) == expected)
    }

    @Test("a single candidate's own outcome is the answer: 502 or 504")
    func single() {
        #expect(FailoverPolicy.finalError(outcomes: [("a", .connectionFailed("refused"))]).status == 502)
        #expect(FailoverPolicy.finalError(outcomes: [("a", .timedOut)]).status == 504)
    }

    @Test("with several and none left: 503 naming each provider and what it got")
    func several() {
        let e = FailoverPolicy.finalError(outcomes: [("a", .connectionFailed("refused")), ("b", .timedOut), ("c", .responded(status: 503))])
        #expect(e.status == 503)
        #expect(e.message.contains("a: connection failed (refused)") && e.message.contains("b: timed out") && e.message.contains("c: HTTP 503"))
    }

    @Test("the circuit breaker opens after repeated failures, cools down, and closes on success")
    func breaker() {
        var b = CircuitBreaker(threshold: 3, coolDown: 30)
        for t in 0..<2 { b.record(provider: "a", failed: true, now: Double(t)) }
        #expect(!b.isCoolingDown("a", now: 2))
        b.record(provider: "a", failed: true, now: 2)
        #expect(b.isCoolingDown("a", now: 3) && b.isCoolingDown("a", now: 31.9))
        #expect(!b.isCoolingDown("a", now: 32.1))
        b.record(provider: "a", failed: true, now: 33)
        #expect(b.isCoolingDown("a", now: 34))
        b.record(provider: "a", failed: false, now: 70)
        #expect(!b.isCoolingDown("a", now: 71))
        #expect(!b.isCoolingDown("other", now: 0))
    }
}

@Suite("Usage and cost")
struct UsageTests {
    @Test("cost: tokens times the entry's prices per thousand")
    func arithmetic() {
        let u = Usage(promptTokens: 1500, completionTokens: 250)
        let cost = u.cost(prices: Usage.Prices(prompt1K: 0.003, completion1K: 0.015))
        #expect(abs((cost ?? 0) - (1.5 * 0.003 + 0.25 * 0.015)) < 1e-12)
        #expect(u.cost(prices: Usage.Prices()) == nil)
        #expect(Usage(promptTokens: 10, completionTokens: 0).cost(prices: Usage.Prices(prompt1K: 1)) == 0.01)
    }

    @Test("the upstream's own usage.cost is used as is when the provider supports it")
    func nativeCost() {
        let u = Usage(promptTokens: 1000, completionTokens: 1000, reportedCost: 0.0421)
        #expect(u.cost(prices: Usage.Prices(prompt1K: 1, completion1K: 1, nativeUSD: true)) == 0.0421)
        #expect(u.cost(prices: Usage.Prices(prompt1K: 1, completion1K: 1, nativeUSD: false)) == 2)
    }

    @Test("cost formatting", arguments: [(0.0, "0"), (0.0045, "0.0045"), (1.5, "1.5"), (0.00000012345, "0.0000001235"), (12.0, "12")])
    func format(value: Double, text: String) {
        #expect(CostFormat.string(value) == text)
    }

    @Test("usage is read from whole answers and from chunks")
    func reading() {
        let whole = Array(#"{"id":"x","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10,"cost":0.5}}"#.utf8)
        #expect(whole.withUnsafeBytes { Usage.ofCompletion($0) } == Usage(promptTokens: 7, completionTokens: 3, reportedCost: 0.5))
        let nullUsage = Array(#"{"choices":[{"index":0,"delta":{"content":"\"usage\":{"}}],"usage":null}"#.utf8)
        #expect(nullUsage.withUnsafeBytes { Usage.ofChunk($0) } == nil)
        let odd = Array(#"{"usage":{"prompt_tokens":7.0,"completion_tokens":"3","cost":null},"x":1}"#.utf8)
        #expect(odd.withUnsafeBytes { Usage.ofCompletion($0) } == Usage(promptTokens: 7))
        let negative = Array(#"{"usage":{"prompt_tokens":-1,"completion_tokens":1e20}}"#.utf8)
        #expect(negative.withUnsafeBytes { Usage.ofCompletion($0) } == nil)
        // Malformed before a usage member that is not the last: nothing is read.
        let broken = Array(#"{"choices":[}],"usage":{"prompt_tokens":7},"x":1}"#.utf8)
        #expect(broken.withUnsafeBytes { Usage.ofCompletion($0) } == nil)
    }

    @Test("usage read from the end of a body agrees with walking its members, over generated bodies")
    func trailingUsageProperty() {
        let members = [#""id":"c""#, #""choices":[{"message":{"content":"a,\"usage\":{\"prompt_tokens\":9}}"}}]"#,
                       #""usage":{"prompt_tokens":3,"completion_tokens":4}"#, #""usage":{ "prompt_tokens" : 5 }"#,
                       #""x":{"usage":{"prompt_tokens":6}}"#, #""usage":null"#, #""usage":{"cost":0.5,"nested":{"prompt_tokens":1}}"#,
                       #""s":"{\"usage\":{\"prompt_tokens\":7}}""#, #""usage":{"prompt_tokens":"8"}"#, #""n":[1,{"usage":{"prompt_tokens":2}}]"#]
        var rng = SplitMix(seed: 19)
        var quick = 0
        for _ in 0..<3000 {
            var parts: [String] = []
            for _ in 0..<Int(rng.next() % 5) { parts.append(members[Int(rng.next() % UInt64(members.count))]) }
            let spaces = rng.next() % 2 == 0 ? "" : " \n"
            let bytes = Array(("{" + parts.joined(separator: "," + spaces) + spaces + "}" + spaces).utf8)
            let walked = bytes.withUnsafeBytes { Usage.ofCompletion($0, fromEnd: false) }
            let fromEnd = bytes.withUnsafeBytes { Usage.ofCompletion($0) }
            // Walking finds the first "usage" member, the quick look the last: they differ only
            // for a body with two, which JSON allows but no provider sends.
            if parts.filter({ $0.hasPrefix(#""usage""#) }).count <= 1 {
                #expect(fromEnd == walked, "\(String(decoding: bytes, as: UTF8.self))")
            }
            if bytes.withUnsafeBytes({ Usage.trailingUsageObject($0) }) != nil { quick += 1 }
        }
        #expect(quick > 300)  // the quick look was actually taken
    }

    @Test("the quick look for a usage object agrees with a plain search over generated chunks")
    func usageScanProperty() {
        // A plain reference: every `"usage"` followed by optional spaces and colons, then `{`.
        func reference(_ b: [UInt8]) -> Bool {
            let key = Array(#""usage""#.utf8)
            guard b.count > key.count else { return false }
            for i in 0..<(b.count - key.count) where Array(b[i..<(i + key.count)]) == key {
                var j = i + key.count
                while j < b.count, [0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ":")].contains(b[j]) { j += 1 }
                if j < b.count && b[j] == UInt8(ascii: "{") { return true }
            }
            return false
        }
        let pieces = [#"""#, "u", "s", "a", "g", "e", "usage", #""usage""#, ":", " ", "{", "}", "x", "ge\"", #""usage":"#, "null"]
        var rng = SplitMix(seed: 7)
        for _ in 0..<5000 {
            var text = ""
            for _ in 0..<Int(rng.next() % 12) { text += pieces[Int(rng.next() % UInt64(pieces.count))] }
            let bytes = Array(text.utf8)
            #expect(bytes.withUnsafeBytes { UsageScan.mayHaveUsageObject($0) } == reference(bytes), "\(text)")
        }
    }

    static let bodies: [(String, String, String?, Bool, String)] = [
        ("stream without stream_options gets it", #"{"model":"m","stream":true,"messages":[]}"#, nil, true,
         #"{"model":"m","stream":true,"messages":[],"stream_options":{"include_usage":true}}"#),
        ("include_usage false is overridden", #"{"stream":true,"stream_options":{"include_usage":false,"x":1},"model":"m"}"#, nil, true,
         #"{"stream":true,"stream_options":{"include_usage":true,"x":1},"model":"m"}"#),
        ("stream_options without include_usage", #"{ "model" : "m", "stream" : true, "stream_options" : { } }"#, nil, true,
         #"{ "model" : "m", "stream" : true, "stream_options" : {"include_usage":true} }"#),
        ("model rewritten, the rest byte for byte", #"{ "model":"p/m" , "temperature": 0.70, "messages":[{"content":"\u00e9"}]}"#, "m", false,
         #"{ "model":"m" , "temperature": 0.70, "messages":[{"content":"\u00e9"}]}"#),
    ]

    @Test("request bodies: only model and stream_options.include_usage change", arguments: bodies)
    func bodyEdits(name: String, input: String, model: String?, ask: Bool, expected: String) throws {
        let body = try #require(ChatRequestBody(Array(input.utf8)))
        #expect(String(decoding: body.edited(model: model, askForUsage: ask), as: UTF8.self) == expected)
    }

    @Test("who needs the usage chunk asked for", arguments: [
        (#"{"stream":true}"#, true), (#"{"stream":false}"#, false), (#"{}"#, false),
        (#"{"stream":true,"stream_options":{"include_usage":true}}"#, false),
        (#"{"stream":true,"stream_options":{"include_usage":false}}"#, true),
    ])
    func shouldAsk(input: String, expected: Bool) throws {
        #expect(try #require(ChatRequestBody(Array(input.utf8))).shouldAskForUsage == expected)
    }

    @Test("the usage chunk proxyd asked for is kept from the client, and counted")
    func hiddenUsageChunk() {
        let input = fixture("deepseek-r1-think.sse")
        for mode in [ThinkMode.split, .off] {
            let t = ChatStreamTransform(settings: ChatAnswerSettings(think: settings(mode).think, hideUsage: true))
            var out: [UInt8] = []
            input.withUnsafeBytes { _ = t.feed($0, into: &out) }
            t.finish(upstreamComplete: true, reason: "", into: &out)
            let text = String(decoding: out, as: UTF8.self)
            #expect(!text.contains("prompt_tokens"), "\(mode)")
            #expect(text.hasSuffix("data: [DONE]\n\n"))
            #expect(t.usage == Usage(promptTokens: 12, completionTokens: 31))
        }
        let shown = ChatStreamTransform(settings: settings(.off))
        var out: [UInt8] = []
        input.withUnsafeBytes { _ = shown.feed($0, into: &out) }
        #expect(out == input && shown.usage?.promptTokens == 12)
    }

    @Test("GET /v1/models/{id}: one model, percent-decoded once; created is when the id was first seen, kept across snapshots")
    func oneModel() throws {
        func list(_ ids: [String]) throws -> ModelList {
            let json = "[" + ids.map { #"{"model_version":"\#($0)","handle":"/fireworks/v1/chat/completions"}"# }.joined(separator: ",") + "]"
            return try ModelList.parse(Array(json.utf8), providers: CatalogTests.providers)
        }
        let l = try list(["deepseek/deepseek-r1"])
        let first = Gateway(configuration: CatalogTests.configuration, modelList: l, now: 1_700_000_000)
        func get(_ g: Gateway, _ path: String) throws -> (Int, JSONValue) {
            let d = g.decide(IncomingRequest(method: "GET", target: path),
                             context: RequestContext(newRequestID: "r", rememberedProvider: { _ in nil }, isCoolingDown: { _ in false }))
            guard case .respond(let r) = d.action else { throw Missing() }
            return (r.status, try JSONValue.parse(r.body))
        }
        let (status, model) = try get(first, "/v1/models/deepseek%2Fdeepseek-r1")
        #expect(status == 200 && model["id"]?.stringValue == "deepseek/deepseek-r1" && model["created"]?.intValue == 1_700_000_000)
        #expect(try get(first, "/v1/models/deepseek/deepseek-r1").1["owned_by"]?.stringValue == model["owned_by"]?.stringValue)
        #expect(try get(first, "/v1/models/no-such").0 == 404)
        #expect(try get(first, "/v1/models/bad%zz").0 == 400)
        // A later snapshot keeps the first time for ids it already had, and its own for new ones.
        let l2 = try list(["deepseek/deepseek-r1", "newcomer"])
        let second = Gateway(configuration: CatalogTests.configuration, modelList: l2, now: 1_800_000_000, replacing: first)
        #expect(try get(second, "/v1/models/deepseek%2Fdeepseek-r1").1["created"]?.intValue == 1_700_000_000)
        #expect(try get(second, "/v1/models/newcomer").1["created"]?.intValue == 1_800_000_000)
        let listing = try get(second, "/v1/models").1["data"]?.arrayValue ?? []
        #expect(!listing.isEmpty && listing.allSatisfy { ($0["created"]?.intValue ?? 0) > 0 })
    }
    struct Missing: Error {}
}
