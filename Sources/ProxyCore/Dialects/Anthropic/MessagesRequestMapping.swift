/// A Messages API request (what the anthropic SDKs and Claude Code send to `/v1/messages`) in the
/// hub form, a chat-completions request, for providers that speak chat completions. What chat
/// completions cannot express is refused with a 400 naming it, never dropped unseen; what only
/// makes sense to the Messages API (cache hints, thinking blocks and their signatures) is left out.
public enum MessagesRequestMapping {
    /// The start of the attribution line Claude Code puts at the top of its system prompt. It
    /// changes per conversation, so forwarding it would defeat the upstream's prefix cache.
    static let attributionPrefix = "x-anthropic-billing-header:"

    /// The chat-completions request for `body`, or the 400 that says what cannot be expressed.
    public static func chatRequest(_ body: JSONValue) -> Result<JSONValue, ProxyError> {
        func bad(_ message: String, code: String = "unsupported_parameter") -> Result<JSONValue, ProxyError> {
            .failure(.badRequest(message, code: code))
        }
        guard case .object(let members) = body else { return bad("request body must be a JSON object", code: "invalid_json") }
        guard let model = body["model"]?.stringValue, !model.isEmpty else {
            return bad("request body has no 'model' string", code: "missing_model")
        }
        guard let messages = body["messages"]?.arrayValue else { return bad("'messages' must be an array", code: "invalid_request") }
        let known: Set<String> = ["model", "messages", "system", "max_tokens", "stop_sequences", "temperature", "top_p", "stream",
                                  "tools", "tool_choice", "thinking", "metadata", "service_tier"]
        for (key, _) in members where !known.contains(key) {
            return bad("'\(key)' cannot be expressed for this provider (it speaks chat completions)")
        }
        var out: [(String, JSONValue)] = [("model", .string(model))]
        var chat: [JSONValue] = []
        switch systemText(body["system"]) {
        case .failure(let e): return .failure(e)
        case .success(let text): if let text { chat.append(.object([("role", .string("system")), ("content", .string(text))])) }
        }
        for (i, message) in messages.enumerated() {
            switch turn(message) {
            case .failure(let e): return bad("messages[\(i)]: \(e.message)")
            case .success(let turns): chat += turns
            }
        }
        out.append(("messages", .array(chat)))
        if let n = body["max_tokens"], n != .null { out.append(("max_tokens", n)) }
        if let stops = body["stop_sequences"], stops != .null { out.append(("stop", stops)) }
        if let t = body["temperature"], t != .null { out.append(("temperature", t)) }
        if let p = body["top_p"], p != .null { out.append(("top_p", p)) }
        if let tools = body["tools"]?.arrayValue {
            var functions: [JSONValue] = []
            for (i, tool) in tools.enumerated() {
                if let type = tool["type"]?.stringValue, type != "custom" {
                    return bad("tools[\(i)]: the server tool '\(type)' cannot be expressed for this provider")
                }
                guard let name = tool["name"]?.stringValue else { return bad("tools[\(i)] has no 'name'", code: "invalid_request") }
                var function: [(String, JSONValue)] = [("name", .string(name))]
                if let d = tool["description"]?.stringValue { function.append(("description", .string(d))) }
                function.append(("parameters", tool["input_schema"] ?? .object([("type", .string("object"))])))
                functions.append(.object([("type", .string("function")), ("function", .object(function))]))
            }
            if !functions.isEmpty { out.append(("tools", .array(functions))) }
        }
        if let choice = body["tool_choice"], choice != .null {
            switch choice["type"]?.stringValue {
            case "auto": out.append(("tool_choice", .string("auto")))
            case "any": out.append(("tool_choice", .string("required")))
            case "none": out.append(("tool_choice", .string("none")))
            case "tool":
                guard let name = choice["name"]?.stringValue else { return bad("'tool_choice' of type tool needs a 'name'", code: "invalid_request") }
                out.append(("tool_choice", .object([("type", .string("function")), ("function", .object([("name", .string(name))]))])))
            default:
                return bad("'tool_choice' must be auto, any, tool or none", code: "invalid_request")
            }
            if choice["disable_parallel_tool_use"]?.boolValue == true { out.append(("parallel_tool_calls", .bool(false))) }
        }
        if let thinking = body["thinking"], thinking["type"]?.stringValue == "enabled" {
            out.append(("reasoning_effort", .string(effort(budget: thinking["budget_tokens"]?.intValue ?? 0))))
        }
        if let user = body["metadata"]?["user_id"]?.stringValue { out.append(("user", .string(user))) }
        if body["stream"]?.boolValue == true {
            out.append(("stream", .bool(true)))
            // The usage chunk gives the real counts for message_delta.
            out.append(("stream_options", .object([("include_usage", .bool(true))])))
        }
        return .success(.object(out))
    }

    /// A thinking budget as a chat-completions reasoning effort.
    static func effort(budget: Int) -> String {
        budget < 2048 ? "low" : budget < 8192 ? "medium" : "high"
    }

    /// The system prompt as one text, less the attribution line; nil when nothing is left.
    static func systemText(_ system: JSONValue?) -> Result<String?, ProxyError> {
        switch system {
        case nil, .null?:
            return .success(nil)
        case .string(let text)?:
            var t = Substring(text)
            if t.hasPrefix(attributionPrefix) {
                t = t.firstIndex(of: "\n").map { t[t.index(after: $0)...] } ?? ""
            }
            return .success(t.isEmpty ? nil : String(t))
        case .array(let blocks)?:
            var parts: [String] = []
            for (i, block) in blocks.enumerated() {
                guard block["type"]?.stringValue == "text", let text = block["text"]?.stringValue else {
                    return .failure(.badRequest("system[\(i)]: only text blocks can be expressed for this provider",
                                                code: "unsupported_parameter"))
                }
                if !text.hasPrefix(attributionPrefix) { parts.append(text) }
            }
            return .success(parts.isEmpty ? nil : parts.joined(separator: "\n\n"))
        default:
            return .failure(.badRequest("'system' must be a string or an array of text blocks", code: "invalid_request"))
        }
    }

    /// One Messages turn as chat messages: a user turn's tool results become one `tool`
    /// message each, before the rest of the turn; an assistant turn's tool uses become its
    /// `tool_calls`. Thinking blocks are left out (their signatures mean nothing upstream).
    static func turn(_ message: JSONValue) -> Result<[JSONValue], ProxyError> {
        func bad(_ m: String) -> Result<[JSONValue], ProxyError> { .failure(.badRequest(m, code: "unsupported_parameter")) }
        let role = message["role"]?.stringValue ?? ""
        guard role == "user" || role == "assistant" else { return bad("'role' must be user or assistant") }
        let blocks: [JSONValue]
        switch message["content"] {
        case .string(let text)?:
            return .success([.object([("role", .string(role)), ("content", .string(text))])])
        case .array(let b)?:
            blocks = b
        default:
            return bad("'content' must be a string or an array of blocks")
        }
        var out: [JSONValue] = []
        var parts: [JSONValue] = []
        var texts: [String] = []
        var calls: [JSONValue] = []
        for (k, block) in blocks.enumerated() {
            switch block["type"]?.stringValue {
            case "text":
                let text = block["text"]?.stringValue ?? ""
                if role == "user" { parts.append(.object([("type", .string("text")), ("text", .string(text))])) } else { texts.append(text) }
            case "image" where role == "user":
                let source = block["source"]
                let url: String
                switch source?["type"]?.stringValue {
                case "base64":
                    url = "data:\(source?["media_type"]?.stringValue ?? "image/png");base64,\(source?["data"]?.stringValue ?? "")"
                case "url":
                    url = source?["url"]?.stringValue ?? ""
                default:
                    return bad("content[\(k)]: an image source must be base64 or url")
                }
                parts.append(.object([("type", .string("image_url")), ("image_url", .object([("url", .string(url))]))]))
            case "tool_result" where role == "user":
                guard let id = block["tool_use_id"]?.stringValue else { return bad("content[\(k)]: a tool_result needs 'tool_use_id'") }
                var text: String
                switch block["content"] {
                case nil, .null?: text = ""
                case .string(let s)?: text = s
                case .array(let inner)?:
                    text = inner.compactMap { $0["type"]?.stringValue == "text" ? $0["text"]?.stringValue : nil }.joined(separator: "\n")
                default: return bad("content[\(k)]: a tool_result's content must be text")
                }
                if block["is_error"]?.boolValue == true { text = "Error: " + text }
                // Every result gets its message, an empty one too: the upstream needs an answer
                // for each call.
                out.append(.object([("role", .string("tool")), ("tool_call_id", .string(id)), ("content", .string(text))]))
            case "tool_use" where role == "assistant":
                guard let id = block["id"]?.stringValue, let name = block["name"]?.stringValue else {
                    return bad("content[\(k)]: a tool_use needs 'id' and 'name'")
                }
                calls.append(.object([("id", .string(id)), ("type", .string("function")),
                                      ("function", .object([("name", .string(name)),
                                                            ("arguments", .string((block["input"] ?? .object([])).jsonText))]))]))
            case "thinking", "redacted_thinking":
                continue
            default:
                return bad("content[\(k)]: a '\(block["type"]?.stringValue ?? "?")' block in a \(role) turn cannot be expressed for this provider")
            }
        }
        if role == "user" {
            if parts.count == 1, let text = parts[0]["text"]?.stringValue, parts[0]["type"]?.stringValue == "text" {
                out.append(.object([("role", .string("user")), ("content", .string(text))]))
            } else if !parts.isEmpty {
                out.append(.object([("role", .string("user")), ("content", .array(parts))]))
            }
        } else if !texts.isEmpty || !calls.isEmpty {
            var m: [(String, JSONValue)] = [("role", .string("assistant")),
                                            ("content", texts.isEmpty ? .null : .string(texts.joined()))]
            if !calls.isEmpty { m.append(("tool_calls", .array(calls))) }
            out.append(.object(m))
        }
        return .success(out)
    }
}
