/// Carries one chat-completion SSE stream to the client (SPEC §3.5, §5): applies `<think>`
/// processing event by event (`split`, `strip`; `off` passes bytes untouched), forwards events
/// that need no change exactly as they came, and ends a stream that broke off or never sent
/// `[DONE]` with an error event instead of a clean finish.
public struct ChatStreamTransform: Sendable {
    public let settings: ChatStreamSettings
    var parser = SSEParser()
    var rewriter: ChatChunkRewriter
    public private(set) var sawDone = false

    public init(settings: ChatStreamSettings) {
        self.settings = settings
        rewriter = ChatChunkRewriter(think: settings.think)
    }

    /// Feeds upstream bytes; appends the bytes to send now to `out`.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        if settings.think.mode == .off {
            out.append(contentsOf: bytes)
            var done = sawDone
            parser.feed(bytes) { item in
                if case .event(let e, _) = item, e.data == "[DONE]" { done = true }
            }
            sawDone = done
            return
        }
        var items: [SSEParser.Item] = []
        parser.feed(bytes) { items.append($0) }
        for item in items { handle(item, into: &out) }
    }

    mutating func handle(_ item: SSEParser.Item, into out: inout [UInt8]) {
        switch item {
        case .other(let raw):
            out.append(contentsOf: raw)
        case .event(let event, let raw):
            if event.data == "[DONE]" {
                flushHeld(into: &out)
                sawDone = true
                out.append(contentsOf: raw)
                return
            }
            guard let chunk = try? JSONValue.parse(event.data), let rewritten = rewriter.rewrite(chunk) else {
                out.append(contentsOf: raw)
                return
            }
            Self.writeEvent(rewritten, into: &out)
        }
    }

    mutating func flushHeld(into out: inout [UInt8]) {
        if let chunk = rewriter.flushChunk() { Self.writeEvent(chunk, into: &out) }
    }

    static func writeEvent(_ value: JSONValue, into out: inout [UInt8]) {
        out.append(contentsOf: "data: ".utf8)
        value.encode(into: &out)
        out.append(contentsOf: [0x0A, 0x0A])
    }

    /// Ends the stream. `upstreamComplete` says whether the upstream finished its transfer
    /// cleanly; either way a stream without `[DONE]` ends with an error event.
    public mutating func finish(upstreamComplete: Bool, reason: String, into out: inout [UInt8]) {
        guard !sawDone else { return }
        if settings.think.mode != .off {
            var rest: [SSEParser.Item] = []
            parser.flushPending { rest.append($0) }
            for item in rest { handle(item, into: &out) }
            flushHeld(into: &out)
        }
        let message = upstreamComplete ? "upstream stream ended without [DONE]" : "upstream stream broke off: \(reason)"
        let code = upstreamComplete ? "stream_incomplete" : "stream_interrupted"
        let error = ProxyError(status: 502, message: message, type: "upstream_error", code: code)
        // A fresh event: terminate any partial line the upstream left first.
        out.append(contentsOf: Array("\n\ndata: ".utf8))
        error.body.encode(into: &out)
        out.append(contentsOf: Array("\n\n".utf8))
    }
}
