import ProxyCore
import ProxyEvent

extension FakeUpstream {
    /// `POST …/chat/completions`: a whole answer with `usage`, or an SSE stream when the body
    /// has `"stream": true` (with the usage chunk when `stream_options.include_usage` is set).
    func chatCompletion(_ exchange: ServerExchange, script: Script) {
        let body = (try? JSONValue.parse(exchange.request.body)) ?? .object([])
        let model = body["model"]?.stringValue ?? "fake-model"
        let stream = body["stream"]?.boolValue ?? false
        let includeUsage = body["stream_options"]?["include_usage"]?.boolValue ?? false
        var text = script.content
        if let think = script.think { text = "<think>\(think)</think>\n\n" + text }
        let promptTokens = max(1, exchange.request.body.count / 4)
        let completionTokens = max(1, text.utf8.count / 4)
        let usage = JSONValue.object([("prompt_tokens", .int(promptTokens)), ("completion_tokens", .int(completionTokens)),
                                      ("total_tokens", .int(promptTokens + completionTokens))])
        let id = "chatcmpl-fake"
        guard stream else {
            done()
            exchange.respond(.json(200, .object([
                ("id", .string(id)), ("object", .string("chat.completion")), ("created", .int(1_700_000_000)),
                ("model", .string(model)),
                ("choices", .array([.object([
                    ("index", .int(0)),
                    ("message", .object([("role", .string("assistant")), ("content", .string(text))])),
                    ("finish_reason", .string("stop")),
                ])])),
                ("usage", usage),
            ])))
            return
        }
        func chunk(_ delta: JSONValue, finish: JSONValue = .null) -> [UInt8] {
            sse(.object([
                ("id", .string(id)), ("object", .string("chat.completion.chunk")), ("created", .int(1_700_000_000)),
                ("model", .string(model)),
                ("choices", .array([.object([("index", .int(0)), ("delta", delta), ("finish_reason", finish)])])),
            ]))
        }
        var events: [[UInt8]] = [chunk(.object([("role", .string("assistant")), ("content", .string(""))]))]
        for piece in Script.pieces(text, script.chunks) {
            events.append(chunk(.object([("content", .string(piece))])))
        }
        events.append(chunk(.object([]), finish: .string("stop")))
        if includeUsage {
            events.append(sse(.object([
                ("id", .string(id)), ("object", .string("chat.completion.chunk")), ("created", .int(1_700_000_000)),
                ("model", .string(model)), ("choices", .array([])), ("usage", usage),
            ])))
        }
        if !script.noDone { events.append(Array("data: [DONE]\n\n".utf8)) }
        var headers = HTTPHeaders()
        headers.add("Content-Type", "text/event-stream")
        headers.add("Cache-Control", "no-cache")
        exchange.startStream(status: 200, headers: headers)
        self.stream(exchange, events: events, delayMs: script.delayMs, breakAfter: script.breakAfter)
    }

    /// One SSE `data:` event.
    func sse(_ value: JSONValue, event: String? = nil) -> [UInt8] {
        var out: [UInt8] = []
        if let event { out += Array("event: \(event)\n".utf8) }
        out += Array("data: ".utf8)
        value.encode(into: &out)
        out += [0x0A, 0x0A]
        return out
    }
}
