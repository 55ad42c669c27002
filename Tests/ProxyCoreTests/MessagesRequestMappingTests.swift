@testable import ProxyCore
import Testing

/// Messages API requests in the hub form, for providers that speak chat completions.
@Suite("Messages requests as chat completions")
struct MessagesRequestMappingTests {
    func chat(_ json: String) throws -> JSONValue {
        try MessagesRequestMapping.chatRequest(JSONValue.parse(Array(json.utf8))).get()
    }

    func refusal(_ json: String) throws -> ProxyError? {
        if case .failure(let e) = MessagesRequestMapping.chatRequest(try JSONValue.parse(Array(json.utf8))) { return e }
        return nil
    }

    @Test("a plain turn: model, max_tokens, the system prompt as a system message")
    func plain() throws {
        let c = try chat(#"{"model":"m","max_tokens":64,"system":"Be brief.","messages":[{"role":"user","content":"Hi"}],"temperature":0.2,"top_p":0.9,"stop_sequences":["END"]}"#)
        #expect(c.jsonText == #"{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":64,"stop":["END"],"temperature":0.2,"top_p":0.9}"#)
    }

    static let attribution: [(String, String, String?)] = [
        ("a string whose first line is the attribution loses that line", #""x-anthropic-billing-header: cc_version=1.0; cch=ab12;\nYou are Claude Code.""#, "You are Claude Code."),
        ("a string that is only the attribution leaves no system message", #""x-anthropic-billing-header: cc_version=1.0""#, nil),
        ("a text block that starts with it is dropped, cache hints and all", #"[{"type":"text","text":"x-anthropic-billing-header: cch=1"},{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}},{"type":"text","text":"Be careful."}]"#, "You are Claude Code.\n\nBe careful."),
        ("the line anywhere but first is kept", #""Hello\nx-anthropic-billing-header: kept""#, "Hello\nx-anthropic-billing-header: kept"),
    ]

    @Test("Claude Code's attribution line never reaches the upstream (it would defeat its prefix cache)", arguments: attribution)
    func attributionLine(_ name: String, _ system: String, _ expected: String?) throws {
        let c = try chat(#"{"model":"m","max_tokens":8,"system":\#(system),"messages":[{"role":"user","content":"Hi"}]}"#)
        let messages = c["messages"]?.arrayValue ?? []
        if let expected {
            #expect(messages.first?["role"]?.stringValue == "system" && messages.first?["content"]?.stringValue == expected, "\(name)")
        } else {
            #expect(messages.count == 1 && messages[0]["role"]?.stringValue == "user", "\(name)")
        }
    }

    @Test("a tool round trip: tool_use becomes tool_calls, each tool_result one tool message (an empty one too) before the turn's text")
    func toolRoundTrip() throws {
        let c = try chat(#"""
        {"model":"m","max_tokens":100,"messages":[
          {"role":"user","content":"Weather in Paris and Rome?"},
          {"role":"assistant","content":[{"type":"thinking","thinking":"two calls","signature":"sig"},{"type":"text","text":"Checking."},
            {"type":"tool_use","id":"t1","name":"weather","input":{"city":"Paris"}},{"type":"tool_use","id":"t2","name":"weather","input":{"city":"Rome"}}]},
          {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"sunny"}]},
            {"type":"tool_result","tool_use_id":"t2","content":""},{"type":"text","text":"And tomorrow?"}]}],
         "tools":[{"name":"weather","description":"Weather now","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],
         "tool_choice":{"type":"any","disable_parallel_tool_use":true}}
        """#)
        let m = c["messages"]?.arrayValue ?? []
        #expect(m.count == 5)
        #expect(m[1]["role"]?.stringValue == "assistant" && m[1]["content"]?.stringValue == "Checking.")
        #expect(m[1]["tool_calls"]?.jsonText == #"[{"id":"t1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"t2","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Rome\"}"}}]"#)
        #expect(m[2].jsonText == #"{"role":"tool","tool_call_id":"t1","content":"sunny"}"#)
        #expect(m[3].jsonText == #"{"role":"tool","tool_call_id":"t2","content":""}"#)
        #expect(m[4].jsonText == #"{"role":"user","content":"And tomorrow?"}"#)
        #expect(!c.jsonText.contains("sig") && !c.jsonText.contains("two calls"), "thinking blocks are not forwarded")
        #expect(c["tools"]?.jsonText == #"[{"type":"function","function":{"name":"weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]"#)
        #expect(c["tool_choice"]?.stringValue == "required" && c["parallel_tool_calls"]?.boolValue == false)
    }

    static let choices: [(String, String)] = [
        (#"{"type":"auto"}"#, #""auto""#), (#"{"type":"none"}"#, #""none""#),
        (#"{"type":"tool","name":"f"}"#, #"{"type":"function","function":{"name":"f"}}"#),
    ]

    @Test("tool_choice maps one to one", arguments: choices)
    func toolChoice(_ choice: String, _ expected: String) throws {
        let c = try chat(#"{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"x"}],"tool_choice":\#(choice)}"#)
        #expect(c["tool_choice"]?.jsonText == expected)
    }

    @Test("an error result says so in its text; images become content parts; an assistant turn of tool calls only has null content")
    func resultsAndImages() throws {
        let c = try chat(#"""
        {"model":"m","max_tokens":8,"messages":[
          {"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},
            {"type":"image","source":{"type":"url","url":"https://x.example/a.png"}}]},
          {"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},
          {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","is_error":true,"content":"boom"}]}]}
        """#)
        let m = c["messages"]?.arrayValue ?? []
        #expect(m[0]["content"]?.jsonText == #"[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},{"type":"image_url","image_url":{"url":"https://x.example/a.png"}}]"#)
        #expect(m[1]["content"] == .null && m[1]["tool_calls"]?.arrayValue?.count == 1)
        #expect(m[2].jsonText == #"{"role":"tool","tool_call_id":"t","content":"Error: boom"}"#)
    }

    @Test("streams ask for usage; thinking becomes a reasoning effort; metadata.user_id becomes user")
    func streamThinkingUser() throws {
        let c = try chat(#"{"model":"m","max_tokens":8,"stream":true,"thinking":{"type":"enabled","budget_tokens":10000},"metadata":{"user_id":"u-1"},"messages":[{"role":"user","content":"x"}]}"#)
        #expect(c["stream"]?.boolValue == true && c["stream_options"]?["include_usage"]?.boolValue == true)
        #expect(c["reasoning_effort"]?.stringValue == "high" && c["user"]?.stringValue == "u-1")
        #expect(MessagesRequestMapping.effort(budget: 1024) == "low" && MessagesRequestMapping.effort(budget: 4096) == "medium")
    }

    static let refused: [(String, String, String)] = [
        ("top_k has no chat-completions form", #"{"model":"m","max_tokens":8,"top_k":5,"messages":[]}"#, "'top_k'"),
        ("a server tool", #"{"model":"m","max_tokens":8,"messages":[],"tools":[{"type":"web_search_20250305","name":"web_search"}]}"#, "web_search_20250305"),
        ("a document block", #"{"model":"m","max_tokens":8,"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]}"#, "messages[0]: content[0]: a 'document' block"),
        ("no model", #"{"max_tokens":8,"messages":[]}"#, "'model'"),
        ("a system role in messages", #"{"model":"m","max_tokens":8,"messages":[{"role":"system","content":"x"}]}"#, "'role' must be user or assistant"),
    ]

    @Test("what chat completions cannot express is a 400 that names it", arguments: refused)
    func refusals(_ name: String, _ json: String, _ says: String) throws {
        let e = try #require(try refusal(json), "\(name)")
        #expect(e.status == 400 && e.message.contains(says), "\(name): \(e.message)")
    }
}
