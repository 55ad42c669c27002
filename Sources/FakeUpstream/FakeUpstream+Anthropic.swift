import ProxyCore
import ProxyEvent

extension FakeUpstream {
    /// `POST …/v1/messages`: an Anthropic Messages answer, whole or as its event stream.
    func anthropicMessages(_ exchange: ServerExchange, script: Script) {
        let body = (try? JSONValue.parse(exchange.request.body)) ?? .object([])
        let model = body["model"]?.stringValue ?? "fake-claude"
        let stream = body["stream"]?.boolValue ?? false
        let inputTokens = max(1, exchange.request.body.count / 4)
        let id = "msg_fake"
        var content = script.content
        // A tool result in the last user turn: answer with what the tool said.
        if let last = body["messages"]?.arrayValue?.last, last["role"]?.stringValue == "user",
           let result = last["content"]?.arrayValue?.first(where: { $0["type"]?.stringValue == "tool_result" }) {
            content = "The tool said: " + (result["content"]?.stringValue ?? "")
        }
        let outputTokens = max(1, content.utf8.count / 4)
        let tool = content == script.content ? script.tool : nil
        let toolInput = script.toolInput
        guard stream else {
            var blocks: [JSONValue] = []
            if let think = script.think {
                blocks.append(.object([("type", .string("thinking")), ("thinking", .string(think)), ("signature", .string("fake-signature"))]))
            }
            blocks.append(.object([("type", .string("text")), ("text", .string(content))]))
            if let tool {
                blocks.append(.object([("type", .string("tool_use")), ("id", .string("toolu_fake1")), ("name", .string(tool)),
                                       ("input", (try? JSONValue.parse(toolInput)) ?? .object([]))]))
            }
            done()
            exchange.respond(.json(200, .object([
                ("id", .string(id)), ("type", .string("message")), ("role", .string("assistant")), ("model", .string(model)),
                ("content", .array(blocks)), ("stop_reason", .string(tool == nil ? "end_turn" : "tool_use")), ("stop_sequence", .null),
                ("usage", .object([("input_tokens", .int(inputTokens)), ("output_tokens", .int(outputTokens)),
                                   ("cache_read_input_tokens", .int(3))])),
            ])))
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
        for piece in Script.pieces(content, script.chunks) {
            events.append(sse(.object([("type", .string("content_block_delta")), ("index", .int(index)),
                                       ("delta", .object([("type", .string("text_delta")), ("text", .string(piece))]))]), event: "content_block_delta"))
        }
        events.append(sse(.object([("type", .string("content_block_stop")), ("index", .int(index))]), event: "content_block_stop"))
        if let tool {
            index += 1
            events.append(sse(.object([("type", .string("content_block_start")), ("index", .int(index)),
                                       ("content_block", .object([("type", .string("tool_use")), ("id", .string("toolu_fake1")),
                                                                  ("name", .string(tool)), ("input", .object([]))]))]), event: "content_block_start"))
            for piece in Script.pieces(toolInput, 3) {
                events.append(sse(.object([("type", .string("content_block_delta")), ("index", .int(index)),
                                           ("delta", .object([("type", .string("input_json_delta")), ("partial_json", .string(piece))]))]),
                                  event: "content_block_delta"))
            }
            events.append(sse(.object([("type", .string("content_block_stop")), ("index", .int(index))]), event: "content_block_stop"))
        }
        events.append(sse(.object([("type", .string("message_delta")),
                                   ("delta", .object([("stop_reason", .string(tool == nil ? "end_turn" : "tool_use")), ("stop_sequence", .null)])),
                                   ("usage", .object([("output_tokens", .int(outputTokens))]))]), event: "message_delta"))
        if !script.noDone { events.append(sse(.object([("type", .string("message_stop"))]), event: "message_stop")) }
        if let type = script.streamError {
            // An error event right after message_start, as Anthropic sends when overloaded.
            events = [events[0], sse(.object([("type", .string("error")), ("error", .object([
                ("type", .string(type)), ("message", .string("fake \(type)"))]))]), event: "error")]
        }
        var headers = HTTPHeaders()
        headers.add("Content-Type", "text/event-stream")
        exchange.startStream(status: 200, headers: headers)
        self.stream(exchange, events: events, delayMs: script.delayMs, breakAfter: script.breakAfter)
    }
}
