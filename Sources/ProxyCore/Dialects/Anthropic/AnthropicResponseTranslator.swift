/// What translating an Anthropic answer back to OpenAI chat completions needs to know.
public struct AnthropicTranslation: Sendable, Equatable {
    /// `created` for the chunks and completions proxyd makes (seconds since the epoch, passed in).
    public var created: Int
    /// The client asked for the usage chunk (`stream_options.include_usage`).
    public var includeUsage: Bool
    /// Where `thinking` goes, and whether it is kept (`strip` drops it).
    public var reasoningField: String
    public var keepReasoning: Bool

    public init(created: Int, includeUsage: Bool, reasoningField: String = "reasoning_content", keepReasoning: Bool = true) {
        self.created = created
        self.includeUsage = includeUsage
        self.reasoningField = reasoningField
        self.keepReasoning = keepReasoning
    }
}

/// Anthropic Messages answers as OpenAI chat completions.
public enum AnthropicResponseTranslator {
    /// An Anthropic stop reason as an OpenAI finish reason.
    public static func finishReason(_ stop: String?) -> String {
        switch stop {
        case "max_tokens": return "length"
        case "tool_use": return "tool_calls"
        case "refusal": return "content_filter"
        default: return "stop"  // end_turn, stop_sequence, pause_turn
        }
    }

    /// Anthropic `usage` as OpenAI usage: cached input counts as prompt tokens, and is reported.
    static func usage(input: Int, output: Int, cacheCreation: Int, cacheRead: Int) -> (JSONValue, Usage) {
        let prompt = input + cacheCreation + cacheRead
        var fields: [(String, JSONValue)] = [
            ("prompt_tokens", .int(prompt)), ("completion_tokens", .int(output)), ("total_tokens", .int(prompt + output)),
            ("prompt_tokens_details", .object([("cached_tokens", .int(cacheRead))])),
        ]
        if cacheCreation > 0 { fields.append(("cache_creation_input_tokens", .int(cacheCreation))) }
        return (.object(fields), Usage(promptTokens: prompt, completionTokens: output))
    }

    static func counts(_ u: JSONValue?) -> (Int, Int, Int, Int) {
        (u?["input_tokens"]?.intValue ?? 0, u?["output_tokens"]?.intValue ?? 0,
         u?["cache_creation_input_tokens"]?.intValue ?? 0, u?["cache_read_input_tokens"]?.intValue ?? 0)
    }

    /// A whole Messages answer as a chat completion; nil when the body is not one.
    public static func translateWhole(_ body: [UInt8], _ t: AnthropicTranslation) -> (body: [UInt8], usage: Usage)? {
        guard let m = try? JSONValue.parse(body), m["type"]?.stringValue == "message", let blocks = m["content"]?.arrayValue else {
            return nil
        }
        var text = ""
        var thinking = ""
        var toolCalls: [JSONValue] = []
        for b in blocks {
            switch b["type"]?.stringValue {
            case "text": text += b["text"]?.stringValue ?? ""
            case "thinking": thinking += b["thinking"]?.stringValue ?? ""
            case "tool_use":
                toolCalls.append(.object([
                    ("id", .string(b["id"]?.stringValue ?? "")), ("type", .string("function")),
                    ("function", .object([("name", .string(b["name"]?.stringValue ?? "")),
                                          ("arguments", .string((b["input"] ?? .object([])).jsonText))])),
                ]))
            default: break
            }
        }
        var message: [(String, JSONValue)] = [("role", .string("assistant")), ("content", text.isEmpty && !toolCalls.isEmpty ? .null : .string(text))]
        if t.keepReasoning && !thinking.isEmpty { message.append((t.reasoningField, .string(thinking))) }
        if !toolCalls.isEmpty { message.append(("tool_calls", .array(toolCalls))) }
        let (i, o, cc, cr) = counts(m["usage"])
        let (usageJSON, usage) = Self.usage(input: i, output: o, cacheCreation: cc, cacheRead: cr)
        let completion = JSONValue.object([
            ("id", .string(m["id"]?.stringValue ?? "")), ("object", .string("chat.completion")), ("created", .int(t.created)),
            ("model", .string(m["model"]?.stringValue ?? "")),
            ("choices", .array([.object([("index", .int(0)), ("message", .object(message)),
                                         ("finish_reason", .string(finishReason(m["stop_reason"]?.stringValue)))])])),
            ("usage", usageJSON),
        ])
        return (completion.encoded(), usage)
    }

    /// An Anthropic error body (`{"type":"error","error":{"type","message"}}`) in the OpenAI
    /// error shape; bodies of another shape are wrapped with their text as the message.
    public static func translateError(status: Int, body: [UInt8]) -> [UInt8] {
        let parsed = try? JSONValue.parse(body)
        let type = parsed?["error"]?["type"]?.stringValue ?? "upstream_error"
        let message = parsed?["error"]?["message"]?.stringValue ?? String(decoding: body.prefix(500), as: UTF8.self)
        return ProxyError(status: status, message: message, type: type, code: type).body.encoded()
    }

    /// The HTTP status an Anthropic error type stands for.
    public static func status(forErrorType type: String?) -> Int {
        switch type {
        case "invalid_request_error": return 400
        case "authentication_error": return 401
        case "permission_error": return 403
        case "not_found_error": return 404
        case "request_too_large": return 413
        case "rate_limit_error": return 429
        case "api_error": return 500
        case "overloaded_error": return 529
        default: return 502
        }
    }
}
