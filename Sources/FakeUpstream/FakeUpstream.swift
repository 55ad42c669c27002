import Glibc
import ProxyCore
import ProxyEvent
import Synchronization

/// A scriptable upstream for tests, benchmarks and the demo. It speaks just enough of the OpenAI
/// and Anthropic APIs, records every request it receives, and misbehaves on request.
///
/// Scripting is per request, through headers (which proxyd forwards like any other):
/// - `x-fake-chunks: N` content chunks in a stream (default 5);
/// - `x-fake-delay-ms: D` delay between stream chunks;
/// - `x-fake-think: TEXT` reasoning in `<think>` tags at the start of the content
///   (Anthropic: a `thinking` block);
/// - `x-fake-content: TEXT` the answer (default "Hello from the fake upstream.");
/// - `x-fake-status: S` answer with status S and an error body (429, 500, 503, ...);
/// - `x-fake-head-delay-ms: D` wait before sending the response head;
/// - `x-fake-break-after: N` send N chunks, then drop the connection mid-stream;
/// - `x-fake-no-done: 1` end the stream cleanly but without `[DONE]` / `message_stop`;
/// - `x-fake-hang: 1` never answer;
/// - Anthropic only: `x-fake-tool: NAME` (and `x-fake-tool-input: JSON`) answers with a tool_use
///   block; `x-fake-stream-error: TYPE` sends an error event right after message_start.
/// - `x-fake-raw: JSON` answers, whatever the path and in place of every other answer, with
///   exactly the bytes scripted: a JSON array of pieces `["text", repeat]` (`["text"]`: once),
///   the body being each text (JSON escapes allowed, sent as UTF-8) repeated in turn. The body is
///   made as the client reads it, so repeats may add up to gigabytes. With it:
///   - `x-fake-raw-status: S` the status (default 200);
///   - `x-fake-raw-type: T` the Content-Type (default `text/event-stream`; empty: none);
///   - `x-fake-raw-length: 1` a `Content-Length` of the bytes on the wire instead of chunked framing;
///   - `x-fake-raw-end: clean|reset` end the body properly (default), or drop the connection after
///     the last byte so the transfer breaks off;
///   - `x-fake-raw-encoding: gzip|deflate` wrap the body as gzip or zlib made of stored
///     (uncompressed) deflate blocks, with the matching `Content-Encoding`.
///   A malformed raw script is answered 400.
/// Routes: `POST …/chat/completions`, `POST …/v1/messages`, `GET …/models`, `GET /bulk?bytes=N`
/// (N bytes of octet-stream, sent as fast as the reader takes them); anything else echoes
/// what it received as JSON.
public final class FakeUpstream: @unchecked Sendable {
    /// One request as received.
    public struct Recorded: Sendable {
        public var method: String
        public var target: String
        public var headers: HTTPHeaders
        public var body: [UInt8]
        public var connectionID: Int
    }

    private let recorded = Mutex<[Recorded]>([])
    private let gone = Mutex(0)
    private let answered = Mutex(0)
    private let standingScript = Mutex<[(String, String)]>([])
    private let modelList = Mutex<(status: Int, body: String)>((404, #"{"error":"no list yet"}"#))
    private var loop: EventLoop!
    private var server: HTTPServer!
    private var thread: Thread?
    public private(set) var port = 0
    private var listener: Int32 = -1
    /// Models listed by `GET …/models`.
    public let models: [String]

    public init(models: [String] = ["fake-model", "fake-reasoner"]) {
        self.models = models
    }

    /// Starts serving on `host:port` (port 0 picks one) on a thread of its own.
    public func start(host: String = "127.0.0.1", port: Int = 0) throws(ListeningSocket.Failure) {
        let socket = try ListeningSocket.bind(host: host, port: port)
        listener = socket.fd
        self.port = socket.port
        let ready = Mutex(false)
        let me = UncheckedFake(self)
        thread = Thread {
            let fake = me.value
            fake.loop = EventLoop()
            fake.server = HTTPServer(loop: fake.loop, socket: socket,
                                     limits: ServerLimits(maxBodyBytes: 64 << 20, maxHeaderBytes: 1 << 20, idleTimeoutSeconds: 600)) { exchange in
                fake.handle(exchange)
            }
            ready.withLock { $0 = true }
            fake.loop.run()
            fake.server = nil
        }
        while !ready.withLock({ $0 }) { usleep(500) }
    }

    /// Stops serving and waits for the thread.
    public func stop() {
        guard let loop else { return }
        loop.execute { [me = UncheckedFake(self)] in
            me.value.server.stopAccepting()
            me.value.server.cutAll()
            me.value.loop.stop()
        }
        thread?.join()
        thread = nil
        if listener >= 0 { close(listener) }
        listener = -1
    }

    /// Every request received so far.
    public var requests: [Recorded] { recorded.withLock { $0 } }
    /// `x-fake-*` settings applied to every request from now on, as if each request carried them
    /// (so a test can make one of several upstreams misbehave).
    public func setScript(_ headers: [(String, String)]) { standingScript.withLock { $0 = headers } }

    /// Answers every request with `status` from now on.
    public func failAll(status: Int) { setScript([("x-fake-status", String(status))]) }

    /// What `GET /model-list.json` answers from now on (a test changes it between refreshes).
    public func setModelList(status: Int, body: String) { modelList.withLock { $0 = (status, body) } }

    /// Clears the record.
    public func reset() { recorded.withLock { $0.removeAll() } }
    /// How many clients went away before their answer ended.
    public var disconnects: Int { gone.withLock { $0 } }
    /// How many answers ended (completed, broken or cut).
    public var finishedAnswers: Int { answered.withLock { $0 } }

    // MARK: answering

    private func handle(_ exchange: ServerExchange) {
        let r = exchange.request
        if r.target.hasPrefix("/__fake/") {
            answerControl(exchange)
            return
        }
        recorded.withLock { $0.append(Recorded(method: r.method, target: r.target, headers: r.headers, body: r.body,
                                                connectionID: exchange.connectionID)) }
        exchange.callbacks.gone = { [me = UncheckedFake(self)] in me.value.gone.withLock { $0 += 1 } }
        var scripted = r.headers
        for (name, value) in standingScript.withLock({ $0 }) { scripted.set(name, value) }
        let script = Script(scripted)
        if script.hang { return }
        let go = { [me = UncheckedFake(self)] in me.value.answer(exchange, script: script) }
        if script.headDelayMs > 0 {
            schedule(after: Double(script.headDelayMs) / 1000, go)
        } else {
            go()
        }
    }

    /// Runs `action` once after `seconds` on the loop.
    func schedule(after seconds: Double, _ action: @escaping () -> Void) {
        var holder: LoopTimer?
        holder = LoopTimer(loop: loop) {
            action()
            holder = nil
        }
        holder!.schedule(after: seconds)
    }

    private func answerControl(_ exchange: ServerExchange) {
        let r = exchange.request
        if r.path == "/__fake/requests" {
            if r.method == "DELETE" { reset(); exchange.respond(.json(200, .object([]))); return }
            let list = requests.map { rec in
                JSONValue.object([("method", .string(rec.method)), ("target", .string(rec.target)),
                                  ("headers", .array(rec.headers.map { .array([.string($0.name), .string($0.value)]) })),
                                  ("body", .string(String(decoding: rec.body, as: UTF8.self)))])
            }
            exchange.respond(.json(200, .array(list)))
        } else if r.path == "/__fake/stats" {
            exchange.respond(.json(200, .object([("requests", .int(requests.count)), ("disconnects", .int(disconnects))])))
        } else {
            exchange.respond(.json(404, .object([])))
        }
    }

    private func answer(_ exchange: ServerExchange, script: Script) {
        guard !exchange.isEnded else { return }
        let r = exchange.request
        let path = r.path
        if script.raw != nil {
            rawAnswer(exchange, script: script)
            return
        }
        if let status = script.status, !r.path.hasSuffix("/model-list.json") {
            done()
            exchange.respond(.json(status, .object([("error", .object([
                ("message", .string("fake upstream answered \(status)")), ("type", .string("fake_error")), ("code", .string(String(status))),
            ]))])))
            return
        }
        if path.hasSuffix("/chat/completions") && r.method == "POST" {
            chatCompletion(exchange, script: script)
        } else if path.hasSuffix("/v1/messages") && r.method == "POST" {
            anthropicMessages(exchange, script: script)
        } else if path.hasSuffix("/models") && r.method == "GET" {
            done()
            exchange.respond(.json(200, .object([("object", .string("list")), ("data", .array(models.map {
                .object([("id", .string($0)), ("object", .string("model")), ("created", .int(1_700_000_000)), ("owned_by", .string("fake"))])
            }))])))
        } else if path == "/model-list.json" {
            let (status, body) = modelList.withLock { $0 }
            var h = HTTPHeaders()
            h.add("Content-Type", "application/json")
            done()
            exchange.respond(status: status, headers: h, body: Array(body.utf8))
        } else if path == "/bulk" {
            bulk(exchange, total: Int(r.query.flatMap { q in q.split(separator: "&").first { $0.hasPrefix("bytes=") }?.dropFirst(6) }.flatMap { Int($0) } ?? 1 << 20))
        } else {
            var h = HTTPHeaders()
            h.add("Content-Type", "application/json")
            h.add("X-Fake-Echo", "1")
            done()
            exchange.respond(status: 200, headers: h, body: JSONValue.object([
                ("method", .string(r.method)), ("target", .string(r.target)),
                ("headers", .array(r.headers.map { .array([.string($0.name), .string($0.value)]) })),
                ("body_bytes", .int(r.body.count)), ("body_fnv1a", .string(FakeUpstream.fnv1a(r.body))),
            ]).encoded())
        }
    }

    /// Counts an answer that ended.
    func done() { answered.withLock { $0 += 1 } }

    /// FNV-1a of `bytes` as 16 hex digits, so tests can compare large bodies cheaply.
    public static func fnv1a(_ bytes: [UInt8]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    // MARK: streaming helpers

    /// Sends `events` one by one `delayMs` apart, then ends (cleanly, or by breaking off).
    func stream(_ exchange: ServerExchange, events: [[UInt8]], delayMs: Int, breakAfter: Int?) {
        var index = 0
        func next() {
            guard !exchange.isEnded else { done(); return }
            if let b = breakAfter, index >= b {
                done()
                exchange.abortStream()
                return
            }
            if index >= events.count {
                done()
                exchange.finishStream()
                return
            }
            exchange.send(events[index])
            index += 1
            if delayMs > 0 { schedule(after: Double(delayMs) / 1000, next) } else { next() }
        }
        next()
    }

    private func bulk(_ exchange: ServerExchange, total: Int) {
        var h = HTTPHeaders()
        h.add("Content-Type", "application/octet-stream")
        h.add("Content-Length", String(total))
        exchange.startStream(status: 200, headers: h)
        let block = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
        var sent = 0
        func pump() {
            while !exchange.isEnded && sent < total && exchange.pendingOutputBytes < 1 << 20 {
                let n = min(block.count, total - sent)
                block.withUnsafeBytes { exchange.send(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                sent += n
            }
            if sent >= total && !exchange.isEnded { done(); exchange.finishStream() }
        }
        exchange.callbacks.drained = pump
        pump()
    }
}

/// The per-request script read from `x-fake-*` headers.
struct Script {
    var chunks = 5
    var delayMs = 0
    var think: String?
    var content = "Hello from the fake upstream."
    var status: Int?
    var headDelayMs = 0
    var breakAfter: Int?
    var noDone = false
    var hang = false
    /// Anthropic: answer with a tool_use block for this tool, with this input.
    var tool: String?
    var toolInput = #"{"city":"Paris","days":2}"#
    /// Anthropic: an error event of this type right after message_start.
    var streamError: String?
    /// Raw byte script (`x-fake-raw*`, see FakeUpstream+Raw.swift): the pieces' JSON, then the
    /// status, Content-Type, whether to send a Content-Length, the end (clean/reset) and the
    /// encoding (gzip/deflate), checked when the answer starts.
    var raw: String?
    var rawStatus: String?
    var rawType: String?
    var rawLength = false
    var rawEnd: String?
    var rawEncoding: String?

    init(_ h: HTTPHeaders) {
        if let v = h["x-fake-chunks"].flatMap({ Int($0) }) { chunks = max(1, v) }
        if let v = h["x-fake-delay-ms"].flatMap({ Int($0) }) { delayMs = v }
        think = h["x-fake-think"]
        if let v = h["x-fake-content"] { content = v }
        status = h["x-fake-status"].flatMap { Int($0) }
        if let v = h["x-fake-head-delay-ms"].flatMap({ Int($0) }) { headDelayMs = v }
        breakAfter = h["x-fake-break-after"].flatMap { Int($0) }
        noDone = h["x-fake-no-done"] != nil
        hang = h["x-fake-hang"] != nil
        tool = h["x-fake-tool"]
        if let v = h["x-fake-tool-input"] { toolInput = v }
        streamError = h["x-fake-stream-error"]
        raw = h["x-fake-raw"]
        rawStatus = h["x-fake-raw-status"]
        rawType = h["x-fake-raw-type"]
        rawLength = h["x-fake-raw-length"].map { $0 != "0" && !$0.isEmpty } ?? false
        rawEnd = h["x-fake-raw-end"]
        rawEncoding = h["x-fake-raw-encoding"]
    }

    /// `text` cut into `n` nearly equal pieces on character boundaries.
    static func pieces(_ text: String, _ n: Int) -> [String] {
        let chars = Array(text)
        guard n > 1, chars.count > 1 else { return [text] }
        let count = min(n, chars.count)
        var out: [String] = []
        for i in 0..<count {
            let lo = chars.count * i / count, hi = chars.count * (i + 1) / count
            out.append(String(chars[lo..<hi]))
        }
        return out
    }
}

struct UncheckedFake: @unchecked Sendable {
    let value: FakeUpstream
    init(_ value: FakeUpstream) { self.value = value }
}

/// A minimal thread wrapper for the fake's loop.
final class Thread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
        let ctx = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&handle, nil, { arg in
            let t = Unmanaged<Thread>.fromOpaque(arg!).takeRetainedValue()
            t.body()
            return nil
        }, ctx)
    }

    func join() { pthread_join(handle, nil) }
}
