import ProxyCore
import ProxyEvent

extension FakeUpstream {
    /// `POST …/v1/messages`: an Anthropic Messages answer, whole or as its event stream.
    func anthropicMessages(_ exchange: ServerExchange, script: Script) {
        let body = (try? JSONValue.parse(exchange.request.body)) ?? .object([])
        let model = body["model"]?.stringValue ?? "fake-claude"
        let stream = body["stream"]?.boolValue ?? false
        let inputTokens = max(1, exchange.request.body.count / 4)
        let outputTokens = max(1, script.content.utf8.count / 4)
        let id = "msg_fake"
        guard stream else {
            var blocks: [JSONValue] = []
            if let think = script.think {
                blocks.append(.object([("type", .string("thinking")), ("thinking", .string(think)), ("signature", .string("fake-signature"))]))
            }
            blocks.append(.object([("type", .string("text")), ("text", .string(script.content))]))
            exchange.respond(.json(200, .object([
                ("id", .string(id)), ("type", .string("message")), ("role", .string("assistant")), ("model", .string(model)),
                ("content", .array(blocks)), ("stop_reason", .string("end_turn")), ("stop_sequence", .null),
                ("usage", .object([("input_tokens", .int(inputTokens)), ("output_tokens", .int(outputTokens))])),
            ])))
            finishedOne()
            return
        }
        var events: [[UInt8]] = [
            sse(.object([("type", .string("message_start")), ("message", .object([
                ("id", .string(id)), ("type", .string("message")), ("role", .string("assistant")), ("model", .string(model)),
                ("content", .array([])), ("stop_reason", .null), ("stop_sequence", .null),
                ("usage", .object([("input_tokens", .int(inputTokens)), ("output_tokens", .int(1))])),
            ]))]), event: "message_start"),
            sse(.object([("type", .string("ping"))]), event: "ping"),
        ]
        var index = 0
        if let think = script.think {
            events.append(sse(.object([("type", .string("content_block_start")), ("index", .int(index)),
                                       ("content_block", .object([("type", .string("thinking")), ("thinking", .string(""))]))]), event: "content_block_start"))
            for piece in Script.pieces(think, script.chunks) {
                events.append(sse(.object([("type", .string("content_block_delta")), ("index", .int(index)),
                                           ("delta", .object([("type", .string("thinking_delta")), ("thinking", .string(piece))]))]), event: "content_block_delta"))
            }
            events.append(sse(.object([("type", .string("content_block_stop")), ("index", .int(index))]), event: "content_block_stop"))
            index += 1
        }
        events.append(sse(.object([("type", .string("content_block_start")), ("index", .int(index)),
                                   ("content_block", .object([("type", .string("text")), ("text", .string(""))]))]), event: "content_block_start"))
        for piece in Script.pieces(script.content, script.chunks) {
            events.append(sse(.object([("type", .string("content_block_delta")), ("index", .int(index)),
                                       ("delta", .object([("type", .string("text_delta")), ("text", .string(piece))]))]), event: "content_block_delta"))
        }
        events.append(sse(.object([("type", .string("content_block_stop")), ("index", .int(index))]), event: "content_block_stop"))
        events.append(sse(.object([("type", .string("message_delta")),
                                   ("delta", .object([("stop_reason", .string("end_turn")), ("stop_sequence", .null)])),
                                   ("usage", .object([("output_tokens", .int(outputTokens))]))]), event: "message_delta"))
        if !script.noDone { events.append(sse(.object([("type", .string("message_stop"))]), event: "message_stop")) }
        var headers = HTTPHeaders()
        headers.add("Content-Type", "text/event-stream")
        exchange.startStream(status: 200, headers: headers)
        self.stream(exchange, events: events, delayMs: script.delayMs, breakAfter: script.breakAfter)
    }
}
