import FakeUpstream
import Glibc
import ProxyCore
import Synchronization
import Testing

/// proxyd in a process of its own (so its memory can be read from /proc) in front of an
/// in-process fake upstream that the tests script byte for byte.
private final class BoundedProxy {
    let fake = FakeUpstream()
    let proxy: ChildProcess
    let port: Int

    static let config = """
    {"inheritDefaults": false,
     "server": {"workers": 1, "maxResponseBytes": 1048576, "maxEventBytes": 262144, "maxIdleUpstreamConnections": 4},
     "providers": {
       "fake": {"baseUrl": "http://FAKE", "allowedPaths": ["/v1/*", "/bulk"], "models": ["fake-model"], "timeoutSeconds": 5, "think": "off"},
       "split": {"baseUrl": "http://FAKE", "allowedPaths": ["/v1/*"], "timeoutSeconds": 5, "think": "split"},
       "strip": {"baseUrl": "http://FAKE", "allowedPaths": ["/v1/*"], "timeoutSeconds": 5, "think": "strip"},
       "dead": {"baseUrl": "http://DEAD", "allowedPaths": ["/v1/*"], "timeoutSeconds": 5}
     },
     "log": {"level": "info"}}
    """

    init() throws {
        try fake.start()
        let text = BoundedProxy.config.replacing("FAKE", with: "127.0.0.1:\(fake.port)")
            .replacing("DEAD", with: "127.0.0.1:\(closedPort())")
        (proxy, port, _) = try ChildProcess.proxyd(config: text)
    }

    deinit { fake.stop() }

    /// The most memory proxyd has held so far (VmHWM), in bytes.
    var peakRSS: Int { statusField("VmHWM") }
    var rss: Int { statusField("VmRSS") }

    private func statusField(_ name: String) -> Int {
        let text = readAll("/proc/\(proxy.pid)/status")
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }

    /// The access lines logged so far, parsed with their level.
    var accessLines: [JSONValue] {
        proxy.stderr.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
            .filter { $0["msg"]?.stringValue == "access" }
    }

    func accessLine(_ requestID: String) -> JSONValue? {
        var line: JSONValue?
        _ = waitUntil(10) {
            line = accessLines.first { $0["request_id"]?.stringValue == requestID }
            return line != nil
        }
        return line
    }
}

/// A raw script (see FakeUpstream) as the header value.
private func raw(_ pieces: [(String, Int)]) -> String {
    JSONValue.array(pieces.map { .array([.string($0.0), .int($0.1)]) }).encoded().withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
}

private func chunk(_ content: String) -> String {
    #"data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"\#(content)"},"finish_reason":null}]}"# + "\n\n"
}

private let chatBody = #"{"model":"fake-model","messages":[{"role":"user","content":"hi"}],"stream":true}"#
private let wholeBody = #"{"model":"fake-model","messages":[{"role":"user","content":"hi"}]}"#

/// The `delta[field]` texts of a chat stream's events, joined.
private func joined(_ stream: [UInt8], _ field: String) -> String {
    var parser = SSEParser()
    var out = ""
    parser.feed(stream) { item in
        guard case .event(let e, _) = item, let v = try? JSONValue.parse(e.data) else { return }
        for c in v["choices"]?.arrayValue ?? [] { out += c["delta"]?[field]?.stringValue ?? "" }
    }
    return out
}

/// A connection handed to one other thread, which alone uses it until joined.
private struct UncheckedConnection: @unchecked Sendable {
    let value: TestConnection
    init(_ value: TestConnection) { self.value = value }
}

/// Runs `body` on a thread of its own; `join` waits for it.
private final class TestThread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&handle, nil, { arg in
            let t = Unmanaged<TestThread>.fromOpaque(arg!).takeRetainedValue()
            t.body()
            return nil
        }, context)
    }

    func join() { pthread_join(handle, nil) }
}

/// Reads a chunked body to its end; nil when the transfer was truncated.
private func readAllChunks(_ c: TestConnection) throws -> [UInt8]? {
    var out: [UInt8] = []
    do {
        while let piece = try c.readChunk() { out += piece }
    } catch is TestConnection.Truncated {
        return nil
    }
    return out
}

@Suite("Upstream answers are bounded, event by event and honestly recorded", .serialized)
struct UpstreamBoundsTests {
    @Test("a whole answer over maxResponseBytes is a 502 response_too_large, cancelled at once, memory small",
          arguments: [false, true])
    func wholeAnswerTooLarge(announced: Bool) throws {
        let p = try BoundedProxy()
        let size = 256 << 20
        let c = try TestConnection(port: p.port)
        var headers = [("x-fake-raw", raw([(#"{"choices":[{"index":0,"message":{"content":""#, 1), ("a", size), (#""}}]}"#, 1)])),
                       ("x-fake-raw-type", "application/json"), ("x-request-id", "too-large-\(announced)")]
        if announced { headers.append(("x-fake-raw-length", "1")) }
        try c.sendRequest("POST", "/fake/v1/chat/completions", headers: headers, json: wholeBody)
        let head = try c.readHead()
        let body = try JSONValue.parse(try c.readBody(head))
        #expect(head.status == 502)
        #expect(body["error"]?["code"]?.stringValue == "response_too_large")
        #expect(head.headers["x-proxyd-provider"] == "fake")
        // The upstream transfer was dropped long before its end.
        #expect(waitUntil(10) { p.fake.disconnects == 1 }, "disconnects \(p.fake.disconnects), finished \(p.fake.finishedAnswers)")
        #expect(p.peakRSS < 64 << 20, "peak RSS \(p.peakRSS)")
        let line = try #require(p.accessLine("too-large-\(announced)"))
        #expect(line["level"]?.stringValue == "warn" && line["status"]?.intValue == 502 && line["provider"]?.stringValue == "fake")
    }

    @Test("an event over maxEventBytes ends the stream with event_too_large after the complete events, memory small",
          arguments: ["fake", "split"])
    func eventTooLarge(provider: String) throws {
        let p = try BoundedProxy()
        let c = try TestConnection(port: p.port)
        let script = raw([(chunk("one"), 1), (chunk("two"), 1), (#"data: {"choices":[{"index":0,"delta":{"content":""#, 1), ("b", 64 << 20),
                          (#""}}]}"# + "\n\n", 1), ("data: [DONE]\n\n", 1)])
        try c.sendRequest("POST", "/\(provider)/v1/chat/completions", headers: [("x-fake-raw", script)], json: chatBody)
        let head = try c.readHead()
        #expect(head.status == 200)
        let out = String(decoding: try #require(try readAllChunks(c)), as: UTF8.self)
        #expect(out.hasPrefix(chunk("one") + chunk("two")))
        #expect(out.hasSuffix(#""code":"event_too_large"}}"# + "\n\n"))
        #expect(!out.contains("bbbb") && !out.contains("[DONE]"))
        #expect(waitUntil(10) { p.fake.disconnects == 1 })
        #expect(p.peakRSS < 64 << 20, "peak RSS \(p.peakRSS)")
    }

    @Test("a stream reset mid-event, in off, split and strip: the openai SDK gets the complete events, then openai.APIError",
          .enabled(if: PythonClient.available))
    func resetMidEventSDK() throws {
        let p = try BoundedProxy()
        let script = raw([(chunk("<think>hmm</think>Hel"), 1), (chunk("lo"), 1),
                          (#"data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"NEVER"#, 1)])
        let base = "http://127.0.0.1:\(p.port)"
        let (status, out, err) = try PythonClient.run("openai_broken_streams.py",
                                                      ["off=\(base)/fake/v1", "split=\(base)/split/v1", "strip=\(base)/strip/v1"],
                                                      environment: ["FAKE_RAW": script, "FAKE_END": "reset"])
        #expect(status == 0, "\(err)")
        let result = try JSONValue.parse(out)
        for mode in ["off", "split", "strip"] {
            let seen = try #require(result[mode], "\(out)")
            #expect(seen["error_class"]?.stringValue == "APIError", "\(mode): \(seen)")
            #expect(seen["code"]?.stringValue == "stream_interrupted", "\(mode): \(seen)")
            #expect(seen["chunks"]?.intValue == 2, "\(mode): \(seen)")
        }
        #expect(result["off"]?["content"]?.stringValue == "<think>hmm</think>Hello")
        #expect(result["split"]?["content"]?.stringValue == "Hello" && result["split"]?["reasoning"]?.stringValue == "hmm")
        #expect(result["strip"]?["content"]?.stringValue == "Hello" && result["strip"]?["reasoning"]?.stringValue == "")
        // An event over the limit reaches the SDK the same way.
        let big = raw([(chunk("x"), 1), (#"data: {"choices":[{"index":0,"delta":{"content":""#, 1), ("z", 1 << 20)])
        let (status2, out2, err2) = try PythonClient.run("openai_broken_streams.py", ["off=\(base)/fake/v1"],
                                                         environment: ["FAKE_RAW": big, "FAKE_END": "clean"])
        #expect(status2 == 0, "\(err2)")
        let seen = try JSONValue.parse(out2)["off"]
        #expect(seen?["error_class"]?.stringValue == "APIError" && seen?["code"]?.stringValue == "event_too_large", "\(out2)")
    }

    @Test("proxyd asks for identity; a compressed answer anyway is decoded, split and sent plain", arguments: ["gzip", "deflate"])
    func compressedAnswers(encoding: String) throws {
        let p = try BoundedProxy()
        // A whole answer with reasoning in tags.
        let whole = raw([(#"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"<think>deep</think>Answer"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#, 1)])
        let c = try TestConnection(port: p.port)
        let (head, bytes) = try c.exchange("POST", "/split/v1/chat/completions",
                                           headers: [("Content-Type", "application/json"), ("Accept-Encoding", "gzip, br"),
                                                     ("x-fake-raw", whole), ("x-fake-raw-type", "application/json"),
                                                     ("x-fake-raw-encoding", encoding), ("x-fake-raw-length", "1")],
                                           body: Array(wholeBody.utf8))
        #expect(head.status == 200 && head.headers["Content-Encoding"] == nil)
        let answer = try JSONValue.parse(bytes)
        let message = answer["choices"]?.arrayValue?.first?["message"]
        #expect(message?["content"]?.stringValue == "Answer")
        #expect(message?["reasoning_content"]?.stringValue == "deep")
        #expect(head.headers["x-proxyd-cost-usd"] != nil || answer["usage"]?["total_tokens"]?.intValue == 7)
        #expect(p.fake.requests.last?.headers.values("Accept-Encoding") == ["identity"])
        // A stream, with a length and chunked.
        for length in ["1", "0"] {
            let stream = raw([(chunk("<think>a"), 1), (chunk("b</think>C"), 1), ("data: [DONE]\n\n", 1)])
            try c.sendRequest("POST", "/split/v1/chat/completions",
                              headers: [("x-fake-raw", stream), ("x-fake-raw-encoding", encoding), ("x-fake-raw-length", length)],
                              json: chatBody)
            let h = try c.readHead()
            #expect(h.status == 200 && h.headers["Content-Encoding"] == nil)
            let out = try #require(try readAllChunks(c))
            let text = String(decoding: out, as: UTF8.self)
            #expect(joined(out, "content") == "C" && joined(out, "reasoning_content") == "ab", "\(text)")
            #expect(text.hasSuffix("data: [DONE]\n\n") && !text.contains("error"))
        }
        // Routes proxyd does not read keep the client's Accept-Encoding and the upstream's bytes.
        let passed = try c.exchange("GET", "/fake/v1/models", headers: [("Accept-Encoding", "gzip"), ("x-fake-raw", raw([("plain", 1)])),
                                                                          ("x-fake-raw-type", "text/plain"), ("x-fake-raw-encoding", encoding)])
        #expect(passed.0.headers["Content-Encoding"] == encoding)
        #expect(passed.1 == StoredDeflate.encode(Array("plain".utf8), format: encoding == "gzip" ? .gzip : .zlib))
        #expect(p.fake.requests.last?.headers.values("Accept-Encoding") == ["gzip"])
        let lines = p.accessLines
        #expect(!lines.contains { $0["outcome"] != nil })
    }

    @Test("while one client takes a 200 MiB answer, /healthz on the same worker answers promptly")
    func fairShare() throws {
        let p = try BoundedProxy()
        let total = 200 << 20
        let event = chunk(String(repeating: "y", count: 4000))
        let count = total / event.utf8.count
        let big = try TestConnection(port: p.port)
        try big.sendRequest("POST", "/fake/v1/chat/completions", headers: [("x-fake-raw", raw([(event, count), ("data: [DONE]\n\n", 1)]))],
                            json: chatBody)
        let head = try big.readHead()
        #expect(head.status == 200)
        // The big answer is read on another thread, as fast as it comes.
        let done = Atomic(false)
        let got = Atomic(0)
        let handle = UncheckedConnection(big)
        let reader = TestThread {
            var n = 0
            while let piece = try? handle.value.readChunk() { n += piece.count }
            got.store(n, ordering: .sequentiallyConsistent)
            done.store(true, ordering: .sequentiallyConsistent)
        }
        var slowest = 0.0
        var answered = 0
        while !done.load(ordering: .sequentiallyConsistent) && answered < 200 {
            let started = monotonic()
            let (h, _) = try httpRequest(port: p.port, "GET", "/healthz")
            #expect(h.status == 200)
            slowest = max(slowest, monotonic() - started)
            answered += 1
        }
        reader.join()
        #expect(got.load(ordering: .sequentiallyConsistent) == count * event.utf8.count + "data: [DONE]\n\n".utf8.count)
        #expect(answered > 0)
        // Generous (a debug build on a shared machine); the benchmark script measures the p99.
        #expect(slowest < 1.0, "slowest /healthz took \(slowest) s")
        #expect(p.peakRSS < 64 << 20, "peak RSS \(p.peakRSS)")
    }

    @Test("records: a connection failure names its provider at warn; bytes_out is what the client took; a client that left is client_gone")
    func records() throws {
        let p = try BoundedProxy()
        // Connection refused: warn, provider named in the access line and the metrics.
        let (h, _) = try httpRequest(port: p.port, "POST", "/dead/v1/chat/completions", headers: [("x-request-id", "dead-1")], body: wholeBody)
        #expect(h.status == 502 && h.headers["x-proxyd-provider"] == "dead")
        let dead = try #require(p.accessLine("dead-1"))
        #expect(dead["level"]?.stringValue == "warn" && dead["provider"]?.stringValue == "dead")
        let (_, metrics) = try httpRequest(port: p.port, "GET", "/metrics")
        #expect(metrics.contains(#"proxyd_requests_total{route="passthrough",provider="dead",status="502"} 1"#), "\(metrics)")

        // A whole exchange: bytes_out is every byte the client received.
        let c = try TestConnection(port: p.port)
        try c.sendRequest("POST", "/fake/v1/chat/completions", headers: [("x-request-id", "plain-1"), ("Connection", "close")], json: chatBody)
        let head = try c.readHead()
        _ = try readAllChunks(c)
        #expect(head.status == 200)
        #expect(c.peerClosed(within: 5))
        let plain = try #require(p.accessLine("plain-1"))
        #expect(plain["bytes_out"]?.intValue == c.received, "\(plain)")
        #expect(plain["outcome"] == nil && plain["level"] == nil || plain["level"]?.stringValue == "info")

        // A client that leaves a long answer early: client_gone, bytes_out far below the answer.
        let leaver = try TestConnection(port: p.port)
        leaver.setReceiveBuffer(4096)
        try leaver.sendRequest("POST", "/fake/v1/chat/completions",
                               headers: [("x-request-id", "gone-1"), ("x-fake-raw", raw([(chunk("z"), 10_000_000)]))], json: chatBody)
        _ = try leaver.readHead()
        _ = try leaver.readChunk()
        close(leaver.fd)
        let gone = try #require(p.accessLine("gone-1"))
        #expect(gone["outcome"]?.stringValue == "client_gone")
        #expect((gone["bytes_out"]?.intValue ?? .max) < 8 << 20, "\(gone)")
        #expect(gone["provider"]?.stringValue == "fake")
        #expect(waitUntil(10) { p.fake.disconnects >= 1 })
    }

    @Test("after a burst, proxyd keeps at most maxIdleUpstreamConnections upstream connections open")
    func idlePool() throws {
        let p = try BoundedProxy()
        // 24 streams at once, each held open by the upstream for a moment.
        var clients: [TestConnection] = []
        for _ in 0..<24 {
            let c = try TestConnection(port: p.port)
            try c.sendRequest("POST", "/fake/v1/chat/completions", headers: [("x-fake-chunks", "3"), ("x-fake-delay-ms", "200")], json: chatBody)
            clients.append(c)
        }
        for c in clients {
            #expect(try c.readHead().status == 200)
            _ = try readAllChunks(c)
        }
        #expect(Set(p.fake.requests.map(\.connectionID)).count >= 12)
        clients.removeAll()
        // Upstream connections proxyd still holds: TCP sockets to the fake's port.
        let fakePort = String(p.fake.port, radix: 16, uppercase: true)
        func upstreamSockets() -> Int {
            readAll("/proc/\(p.proxy.pid)/net/tcp").split(separator: "\n").filter { line in
                let f = line.split(separator: " ")
                // remote address is field 2, state field 3 (01 = established)
                return f.count > 3 && f[2].hasSuffix(":" + String(repeating: "0", count: max(0, 4 - fakePort.count)) + fakePort) && f[3] == "01"
            }.count
        }
        #expect(waitUntil(5) { upstreamSockets() <= 4 }, "\(upstreamSockets()) upstream connections open")
    }
}
