import FakeUpstream
import Glibc
import ProxyCore
import Testing

@Suite("Speaking Anthropic end to end")
struct AnthropicEndToEndTests {
    static let config = """
    {"inheritDefaults": false,
     "providers": {"claude": {"baseUrl": "http://FAKE", "api": "anthropic", "allowedPaths": ["/v1/*"], "models": ["claude-test"]}}}
    """

    @Test("/provider/{id} for an anthropic provider: the request is translated, x-api-key and anthropic-version sent")
    func translatedRequest() throws {
        let h = try Harness(config: Self.config)
        let (head, body) = try httpRequest(port: h.port, "POST", "/provider/claude/v1/chat/completions",
                                           headers: [("Authorization", "Bearer sk-ant-client")],
                                           body: #"{"model":"claude-test","messages":[{"role":"system","content":"S"},{"role":"user","content":"Hi"}],"temperature":1.5}"#)
        #expect(head.status == 200, "\(body)")
        let sent = try #require(h.fake.requests.last)
        #expect(sent.target == "/v1/messages")
        #expect(sent.headers["x-api-key"] == "sk-ant-client" && sent.headers["anthropic-version"] == "2023-06-01")
        #expect(!sent.headers.contains("Authorization"))
        let j = try JSONValue.parse(sent.body)
        #expect(j["system"]?.stringValue == "S" && j["max_tokens"]?.intValue == 4096 && j["temperature"]?.doubleValue == 1)
        let answer = try JSONValue.parse(body)
        #expect(answer["object"]?.stringValue == "chat.completion")
        #expect(answer["choices"]?.arrayValue?[0]["message"]?["content"]?.stringValue == "Hello from the fake upstream.")
        #expect(head.headers["x-proxyd-provider"] == "claude")
    }

    @Test("an error event before any output becomes an HTTP error, and fails over")
    func errorBeforeOutputFailsOver() throws {
        let config = """
        {"inheritDefaults": false,
         "providers": {"claude": {"baseUrl": "http://FAKE0", "api": "anthropic", "models": ["m"], "priority": 1},
                       "backup": {"baseUrl": "http://FAKE1", "models": ["m"], "priority": 2}}}
        """
        let h = try Harness(config: config, fakes: 2)
        h.fakes[0].setScript([("x-fake-stream-error", "overloaded_error")])
        let (head, body) = try httpRequest(port: h.port, "POST", "/v1/chat/completions", body: #"{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}"#)
        #expect(head.status == 200 && head.headers["x-proxyd-provider"] == "backup", "\(body)")
        #expect(body.hasSuffix("data: [DONE]\n\n"))
    }

    @Test("pass-through to an anthropic provider is byte-exact")
    func passThroughByteExact() throws {
        let h = try Harness(config: Self.config)
        let request = #"{"model":"claude-test","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"Hi"}]}"#
        let (_, direct) = try httpRequest(port: h.fakePort, "POST", "/v1/messages", headers: [("x-fake-think", "t")], body: request)
        let (head, proxied) = try httpRequest(port: h.port, "POST", "/claude/v1/messages", headers: [("x-fake-think", "t")], body: request)
        #expect(head.status == 200 && proxied == direct && proxied.contains("event: message_start"))
        #expect(String(decoding: h.fake.requests.last?.body ?? [], as: UTF8.self) == request)
    }
}

@Suite("The official SDKs against an anthropic provider", .enabled(if: PythonClient.available))
struct AnthropicSDKTests {
    @Test("openai SDK: whole, streamed with reasoning, tool-call round trip, errors as its own exceptions")
    func openaiSDK() throws {
        let h = try Harness(config: AnthropicEndToEndTests.config)
        for route in ["/v1", "/provider/claude/v1"] {
            let (status, out, err) = try PythonClient.run("openai_anthropic.py", ["http://127.0.0.1:\(h.port)\(route)", "claude-test"])
            #expect(status == 0, "\(err)")
            let r = try JSONValue.parse(out)
            #expect(r["whole"]?["content"]?.stringValue == "Bonjour!" && r["whole"]?["finish"]?.stringValue == "stop")
            #expect((r["whole"]?["prompt_tokens"]?.intValue ?? 0) > 3)
            #expect(r["stream"]?["content"]?.stringValue == "It is 4." && r["stream"]?["reasoning"]?.stringValue == "Add them.")
            #expect((r["stream"]?["usage_total"]?.intValue ?? 0) > 0)
            #expect(r["tools"]?["finish"]?.stringValue == "tool_calls" && r["tools"]?["name"]?.stringValue == "get_weather")
            #expect(r["tools"]?["arguments"]?["city"]?.stringValue == "Paris")
            #expect(r["tools"]?["answer"]?.stringValue == "The tool said: 18C and sunny")
            #expect(r["stream_tools"]?["name"]?.stringValue == "get_weather" && r["stream_tools"]?["arguments"]?["days"]?.intValue == 2)
            #expect(r["error"]?["status"]?.intValue == 429)
            #expect(r["n2"]?["status"]?.intValue == 400)
        }
    }

    @Test("anthropic SDK through the pass-through route with base_url pointing at proxyd")
    func anthropicSDK() throws {
        let h = try Harness(config: AnthropicEndToEndTests.config)
        let (status, out, err) = try PythonClient.run("anthropic_passthrough.py", ["http://127.0.0.1:\(h.port)/claude"])
        #expect(status == 0, "\(err)")
        let r = try JSONValue.parse(out)
        #expect(r["whole"]?.stringValue == "Hello from Claude." && r["stop"]?.stringValue == "end_turn")
        #expect(r["stream"]?.stringValue == "Streamed.")
        #expect(r["final_blocks"]?.arrayValue?.compactMap(\.stringValue) == ["thinking", "text"])
    }
}
