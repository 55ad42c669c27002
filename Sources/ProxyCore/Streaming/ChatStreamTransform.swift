/// Carries one chat-completion SSE stream to the client: watches for `[DONE]`, and ends a
/// stream that broke off with an error event instead of a clean finish (SPEC §3.5).
public struct ChatStreamTransform: Sendable {
    public let settings: ChatStreamSettings
    var parser = SSEParser()
    public private(set) var sawDone = false
    public private(set) var sawError = false

    public init(settings: ChatStreamSettings) { self.settings = settings }

    /// Feeds upstream bytes; returns the bytes to send now.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        var done = sawDone
        var error = sawError
        parser.feed(bytes) { event in
            if event.data == "[DONE]" { done = true }
            else if event.data.hasPrefix("{\"error\"") || event.event == "error" { error = true }
        }
        sawDone = done
        sawError = error
        out.append(contentsOf: bytes)
    }

    /// Ends the stream. `upstreamComplete` says whether the upstream finished its transfer
    /// cleanly; either way a stream without `[DONE]` ends with an error event.
    /// - Returns: the bytes to send last.
    public mutating func finish(upstreamComplete: Bool, reason: String, into out: inout [UInt8]) {
        guard !sawDone else { return }
        let message = upstreamComplete ? "upstream stream ended without [DONE]" : "upstream stream broke off: \(reason)"
        let code = upstreamComplete ? "stream_incomplete" : "stream_interrupted"
        let error = ProxyError(status: 502, message: message, type: "upstream_error", code: code)
        // A fresh event: make sure any partial line the upstream left is terminated first.
        out.append(contentsOf: Array("\n\ndata: ".utf8))
        error.body.encode(into: &out)
        out.append(contentsOf: Array("\n\n".utf8))
    }
}
