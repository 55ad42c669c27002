/// A whole chat completion (the hub form's answer) as a Messages API `message`, for clients that
/// speak the Messages API to a provider that speaks chat completions.
public enum MessagesAnswerMapping {
    /// The message for `completion`, its first choice's content in order: one `thinking` block
    /// (the reasoning field, or the `<think>` split of the content; never a signature proxyd did
    /// not receive), one `text` block, and one `tool_use` block per tool call. Nil when the body
    /// is not a chat completion.
    /// - Parameters:
    ///   - model: the model as the client named it.
    ///   - think: where reasoning may sit in the content, and whether it is kept.
    public static func message(_ completion: JSONValue, model: String, think: ThinkSettings) -> JSONValue? {
        guard let choice = completion["choices"]?.arrayValue?.first, let m = choice["message"] else { return nil }
        var reasoning = m["reasoning_content"]?.stringValue ?? m["reasoning"]?.stringValue ?? ""
        var text = m["content"]?.stringValue ?? ""
        if reasoning.isEmpty && think.mode != .off {
            var splitter = ThinkSplitter(tags: think.tags, assumeOpen: think.assumeOpen)
            var out = ThinkSplitter.Output()
            splitter.feed(Array(text.utf8), into: &out)
            splitter.finish(into: &out)
            reasoning = String(decoding: out.reasoning, as: UTF8.self)
            text = String(decoding: out.content, as: UTF8.self)
        }
        var blocks: [JSONValue] = []
        if !reasoning.isEmpty && think.mode != .strip {
            blocks.append(.object([("type", .string("thinking")), ("thinking", .string(reasoning)), ("signature", .string(""))]))
        }
        if !text.isEmpty { blocks.append(.object([("type", .string("text")), ("text", .string(text))])) }
        var usedTools = false
        for call in m["tool_calls"]?.arrayValue ?? [] {
            let arguments = call["function"]?["arguments"]?.stringValue ?? ""
            var input = (try? JSONValue.parse(Array(arguments.utf8))) ?? .object([])
            if case .object = input {} else { input = .object([]) }  // tool input is always an object
            blocks.append(.object([
                ("type", .string("tool_use")), ("id", .string(call["id"]?.stringValue ?? "")),
                ("name", .string(call["function"]?["name"]?.stringValue ?? "")), ("input", input),
            ]))
            usedTools = true
        }
        let id = completion["id"]?.stringValue ?? ""
        return .object([
            ("id", .string("msg_" + (id.hasPrefix("chatcmpl-") ? String(id.dropFirst(9)) : id))),
            ("type", .string("message")), ("role", .string("assistant")), ("model", .string(model)),
            ("content", .array(blocks)),
            ("stop_reason", .string(stopReason(choice["finish_reason"]?.stringValue, usedTools: usedTools))),
            ("stop_sequence", .null),
            ("usage", usage(completion["usage"])),
        ])
    }

    /// A chat finish reason as a stop reason. An answer that called a tool stops for it,
    /// whatever the upstream said: an agent must not take the turn as over.
    public static func stopReason(_ finish: String?, usedTools: Bool) -> String {
        if usedTools { return "tool_use" }
        switch finish {
        case "length": return "max_tokens"
        case "tool_calls", "function_call": return "tool_use"
        case "content_filter": return "refusal"
        default: return "end_turn"
        }
    }

    /// Chat usage as Messages usage: input tokens are the prompt's less those read from cache,
    /// which are reported apart.
    public static func usage(_ u: JSONValue?) -> JSONValue {
        let prompt = u?["prompt_tokens"]?.intValue ?? 0
        let cached = u?["prompt_tokens_details"]?["cached_tokens"]?.intValue ?? 0
        return .object([
            ("input_tokens", .int(max(0, prompt - cached))), ("output_tokens", .int(u?["completion_tokens"]?.intValue ?? 0)),
            ("cache_read_input_tokens", .int(cached)),
        ])
    }
}
