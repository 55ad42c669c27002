/// Carries one chat-completion SSE stream to the client (SPEC §3.5, §5): applies `<think>`
/// processing event by event (`split`, `strip`; `off` passes bytes untouched), forwards events
/// that need no change exactly as they came, and ends a stream that broke off or never sent
/// `[DONE]` with an error event instead of a clean finish.
public final class ChatStreamTransform {
    public let settings: ChatStreamSettings
    var parser = SSEParser()
    var rewriter: ChatChunkRewriter
    public private(set) var sawDone = false

    public init(settings: ChatStreamSettings) {
        self.settings = settings
        rewriter = ChatChunkRewriter(think: settings.think)
    }

    /// The usage the stream reported (its last usage object), if any.
    public private(set) var usage: Usage?

    /// Feeds upstream bytes; appends the bytes to send now to `out`.
    public func feed(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        // With nothing to rewrite or hold back, bytes go out as they came and are only watched.
        let passBytes = settings.think.mode == .off && !settings.hideUsage
        if passBytes { out.append(contentsOf: bytes) }
        let rewriting = settings.think.mode != .off
        let hide = settings.hideUsage
        parser.feed(bytes, onEvent: { e in
            if ChatStreamTransform.isDone(e.data) {
                if !passBytes {
                    if rewriting, let chunk = self.rewriter.flushChunk() { ChatStreamTransform.writeEvent(chunk, into: &out) }
                    out.append(contentsOf: e.raw)
                }
                self.sawDone = true
                return
            }
            if let u = Usage.ofChunk(e.data) {
                self.usage = u
                if hide && ChatStreamTransform.isUsageOnly(e.data) { return }
            }
            if passBytes { return }
            if !(rewriting && self.rewriter.rewrite(data: e.data, appendingEventTo: &out)) {
                out.append(contentsOf: e.raw)
            }
        }, onOther: { if !passBytes { out.append(contentsOf: $0) } })
    }

    /// A chunk that carries usage and no choices: the usage chunk `include_usage` adds.
    static func isUsageOnly(_ data: UnsafeRawBufferPointer) -> Bool {
        guard let layout = ChatChunkLayout.scan(data) else { return false }
        return layout.choices.isEmpty
    }

    static func isDone(_ data: UnsafeRawBufferPointer) -> Bool {
        data.count == 6 && data.elementsEqual("[DONE]".utf8)
    }

    func flushHeld(into out: inout [UInt8]) {
        if let chunk = rewriter.flushChunk() { Self.writeEvent(chunk, into: &out) }
    }

    static func writeEvent(_ value: JSONValue, into out: inout [UInt8]) {
        out.append(contentsOf: "data: ".utf8)
        value.encode(into: &out)
        out.append(contentsOf: [0x0A, 0x0A])
    }

    /// Ends the stream. `upstreamComplete` says whether the upstream finished its transfer
    /// cleanly; either way a stream without `[DONE]` ends with an error event.
    public func finish(upstreamComplete: Bool, reason: String, into out: inout [UInt8]) {
        guard !sawDone else { return }
        if settings.think.mode != .off || settings.hideUsage {
            // An event cut off mid-way is passed on as it came; held text is released.
            parser.flushPending { out.append(contentsOf: $0) }
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
