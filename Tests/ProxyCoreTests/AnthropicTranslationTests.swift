import ProxyCore
import Testing

@Suite("OpenAI → Anthropic requests")
struct AnthropicRequestTests {
    func translate(_ body: String, defaultMaxTokens: Int = 4096) -> Result<Anthropic.Request, ProxyError> {
        AnthropicRequestTranslator.translate(try! JSONValue.parse(body), model: "claude-x", defaultMaxTokens: defaultMaxTokens)
    }

    func json(_ body: String) throws -> JSONValue { try translate(body).get().json }

    @Test("system and developer messages are hoisted; max_tokens defaults; stream kept")
    func basics() throws {
        let j = try json(#"{"model":"m","stream":true,"messages":[{"role":"system","content":"Be brief."},{"role":"developer","content":[{"type":"text","text":"Use French."}]},{"role":"user","content":"Hi"}]}"#)
        #expect(j["system"]?.stringValue == "Be brief.\n\nUse French.")
        #expect(j["max_tokens"]?.intValue == 4096 && j["model"]?.stringValue == "claude-x" && j["stream"]?.boolValue == true)
        #expect(j["messages"]?.jsonText == #"[{"role":"user","content":[{"type":"text","text":"Hi"}]}]"#)
    }

    @Test("sampling: temperature clamped to Anthropic's range, top_p, stop to stop_sequences, max_completion_tokens")
    func sampling() throws {
        let j = try json(#"{"messages":[{"role":"user","content":"x"}],"temperature":1.7,"top_p":0.9,"stop":"END","max_completion_tokens":77}"#)
        #expect(j["temperature"]?.doubleValue == 1 && j["top_p"]?.doubleValue == 0.9)
        #expect(j["stop_sequences"]?.jsonText == #"["END"]"# && j["max_tokens"]?.intValue == 77)
        let k = try json(#"{"messages":[{"role":"user","content":"x"}],"temperature":0.3,"stop":["a","b"],"max_tokens":5}"#)
        #expect(k["temperature"]?.jsonText == "0.3" && k["stop_sequences"]?.jsonText == #"["a","b"]"# && k["max_tokens"]?.intValue == 5)
    }

    @Test("tools, and every tool_choice")
    func tools() throws {
        let tools = #""tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]"#
        let base = #"{"messages":[{"role":"user","content":"x"}],"# + tools
        let j = try json(base + "}")
        #expect(j["tools"]?.jsonText == #"[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]"#)
        #expect(j["tool_choice"] == nil)
        for (choice, expected) in [(#""auto""#, #"{"type":"auto"}"#), (#""required""#, #"{"type":"any"}"#), (#""none""#, #"{"type":"none"}"#),
                                   (#"{"type":"function","function":{"name":"get_weather"}}"#, #"{"type":"tool","name":"get_weather"}"#)] {
            #expect(try json(base + #","tool_choice":"# + choice + "}")["tool_choice"]?.jsonText == expected)
        }
        #expect(try json(base + #","parallel_tool_calls":false}"#)["tool_choice"]?.jsonText == #"{"type":"auto","disable_parallel_tool_use":true}"#)
    }

    @Test("assistant tool_calls become tool_use blocks; tool messages become a user turn of tool_result blocks, merged")
    func toolRoundTrip() throws {
        let j = try json(#"""
        {"messages":[
          {"role":"user","content":"Weather and time?"},
          {"role":"assistant","content":null,"tool_calls":[
            {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
            {"id":"call_2","type":"function","function":{"name":"get_time","arguments":""}}]},
          {"role":"tool","tool_call_id":"call_1","content":"18C"},
          {"role":"tool","tool_call_id":"call_2","content":"10:00"},
          {"role":"user","content":"Thanks"}
        ]}
        """#)
        let m = try #require(j["messages"]?.arrayValue)
        #expect(m.count == 3)
        #expect(m[1].jsonText == #"{"role":"assistant","content":[{"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}},{"type":"tool_use","id":"call_2","name":"get_time","input":{}}]}"#)
        #expect(m[2].jsonText == #"{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1","content":"18C"},{"type":"tool_result","tool_use_id":"call_2","content":"10:00"},{"type":"text","text":"Thanks"}]}"#)
    }

    @Test("images: data URLs become base64 sources, http URLs url sources")
    func images() throws {
        let j = try json(#"{"messages":[{"role":"user","content":[{"type":"text","text":"What is it?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},{"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]}]}"#)
        #expect(j["messages"]?.arrayValue?[0]["content"]?.jsonText == #"[{"type":"text","text":"What is it?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},{"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}]"#)
    }

    @Test("what cannot be expressed is a 400 that says what", arguments: [
        (#"{"n":2,"messages":[{"role":"user","content":"x"}]}"#, "'n'"),
        (#"{"logprobs":true,"messages":[{"role":"user","content":"x"}]}"#, "logprobs"),
        (#"{"response_format":{"type":"json_object"},"messages":[{"role":"user","content":"x"}]}"#, "response_format"),
        (#"{"messages":[]}"#, "messages"),
        (#"{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}"#, "input_audio"),
        (#"{"messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"[1]"}}]}]}"#, "arguments"),
        (#"{"messages":[{"role":"user","content":"x"}],"tool_choice":"sometimes"}"#, "tool_choice"),
    ])
    func refusals(body: String, mentions: String) {
        guard case .failure(let e) = translate(body) else { Issue.record("expected a 400"); return }
        #expect(e.status == 400 && e.message.contains(mentions))
    }
}

@Suite("Anthropic → OpenAI answers")
struct AnthropicResponseTests {
    static let t = AnthropicTranslation(created: 1_700_000_000, includeUsage: true)

    func whole(_ name: String, _ t: AnthropicTranslation = t) throws -> (JSONValue, Usage) {
        let r = try #require(AnthropicResponseTranslator.translateWhole(fixture("anthropic/" + name), t))
        return (try JSONValue.parse(r.body), r.usage)
    }

    @Test("text")
    func text() throws {
        let (j, u) = try whole("text.json")
        #expect(j["object"]?.stringValue == "chat.completion" && j["created"]?.intValue == 1_700_000_000)
        #expect(j["choices"]?.arrayValue?[0]["message"]?.jsonText == #"{"role":"assistant","content":"Bonjour"}"#)
        #expect(j["choices"]?.arrayValue?[0]["finish_reason"]?.stringValue == "stop")
        #expect(u == Usage(promptTokens: 30, completionTokens: 9))
        #expect(j["usage"]?["total_tokens"]?.intValue == 39)
    }

    @Test("thinking goes to the reasoning field (or away in strip); cache tokens count and are reported")
    func thinking() throws {
        let (j, u) = try whole("thinking.json")
        #expect(j["choices"]?.arrayValue?[0]["message"]?["reasoning_content"]?.stringValue == "French greeting.")
        #expect(u.promptTokens == 135)
        #expect(j["usage"]?["prompt_tokens_details"]?["cached_tokens"]?.intValue == 100)
        #expect(j["usage"]?["cache_creation_input_tokens"]?.intValue == 5)
        let (s, _) = try whole("thinking.json", AnthropicTranslation(created: 0, includeUsage: false, keepReasoning: false))
        #expect(s["choices"]?.arrayValue?[0]["message"]?["reasoning_content"] == nil)
        let (r, _) = try whole("thinking.json", AnthropicTranslation(created: 0, includeUsage: false, reasoningField: "reasoning"))
        #expect(r["choices"]?.arrayValue?[0]["message"]?["reasoning"]?.stringValue == "French greeting.")
    }

    @Test("tool_use blocks become tool_calls with serialized arguments")
    func tools() throws {
        let (j, _) = try whole("tools.json")
        let m = try #require(j["choices"]?.arrayValue?[0])
        #expect(m["finish_reason"]?.stringValue == "tool_calls")
        #expect(m["message"]?["tool_calls"]?.jsonText == #"[{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"units\":[\"c\"]}"}},{"id":"toolu_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]"#)
    }

    @Test("stop reasons", arguments: [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"), ("refusal", "content_filter")])
    func stopReasons(anthropic: String, openai: String) {
        #expect(AnthropicResponseTranslator.finishReason(anthropic) == openai)
    }

    @Test("errors take the OpenAI shape with the same status")
    func errors() throws {
        let out = try JSONValue.parse(AnthropicResponseTranslator.translateError(status: 429, body: fixture("anthropic/error.json")))
        #expect(out["error"]?["type"]?.stringValue == "rate_limit_error")
        #expect(out["error"]?["message"]?.stringValue == "Number of request tokens has exceeded your rate limit.")
        #expect(AnthropicResponseTranslator.status(forErrorType: "overloaded_error") == 529)
    }

    /// Feeds a stream in the given pieces; returns the output text and the failure, if any.
    func stream(_ name: String, _ pieces: (([UInt8]) -> [[UInt8]]), complete: Bool = true, t: AnthropicTranslation = t) -> (String, TransformStep?) {
        let tr = AnthropicStreamTranslator(t)
        var out: [UInt8] = []
        var failure: TransformStep?
        for p in pieces(fixture("anthropic/" + name)) {
            var piece: [UInt8] = []
            let step = p.withUnsafeBytes { tr.feed($0, into: &piece) }
            out += piece
            if case .failed = step { failure = step }
        }
        _ = tr.finish(upstreamComplete: complete, reason: "cut", into: &out)
        return (String(decoding: out, as: UTF8.self), failure)
    }

    static let streams = ["text.sse", "thinking.sse", "tools.sse", "error-before-output.sse", "error-after-output.sse", "cut.sse"]

    @Test("streams give the same output whole, byte by byte and at every split point", arguments: streams)
    func dripFed(name: String) {
        let whole = stream(name) { [$0] }
        #expect(stream(name) { $0.map { [$0] } } == whole)
        let n = fixture("anthropic/" + name).count
        for cut in 0...n {
            #expect(stream(name) { [Array($0[..<cut]), Array($0[cut...])] } == whole, "\(name) cut at \(cut)")
        }
    }

    @Test("a text stream: role chunk, content, finish, usage chunk when asked, [DONE]; ping dropped")
    func textStream() throws {
        let (out, failure) = stream("text.sse") { [$0] }
        #expect(failure == nil)
        let acc = accumulate(Array(out.utf8))
        #expect(acc[0]?.content == "Hello, wörld ✓")
        #expect(out.contains(#""delta":{"role":"assistant","content":""}"#))
        #expect(out.contains(#""finish_reason":"stop""#))
        #expect(out.contains(#""choices":[],"usage":{"prompt_tokens":25,"completion_tokens":7,"total_tokens":32"#))
        #expect(out.hasSuffix("data: [DONE]\n\n") && !out.contains("ping"))
        let (quiet, _) = stream("text.sse", { [$0] }, t: AnthropicTranslation(created: 1, includeUsage: false))
        #expect(!quiet.contains("usage"))
    }

    @Test("thinking deltas go to the reasoning field; signatures are dropped")
    func thinkingStream() {
        let (out, _) = stream("thinking.sse") { [$0] }
        let acc = accumulate(Array(out.utf8))
        #expect(acc[0]?.reasoning == "Let me add 2 and 2." && acc[0]?.content == "4")
        #expect(!out.contains("signature"))
        #expect(out.contains(#""prompt_tokens":35"#))
    }

    @Test("tool calls: indexes counted per tool block, arguments streamed, finish tool_calls")
    func toolStream() throws {
        let (out, _) = stream("tools.sse") { [$0] }
        var calls: [Int: (id: String, name: String, args: String)] = [:]
        var parser = SSEParser()
        parser.feed(Array(out.utf8)) { item in
            guard case .event(let e, _) = item, let v = try? JSONValue.parse(e.data) else { return }
            for c in v["choices"]?.arrayValue ?? [] {
                for tc in c["delta"]?["tool_calls"]?.arrayValue ?? [] {
                    let i = tc["index"]?.intValue ?? -1
                    var cur = calls[i] ?? ("", "", "")
                    if let id = tc["id"]?.stringValue { cur.id = id }
                    if let n = tc["function"]?["name"]?.stringValue { cur.name = n }
                    cur.args += tc["function"]?["arguments"]?.stringValue ?? ""
                    calls[i] = cur
                }
            }
        }
        #expect(calls.count == 2)
        #expect(calls[0]?.id == "toolu_A" && calls[0]?.name == "get_weather" && calls[0]?.args == #"{"city": "Paris"}"#)
        #expect(calls[1]?.id == "toolu_B" && calls[1]?.name == "get_time" && calls[1]?.args == #"{"tz":"CET"}"#)
        #expect(out.contains(#""finish_reason":"tool_calls""#) && accumulate(Array(out.utf8))[0]?.content == "Checking both.")
    }

    @Test("an error before any output is an HTTP error failover can act on; after output it is an SSE error")
    func errorEvents() throws {
        let (before, failure) = stream("error-before-output.sse") { [$0] }
        #expect(before.isEmpty)
        guard case .failed(let status, let error)? = failure else { Issue.record("expected a failure"); return }
        #expect(status == 529 && error.type == "overloaded_error")
        let (after, f2) = stream("error-after-output.sse") { [$0] }
        #expect(f2 == nil)
        #expect(after.contains(#""content":"Part""#) && after.contains(#"{"error":{"message":"Internal server error","type":"api_error""#))
        #expect(!after.contains("[DONE]"))
    }

    @Test("a stream cut before message_stop ends with an error, never a clean finish")
    func cut() {
        let (out, _) = stream("cut.sse", { [$0] }, complete: false)
        #expect(out.contains("Half an ans") && out.contains("stream_interrupted") && !out.contains("[DONE]"))
        let (out2, _) = stream("cut.sse", { [$0] }, complete: true)
        #expect(out2.contains("stream_incomplete") && !out2.contains("[DONE]"))
    }
}
