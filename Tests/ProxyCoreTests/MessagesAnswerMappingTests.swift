import ProxyCore
import Testing

/// Whole chat completions as Messages API messages.
@Suite("Chat completions as Messages answers")
struct MessagesAnswerMappingTests {
    func message(_ json: String, think: ThinkSettings = ThinkSettings()) throws -> JSONValue {
        try #require(MessagesAnswerMapping.message(JSONValue.parse(Array(json.utf8)), model: "client-model", think: think))
    }

    @Test("text, usage less cached tokens, the client's model, an id of the Messages form")
    func text() throws {
        let m = try message(#"{"id":"chatcmpl-abc","model":"upstream","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":100,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":60}}}"#)
        #expect(m.jsonText == #"{"id":"msg_abc","type":"message","role":"assistant","model":"client-model","content":[{"type":"text","text":"Hello"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":40,"output_tokens":5,"cache_read_input_tokens":60}}"#)
    }

    static let reasoning: [(String, String, ThinkMode, String?, String)] = [
        ("the reasoning field", #"{"role":"assistant","content":"4","reasoning_content":"2+2"}"#, .split, "2+2", "4"),
        ("the other reasoning field", #"{"role":"assistant","content":"4","reasoning":"2+2"}"#, .split, "2+2", "4"),
        ("a <think> block in the content", #"{"role":"assistant","content":"<think>2+2</think>\n\n4"}"#, .split, "2+2", "4"),
        ("strip drops it", #"{"role":"assistant","content":"<think>2+2</think>4"}"#, .strip, nil, "4"),
        ("off leaves the content alone", #"{"role":"assistant","content":"<think>2+2</think>4"}"#, .off, nil, "<think>2+2</think>4"),
    ]

    @Test("reasoning becomes one thinking block before the text, with no signature of proxyd's making", arguments: reasoning)
    func thinking(_ name: String, _ msg: String, _ mode: ThinkMode, _ thinking: String?, _ text: String) throws {
        var think = ThinkSettings()
        think.mode = mode
        let m = try message(#"{"id":"x","choices":[{"message":\#(msg),"finish_reason":"stop"}]}"#, think: think)
        let blocks = m["content"]?.arrayValue ?? []
        if let thinking {
            #expect(blocks.first?["type"]?.stringValue == "thinking" && blocks.first?["thinking"]?.stringValue == thinking, "\(name)")
            #expect(blocks.first?["signature"]?.stringValue == "", "\(name)")
        } else {
            #expect(!blocks.contains { $0["type"]?.stringValue == "thinking" }, "\(name)")
        }
        #expect(blocks.last?["type"]?.stringValue == "text" && blocks.last?["text"]?.stringValue == text, "\(name)")
    }

    @Test("tool calls are tool_use blocks with parsed input (unparsable arguments are {}), and the stop reason is tool_use")
    func tools() throws {
        let m = try message(#"{"id":"x","choices":[{"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"id":"c2","type":"function","function":{"name":"g","arguments":"{broken"}}]},"finish_reason":"stop"}]}"#)
        #expect(m["content"]?.jsonText == #"[{"type":"tool_use","id":"c1","name":"f","input":{"a":1}},{"type":"tool_use","id":"c2","name":"g","input":{}}]"#)
        #expect(m["stop_reason"]?.stringValue == "tool_use", "an upstream that says stop after a tool call still stops for the tool")
    }

    static let stops: [(String?, String)] = [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("content_filter", "refusal"), (nil, "end_turn")]

    @Test("finish reasons as stop reasons", arguments: stops)
    func stopReasons(_ finish: String?, _ stop: String) {
        #expect(MessagesAnswerMapping.stopReason(finish, usedTools: false) == stop)
    }

    @Test("a body that is not a chat completion is not a message")
    func notACompletion() throws {
        #expect(MessagesAnswerMapping.message(try JSONValue.parse(Array(#"{"error":{"message":"x"}}"#.utf8)), model: "m", think: ThinkSettings()) == nil)
    }
}
