/// Carries one chat-completion SSE stream to the client, event by event: an
/// event goes out once its blank line has arrived, and the bytes of an event that never
/// completes are never sent. Applies `<think>` processing (`split`, `strip`); events that need
/// no change (all of them in `off`) go out exactly as they came. A stream that breaks off, never
/// sends `[DONE]` or has an event over `maxEventBytes` ends with an error event after its
/// complete events, instead of a clean finish.
public final class ChatStreamTransform: ResponseTransform {
    public var headTiming: HeadTiming { .atCommit }
    public var rewritesBody: Bool { true }
    public let settings: ChatAnswerSettings
    var parser: SSEParser
    var rewriter: ChatChunkRewriter
    public private(set) var sawDone = false

    public init(settings: ChatAnswerSettings, maxEventBytes: Int = .max) {
        self.settings = settings
        parser = SSEParser(maxHeldBytes: maxEventBytes)
        rewriter = ChatChunkRewriter(think: settings.think)
    }

    /// The usage the stream reported (its last usage object), if any.
    public private(set) var usage: Usage?

    /// An event grew past `maxEventBytes`: the stream must end now (the transform takes no more).
    public var overflowed: Bool { parser.overflowed }

    /// Feeds upstream bytes; appends the bytes to send now to `out`.
    @discardableResult
    public func feed(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) -> TransformStep {
        feed(bytes, into: &out, validatingOnly: false)
        return overflowed ? .stop : .output
    }

    /// `feed` with every chunk taking the rewriter's validating path alone, the reference its
    /// fast paths must match (tests and the fuzzer compare the two).
    @discardableResult
    func feedValidating(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) -> TransformStep {
        feed(bytes, into: &out, validatingOnly: true)
        return overflowed ? .stop : .output
    }

    @inline(__always)
    private func feed(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8], validatingOnly: Bool) {
        var input = bytes
        if parser.startsWithLineEndTail(input) {
            // The LF of a CRLF cut from its CR: it belongs to the last event, and goes out only
            // if that event went out as it came.
            parser.skipLineEndTail()
            if !lastEventReplaced { out.append(0x0A) }
            input = UnsafeRawBufferPointer(rebasing: input[1...])
        }
        let rewriting = settings.think.mode != .off
        let hide = settings.hideUsage
        parser.feed(input, onEvent: { e in
            self.lastEventReplaced = false
            if ChatStreamTransform.isDone(e.data) {
                if rewriting, let chunk = self.rewriter.flushChunk() { ChatStreamTransform.writeEvent(chunk, into: &out) }
                out.append(contentsOf: e.raw)
                self.sawDone = true
                return
            }
            if let u = Usage.ofChunk(e.data) {
                self.usage = u
                if hide && ChatStreamTransform.isUsageOnly(e.data) { self.lastEventReplaced = true; return }
            }
            let start = out.count
            let changed: Bool
            if !rewriting {
                changed = false
            } else if validatingOnly {
                changed = self.rewriter.rewriteValidating(data: e.data, appendingEventTo: &out)
            } else {
                changed = self.rewriter.rewrite(data: e.data, appendingEventTo: &out)
            }
            if changed {
                self.lastEventReplaced = true
                // Data that came in several `data:` lines is joined with LFs, which may survive
                // as whitespace between JSON tokens: the one line written must not carry them.
                if e.isMultiLine { ChatStreamTransform.flattenLines(&out, from: start) }
            } else {
                out.append(contentsOf: e.raw)
            }
        }, onOther: { self.lastEventReplaced = false; out.append(contentsOf: $0) })
    }

    /// The last item went out other than as it came (rewritten, or kept back).
    var lastEventReplaced = false

    /// A chunk that carries usage and no choices: the usage chunk `include_usage` adds.
    static func isUsageOnly(_ data: UnsafeRawBufferPointer) -> Bool {
        guard let layout = ChatChunkLayout.scan(data) else { return false }
        return layout.choices.isEmpty
    }

    /// Turns the LFs inside the event written at `start` (past `data: `, before its blank line)
    /// into spaces. JSON text holds an LF only as whitespace between tokens.
    static func flattenLines(_ out: inout [UInt8], from start: Int) {
        var i = start + 6
        while i < out.count - 2 {
            if out[i] == 0x0A { out[i] = 0x20 }
            i += 1
        }
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
    /// cleanly; either way a stream without `[DONE]` ends with an error event. The bytes of an
    /// unfinished event are dropped; text the rewriter held back is released first.
    @discardableResult
    public func finish(upstreamComplete: Bool, reason: String, into out: inout [UInt8]) -> TransformEnding {
        guard !sawDone else { return .stream(complete: true) }
        let held = parser.heldBytes
        parser.flushPending { _ in }
        if settings.think.mode != .off { flushHeld(into: &out) }
        let message: String
        let code: String
        if overflowed {
            message = "upstream stream sent an event over maxEventBytes (\(parser.maxHeldBytes) bytes)"
            code = "event_too_large"
        } else if upstreamComplete {
            message = held > 0 ? "upstream stream ended inside an event, without [DONE]" : "upstream stream ended without [DONE]"
            code = "stream_incomplete"
        } else {
            message = "upstream stream broke off: \(reason)"
            code = "stream_interrupted"
        }
        let error = ProxyError(status: 502, message: message, type: "upstream_error", code: code)
        // Everything sent so far ends at an event's end, so this is an event of its own.
        out.append(contentsOf: "data: ".utf8)
        error.body.encode(into: &out)
        out.append(contentsOf: [0x0A, 0x0A])
        return .stream(complete: false)
    }
}
