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

/// Anthropic Messages answers as OpenAI chat completions (SPEC §6).
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

/// Translates an Anthropic Messages event stream into an OpenAI chat-completions stream, event
/// by event. Nothing is sent until the first real output, so an `error` event before it can still
/// become an HTTP error that failover acts on.
public struct AnthropicStreamTranslator: Sendable {
    /// What feeding produced.
    public enum Event: Sendable, Equatable {
        /// Bytes for the client (the first ones commit the response).
        case output([UInt8])
        /// The upstream failed before any output: answer (or fail over) with this.
        case failedBeforeOutput(status: Int, error: ProxyError)
    }

    let t: AnthropicTranslation
    var parser = SSEParser()
    var id = "chatcmpl-proxyd"
    var model = ""
    var pendingRole: [UInt8]?
    public private(set) var hasOutput = false
    public private(set) var sawStop = false
    var failed = false
    var toolIndexByBlock: [Int: Int] = [:]
    var nextToolIndex = 0
    var counts = (input: 0, output: 0, cacheCreation: 0, cacheRead: 0)
    var finish: String?

    public init(_ translation: AnthropicTranslation, maxEventBytes: Int = .max) {
        t = translation
        parser = SSEParser(maxHeldBytes: maxEventBytes)
    }

    /// An event grew past `maxEventBytes`: the stream must end now.
    public var overflowed: Bool { parser.overflowed }

    /// The usage the stream reported so far.
    public var usage: Usage {
        AnthropicResponseTranslator.usage(input: counts.input, output: counts.output, cacheCreation: counts.cacheCreation,
                                          cacheRead: counts.cacheRead).1
    }

    func chunk(_ delta: JSONValue, finish: String? = nil) -> [UInt8] {
        var out = Array("data: ".utf8)
        JSONValue.object([
            ("id", .string(id)), ("object", .string("chat.completion.chunk")), ("created", .int(t.created)), ("model", .string(model)),
            ("choices", .array([.object([("index", .int(0)), ("delta", delta), ("finish_reason", finish.map { .string($0) } ?? .null)])])),
        ]).encode(into: &out)
        out += [0x0A, 0x0A]
        return out
    }

    /// Feeds upstream bytes.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [Event] {
        var datas: [[UInt8]] = []
        parser.feed(bytes, onEvent: { datas.append(Array($0.data)) }, onOther: { _ in })
        var events: [Event] = []
        var out: [UInt8] = []
        for d in datas {
            guard !failed, let e = try? JSONValue.parse(d) else { continue }
            handle(e, into: &out, events: &events)
        }
        if !out.isEmpty { events.append(.output(out)) }
        return events
    }

    mutating func emit(_ bytes: [UInt8], into out: inout [UInt8]) {
        if let role = pendingRole { out += role; pendingRole = nil }
        hasOutput = true
        out += bytes
    }

    mutating func handle(_ e: JSONValue, into out: inout [UInt8], events: inout [Event]) {
        switch e["type"]?.stringValue {
        case "message_start":
            let m = e["message"]
            id = m?["id"]?.stringValue ?? id
            model = m?["model"]?.stringValue ?? model
            let (i, o, cc, cr) = AnthropicResponseTranslator.counts(m?["usage"])
            counts = (i, o, cc, cr)
            pendingRole = chunk(.object([("role", .string("assistant")), ("content", .string(""))]))
        case "content_block_start":
            let block = e["content_block"]
            let index = e["index"]?.intValue ?? 0
            switch block?["type"]?.stringValue {
            case "tool_use":
                let ti = nextToolIndex
                nextToolIndex += 1
                toolIndexByBlock[index] = ti
                emit(chunk(.object([("tool_calls", .array([.object([
                    ("index", .int(ti)), ("id", .string(block?["id"]?.stringValue ?? "")), ("type", .string("function")),
                    ("function", .object([("name", .string(block?["name"]?.stringValue ?? "")), ("arguments", .string(""))])),
                ])]))])), into: &out)
            case "text":
                if let text = block?["text"]?.stringValue, !text.isEmpty { emit(chunk(.object([("content", .string(text))])), into: &out) }
            default: break
            }
        case "content_block_delta":
            let delta = e["delta"]
            switch delta?["type"]?.stringValue {
            case "text_delta":
                emit(chunk(.object([("content", .string(delta?["text"]?.stringValue ?? ""))])), into: &out)
            case "thinking_delta":
                if t.keepReasoning {
                    emit(chunk(.object([(t.reasoningField, .string(delta?["thinking"]?.stringValue ?? ""))])), into: &out)
                }
            case "input_json_delta":
                let ti = toolIndexByBlock[e["index"]?.intValue ?? 0] ?? 0
                emit(chunk(.object([("tool_calls", .array([.object([
                    ("index", .int(ti)), ("function", .object([("arguments", .string(delta?["partial_json"]?.stringValue ?? ""))])),
                ])]))])), into: &out)
            default: break  // signature_delta and others carry nothing for OpenAI clients
            }
        case "message_delta":
            if let o = e["usage"]?["output_tokens"]?.intValue { counts.output = o }
            if let i = e["usage"]?["input_tokens"]?.intValue, i > 0 { counts.input = i }
            finish = AnthropicResponseTranslator.finishReason(e["delta"]?["stop_reason"]?.stringValue)
            emit(chunk(.object([]), finish: finish), into: &out)
        case "message_stop":
            sawStop = true
            if let role = pendingRole { out += role; pendingRole = nil; hasOutput = true }
            if t.includeUsage {
                var u = Array("data: ".utf8)
                JSONValue.object([
                    ("id", .string(id)), ("object", .string("chat.completion.chunk")), ("created", .int(t.created)),
                    ("model", .string(model)), ("choices", .array([])),
                    ("usage", AnthropicResponseTranslator.usage(input: counts.input, output: counts.output,
                                                                cacheCreation: counts.cacheCreation, cacheRead: counts.cacheRead).0),
                ]).encode(into: &u)
                out += u + [0x0A, 0x0A]
            }
            out += Array("data: [DONE]\n\n".utf8)
        case "error":
            let type = e["error"]?["type"]?.stringValue
            let message = e["error"]?["message"]?.stringValue ?? "upstream error"
            let status = AnthropicResponseTranslator.status(forErrorType: type)
            let error = ProxyError(status: status, message: message, type: type ?? "upstream_error", code: type ?? "upstream_error")
            failed = true
            if hasOutput || !out.isEmpty {
                out += Array("data: ".utf8) + error.body.encoded() + [0x0A, 0x0A]
            } else {
                events.append(.failedBeforeOutput(status: status, error: error))
            }
        case "content_block_stop":
            // Blocks come one after another: a closed block's tool index is no longer needed
            // (so the map stays as small as the blocks open at once).
            toolIndexByBlock[e["index"]?.intValue ?? 0] = nil
        default:
            break  // ping, unknown events
        }
    }

    /// Ends the stream: one that ended without `message_stop` (or with an error) gets an error
    /// event, never a clean finish.
    public mutating func finish(upstreamComplete: Bool, reason: String) -> [UInt8] {
        if sawStop || failed { return [] }
        var message = upstreamComplete ? "upstream stream ended without message_stop" : "upstream stream broke off: \(reason)"
        var code = upstreamComplete ? "stream_incomplete" : "stream_interrupted"
        if parser.overflowed {
            message = "upstream stream sent an event over maxEventBytes (\(parser.maxHeldBytes) bytes)"
            code = "event_too_large"
        }
        var out: [UInt8] = pendingRole ?? []
        pendingRole = nil
        out += Array("data: ".utf8) + ProxyError(status: 502, message: message, type: "upstream_error", code: code).body.encoded() + [0x0A, 0x0A]
        return out
    }
}
