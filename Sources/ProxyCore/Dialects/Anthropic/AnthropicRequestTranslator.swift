/// Translates an OpenAI chat-completions request into an Anthropic Messages request.
/// What Anthropic cannot express is refused with a 400 naming it, never silently dropped.
public enum AnthropicRequestTranslator {
    /// Anthropic's temperature range.
    static let temperatureRange = 0.0...1.0

    /// - Parameters:
    ///   - body: the client's request.
    ///   - model: the model to ask the upstream for.
    ///   - defaultMaxTokens: `max_tokens` when the client sent none.
    public static func translate(_ body: JSONValue, model: String, defaultMaxTokens: Int) -> Result<Anthropic.Request, ProxyError> {
        func bad(_ message: String) -> Result<Anthropic.Request, ProxyError> {
            .failure(.badRequest(message + " (the provider speaks the Anthropic Messages API)", code: "unsupported_parameter"))
        }
        guard case .object = body else { return bad("request body must be a JSON object") }
        if let n = body["n"], n != .null, n.intValue != 1 { return bad("'n' other than 1 cannot be expressed") }
        if body["logprobs"]?.boolValue == true { return bad("'logprobs' cannot be expressed") }
        if let format = body["response_format"]?["type"]?.stringValue, format != "text" {
            return bad("'response_format' \(format) cannot be expressed")
        }
        guard let messages = body["messages"]?.arrayValue, !messages.isEmpty else { return bad("'messages' must be a non-empty array") }

        var systemParts: [String] = []
        var turns: [Anthropic.Message] = []
        func append(_ role: String, _ blocks: [Anthropic.Block]) {
            guard !blocks.isEmpty else { return }
            if let last = turns.last, last.role == role {
                turns[turns.count - 1].content += blocks  // consecutive same-role turns merge
            } else {
                turns.append(Anthropic.Message(role: role, content: blocks))
            }
        }
        for (i, message) in messages.enumerated() {
            let role = message["role"]?.stringValue ?? ""
            switch role {
            case "system", "developer":
                switch textOf(message["content"]) {
                case .success(let t): if !t.isEmpty { systemParts.append(t) }
                case .failure(let e): return bad("messages[\(i)]: \(e)")
                }
            case "user":
                switch blocksOf(message["content"]) {
                case .success(let blocks): append("user", blocks)
                case .failure(let e): return bad("messages[\(i)]: \(e)")
                }
            case "assistant":
                var blocks: [Anthropic.Block] = []
                if let content = message["content"], content != .null {
                    switch textOf(content) {
                    case .success(let t): if !t.isEmpty { blocks.append(.text(t)) }
                    case .failure(let e): return bad("messages[\(i)]: \(e)")
                    }
                }
                for (k, call) in (message["tool_calls"]?.arrayValue ?? []).enumerated() {
                    guard let id = call["id"]?.stringValue, let name = call["function"]?["name"]?.stringValue else {
                        return bad("messages[\(i)].tool_calls[\(k)] needs an id and a function name")
                    }
                    let arguments = call["function"]?["arguments"]?.stringValue ?? "{}"
                    guard let input = try? JSONValue.parse(arguments.isEmpty ? "{}" : arguments), case .object = input else {
                        return bad("messages[\(i)].tool_calls[\(k)].function.arguments must be a JSON object")
                    }
                    blocks.append(.toolUse(id: id, name: name, input: input))
                }
                append("assistant", blocks)
            case "tool":
                guard let id = message["tool_call_id"]?.stringValue else { return bad("messages[\(i)] (tool) needs tool_call_id") }
                switch textOf(message["content"]) {
                case .success(let t): append("user", [.toolResult(toolUseID: id, content: t)])
                case .failure(let e): return bad("messages[\(i)]: \(e)")
                }
            default:
                return bad("messages[\(i)] has an unknown role '\(role)'")
            }
        }
        guard !turns.isEmpty else { return bad("there must be at least one user or assistant message") }

        var request = Anthropic.Request(model: model, system: systemParts.isEmpty ? nil : systemParts.joined(separator: "\n\n"),
                                        messages: turns, maxTokens: defaultMaxTokens)
        if let m = (body["max_completion_tokens"] ?? body["max_tokens"]), m != .null {
            guard let v = m.intValue, v > 0 else { return bad("'max_tokens' must be a positive integer") }
            request.maxTokens = v
        }
        if let t = body["temperature"], t != .null {
            guard let v = t.doubleValue else { return bad("'temperature' must be a number") }
            let clamped = min(max(v, temperatureRange.lowerBound), temperatureRange.upperBound)
            request.temperature = clamped == v ? t : .double(clamped)
        }
        if let p = body["top_p"], p != .null { request.topP = p }
        switch body["stop"] {
        case .string(let s)?: request.stopSequences = [s]
        case .array(let list)?: request.stopSequences = list.compactMap(\.stringValue)
        default: break
        }
        if let tools = body["tools"]?.arrayValue, !tools.isEmpty {
            var out: [Anthropic.Tool] = []
            for (k, t) in tools.enumerated() {
                guard t["type"]?.stringValue ?? "function" == "function", let f = t["function"], let name = f["name"]?.stringValue else {
                    return bad("tools[\(k)] must be a function tool with a name")
                }
                out.append(Anthropic.Tool(name: name, description: f["description"]?.stringValue,
                                          inputSchema: f["parameters"] ?? .object([("type", .string("object"))])))
            }
            request.tools = out
        }
        switch body["tool_choice"] {
        case .string("auto")?: request.toolChoice = .auto
        case .string("required")?: request.toolChoice = .any
        case .string("none")?: request.toolChoice = Anthropic.ToolChoice.none
        case .object(_)?:
            guard let name = body["tool_choice"]?["function"]?["name"]?.stringValue else { return bad("'tool_choice' names no function") }
            request.toolChoice = .tool(name)
        case nil, .null?: break
        default: return bad("'tool_choice' is not one of auto, required, none or a named function")
        }
        if body["parallel_tool_calls"]?.boolValue == false { request.disableParallelToolUse = true }
        request.stream = body["stream"]?.boolValue ?? false
        return .success(request)
    }

    /// The text of a message content (a string, or text parts joined).
    static func textOf(_ content: JSONValue?) -> Result<String, TranslationProblem> {
        switch content {
        case nil, .null?: return .success("")
        case .string(let s)?: return .success(s)
        case .array(let parts)?:
            var texts: [String] = []
            for p in parts {
                guard p["type"]?.stringValue == "text", let t = p["text"]?.stringValue else {
                    return .failure(TranslationProblem("only text parts can be used here"))
                }
                texts.append(t)
            }
            return .success(texts.joined(separator: "\n"))
        default: return .failure(TranslationProblem("content must be a string or an array of parts"))
        }
    }

    /// The blocks of a user message: text and images.
    static func blocksOf(_ content: JSONValue?) -> Result<[Anthropic.Block], TranslationProblem> {
        switch content {
        case .string(let s)?: return .success(s.isEmpty ? [] : [.text(s)])
        case .array(let parts)?:
            var blocks: [Anthropic.Block] = []
            for p in parts {
                switch p["type"]?.stringValue {
                case "text": blocks.append(.text(p["text"]?.stringValue ?? ""))
                case "image_url":
                    guard let url = p["image_url"]?["url"]?.stringValue ?? p["image_url"]?.stringValue else {
                        return .failure(TranslationProblem("image_url part has no url"))
                    }
                    if url.hasPrefix("data:") {
                        // data:<media type>;base64,<data>
                        let rest = url.dropFirst(5)
                        guard let comma = rest.firstIndex(of: ","), rest[..<comma].hasSuffix(";base64") else {
                            return .failure(TranslationProblem("image data URLs must be base64"))
                        }
                        let mediaType = String(rest[..<comma].dropLast(7))
                        blocks.append(.image(.base64(mediaType: mediaType, data: String(rest[rest.index(after: comma)...]))))
                    } else if url.hasPrefix("http://") || url.hasPrefix("https://") {
                        blocks.append(.image(.url(url)))
                    } else {
                        return .failure(TranslationProblem("image urls must be data: or http(s) URLs"))
                    }
                default:
                    return .failure(TranslationProblem("content part type '\(p["type"]?.stringValue ?? "?")' cannot be expressed"))
                }
            }
            return .success(blocks)
        case nil, .null?: return .success([])
        default: return .failure(TranslationProblem("content must be a string or an array of parts"))
        }
    }
}

/// Why part of a request could not be translated.
public struct TranslationProblem: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ d: String) { description = d }
}
