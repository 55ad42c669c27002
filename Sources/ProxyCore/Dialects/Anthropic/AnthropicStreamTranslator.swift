/// Translates an Anthropic Messages event stream into an OpenAI chat-completions stream, event
/// by event. Nothing is sent until the first real output, so an `error` event before it can still
/// become an HTTP error that failover acts on.
public final class AnthropicStreamTranslator: ResponseTransform {
    public var headTiming: HeadTiming { .atFirstOutput }
    public var rewritesBody: Bool { true }

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
    public var usage: Usage? {
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

    /// Feeds upstream bytes; the translated events are appended to `out`. An `error` event
    /// before any output is reported as `.failed`, with nothing appended.
    public func feed(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) -> TransformStep {
        var datas: [[UInt8]] = []
        parser.feed(bytes, onEvent: { datas.append(Array($0.data)) }, onOther: { _ in })
        for d in datas {
            guard !failed, let e = try? JSONValue.parse(d) else { continue }
            if let failure = handle(e, into: &out) { return failure }
        }
        return parser.overflowed ? .stop : .output
    }

    func emit(_ bytes: [UInt8], into out: inout [UInt8]) {
        if let role = pendingRole { out += role; pendingRole = nil }
        hasOutput = true
        out += bytes
    }

    func handle(_ e: JSONValue, into out: inout [UInt8]) -> TransformStep? {
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
                return .failed(status: status, error: error)
            }
        case "content_block_stop":
            // Blocks come one after another: a closed block's tool index is no longer needed
            // (so the map stays as small as the blocks open at once).
            toolIndexByBlock[e["index"]?.intValue ?? 0] = nil
        default:
            break  // ping, unknown events
        }
        return nil
    }

    /// Ends the stream: one that ended without `message_stop` (or with an error) gets an error
    /// event, never a clean finish; one that ended before any output becomes an error answer.
    public func finish(upstreamComplete: Bool, reason: String, into out: inout [UInt8]) -> TransformEnding {
        if sawStop || failed { return .stream(complete: sawStop) }
        var message = upstreamComplete ? "upstream stream ended without message_stop" : "upstream stream broke off: \(reason)"
        var code = upstreamComplete ? "stream_incomplete" : "stream_interrupted"
        if parser.overflowed {
            message = "upstream stream sent an event over maxEventBytes (\(parser.maxHeldBytes) bytes)"
            code = "event_too_large"
        }
        guard hasOutput else {
            if parser.overflowed { return .error(.badGateway(message, code: code), upstreamBroke: false) }
            return .error(.badGateway("upstream stream ended before any output" + (upstreamComplete ? "" : ": \(reason)"),
                                      code: "upstream_incomplete"), upstreamBroke: true)
        }
        out += Array("data: ".utf8) + ProxyError(status: 502, message: message, type: "upstream_error", code: code).body.encoded() + [0x0A, 0x0A]
        return .stream(complete: false)
    }
}
