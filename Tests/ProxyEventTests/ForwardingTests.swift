import FakeUpstream
import Glibc
import ProxyCore
import ProxyEvent
import Testing

@Suite("Forwarding over loopback")
struct ForwardingTests {
    @Test("the first streamed chunk reaches the client before the upstream has finished")
    func firstChunkArrivesEarly() throws {
        let h = try Harness()
        let c = try TestConnection(port: h.port)
        try c.sendRequest("POST", "/provider/fake/v1/chat/completions",
                          headers: [("x-fake-chunks", "10"), ("x-fake-delay-ms", "100")],
                          json: #"{"model":"fake-model","stream":true}"#)
        let head = try c.readHead()
        #expect(head.status == 200)
        #expect(head.headers["Content-Type"] == "text/event-stream")
        let first = try c.readChunk()
        #expect(first != nil)
        // Ten chunks 100 ms apart: the upstream is still sending when the first one is read.
        #expect(h.fake.finishedAnswers == 0)
        var body = first ?? []
        while let chunk = try c.readChunk() { body += chunk }
        let text = String(decoding: body, as: UTF8.self)
        #expect(text.hasSuffix("data: [DONE]\n\n"))
        #expect(h.fake.finishedAnswers == 1)
    }

    @Test("a 10 MiB upload is forwarded intact")
    func largeUpload() throws {
        let h = try Harness()
        var body = [UInt8](repeating: 0, count: 10 << 20)
        var x: UInt32 = 12345
        for i in body.indices { x = x &* 1_103_515_245 &+ 12345; body[i] = UInt8(truncatingIfNeeded: x >> 16) }
        let c = try TestConnection(port: h.port)
        let (head, reply) = try c.exchange("POST", "/fake/echo/upload", headers: [("Content-Type", "application/octet-stream")], body: body)
        #expect(head.status == 200)
        let echo = try JSONValue.parse(reply)
        #expect(echo["body_bytes"]?.intValue == body.count)
        #expect(echo["body_fnv1a"]?.stringValue == FakeUpstream.fnv1a(body))
        #expect(h.fake.requests.last?.body.count == body.count)
    }

    @Test("a body over maxBodyBytes is refused with 413, one of exactly that size is accepted")
    func bodyLimit() throws {
        let h = try Harness()
        let limit = 11_534_336
        let c = try TestConnection(port: h.port)
        let (ok, _) = try c.exchange("POST", "/fake/echo/x", body: [UInt8](repeating: 65, count: limit))
        #expect(ok.status == 200)
        let c2 = try TestConnection(port: h.port)
        let (tooBig, _) = try c2.exchange("POST", "/fake/echo/x", body: [UInt8](repeating: 65, count: limit + 1))
        #expect(tooBig.status == 413)
        #expect(h.fake.requests.count == 1)
    }

    @Test("headers over maxHeaderBytes are refused with 431 and never forwarded")
    func headerLimit() throws {
        let h = try Harness()
        let big = String(repeating: "a", count: 9000)
        let (head, body) = try httpRequest(port: h.port, "GET", "/fake/echo/x", headers: [("X-Big", big)])
        #expect(head.status == 431)
        #expect(try JSONValue.parse(body)["error"]?["code"]?.stringValue == "headers_too_large")
        // Far past the limit the HTTP parser refuses first (413 or 400); still never forwarded.
        let huge = String(repeating: "b", count: 40000)
        let (head2, _) = try httpRequest(port: h.port, "GET", "/fake/echo/x", headers: [("X-Huge", huge)])
        #expect([400, 413, 431].contains(head2.status))
        #expect(h.fake.requests.isEmpty)
    }

    @Test("keep-alive: one client connection carries several requests, and the upstream connection is reused")
    func keepAlive() throws {
        let h = try Harness()
        let c = try TestConnection(port: h.port)
        for _ in 0..<3 {
            let (head, _) = try c.exchange("POST", "/provider/fake/v1/chat/completions", headers: [("Content-Type", "application/json")],
                                           body: Array(#"{"model":"fake-model"}"#.utf8))
            #expect(head.status == 200)
        }
        let ids = Set(h.fake.requests.map(\.connectionID))
        #expect(h.fake.requests.count == 3)
        #expect(ids.count == 1)
    }

    @Test("a slow reader keeps proxyd's memory bounded while the upstream sends 128 MiB")
    func slowReaderBoundedMemory() throws {
        // proxyd runs as its own process so its memory is measured alone, whatever else runs.
        let fake = FakeUpstream()
        try fake.start()
        defer { fake.stop() }
        let (proxy, port, _) = try ChildProcess.proxyd(config: Harness.defaultConfig.replacing("FAKE", with: "127.0.0.1:\(fake.port)"))
        _ = try httpRequest(port: port, "GET", "/fake/bulk?bytes=1000000")  // warm up: pools, buffers
        let baseline = residentBytes(pid: proxy.pid)
        let total = 128 << 20
        let c = try TestConnection(port: port)
        c.setReceiveBuffer(64 * 1024)
        try c.sendRequest("GET", "/fake/bulk?bytes=\(total)")
        let head = try c.readHead()
        #expect(head.status == 200)
        #expect(head.headers["Content-Length"] == String(total))
        var peak = baseline
        var received = c.takeBuffered().count
        var reads = 0
        var buf = [UInt8](repeating: 0, count: 256 * 1024)
        while received < total {
            let n = buf.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, 256 * 1024, 0) }
            guard n > 0 else { break }
            received += n
            reads += 1
            if reads % 32 == 0 {
                peak = max(peak, residentBytes(pid: proxy.pid))
                usleep(2000)  // read slower than loopback can deliver
            }
        }
        #expect(received == total)
        // Without backpressure the whole body would pile up in proxyd's buffers.
        #expect(peak - baseline < 16 << 20, "proxyd's resident memory grew by \((peak - baseline) >> 20) MiB")
        proxy.signal(SIGTERM)
        #expect(proxy.waitForExit(10) == 0)
    }

    @Test("a client that disconnects mid-stream cancels its upstream transfer at once")
    func clientDisconnectCancelsUpstream() throws {
        let h = try Harness()
        do {
            let c = try TestConnection(port: h.port)
            try c.sendRequest("POST", "/provider/fake/v1/chat/completions",
                              headers: [("x-fake-chunks", "50"), ("x-fake-delay-ms", "100")],
                              json: #"{"model":"fake-model","stream":true}"#)
            _ = try c.readHead()
            _ = try c.readChunk()
        }  // the connection closes here
        #expect(waitUntil(5) { h.fake.disconnects == 1 })
        #expect(waitUntil(5) { h.log.contains("\"outcome\":\"client_gone\"") })
    }

    @Test("a client that disconnects before the answer starts cancels the upstream too")
    func clientDisconnectBeforeHead() throws {
        let h = try Harness()
        do {
            let c = try TestConnection(port: h.port)
            try c.sendRequest("POST", "/provider/fake/v1/chat/completions", headers: [("x-fake-hang", "1")],
                              json: #"{"model":"fake-model"}"#)
            #expect(waitUntil(5) { h.fake.requests.count == 1 })
        }
        #expect(waitUntil(5) { h.fake.disconnects == 1 })
    }

    @Test("an upstream that sends no head in time is a 504")
    func upstreamTimeout() throws {
        let config = Harness.defaultConfig.replacing("\"timeoutSeconds\": 5", with: "\"timeoutSeconds\": 0.3")
        let h = try Harness(config: config)
        let started = monotonic()
        let (head, body) = try httpRequest(port: h.port, "POST", "/provider/fake/v1/chat/completions",
                                           headers: [("x-fake-head-delay-ms", "3000")], body: #"{"model":"fake-model"}"#)
        #expect(head.status == 504)
        #expect(monotonic() - started < 2.5)
        #expect(try JSONValue.parse(body)["error"]?["code"]?.stringValue == "upstream_timeout")
    }

    @Test("an upstream that refuses the connection is a 502")
    func connectionRefused() throws {
        let port = closedPort()
        let h = try Harness(config: Harness.defaultConfig.replacing("http://FAKE", with: "http://127.0.0.1:\(port)"))
        let (head, body) = try httpRequest(port: h.port, "POST", "/provider/fake/v1/chat/completions", body: #"{"model":"fake-model"}"#)
        #expect(head.status == 502)
        let error = try JSONValue.parse(body)["error"]
        #expect(error?["type"]?.stringValue == "upstream_error")
    }

    @Test("a chat stream that breaks off ends with an error event, never [DONE]")
    func brokenChatStream() throws {
        let h = try Harness()
        let (head, body) = try httpRequest(port: h.port, "POST", "/provider/fake/v1/chat/completions",
                                           headers: [("x-fake-break-after", "3")], body: #"{"model":"fake-model","stream":true}"#)
        #expect(head.status == 200)
        #expect(!body.contains("data: [DONE]"))
        let last = body.split(separator: "\n").last { $0.hasPrefix("data: ") }
        let event = try JSONValue.parse(String(last?.dropFirst(6) ?? ""))
        #expect(event["error"]?["type"]?.stringValue == "upstream_error")
        #expect(event["error"]?["code"]?.stringValue == "stream_interrupted")
    }

    @Test("a chat stream that ends cleanly without [DONE] still ends with an error event")
    func chatStreamWithoutDone() throws {
        let h = try Harness()
        let (_, body) = try httpRequest(port: h.port, "POST", "/provider/fake/v1/chat/completions",
                                        headers: [("x-fake-no-done", "1")], body: #"{"model":"fake-model","stream":true}"#)
        #expect(!body.contains("data: [DONE]"))
        #expect(body.hasSuffix("\"code\":\"stream_incomplete\"}}\n\n"))
    }

    @Test("any other response that breaks off is truncated: no terminating chunk")
    func brokenPassThroughIsTruncated() throws {
        let h = try Harness()
        let c = try TestConnection(port: h.port)
        // An Anthropic stream on the pass-through route is not a chat completion: bytes pass as they are.
        try c.sendRequest("POST", "/fake/v1/messages", headers: [("x-fake-break-after", "3")],
                          json: #"{"model":"claude","stream":true}"#)
        let head = try c.readHead()
        #expect(head.status == 200)
        #expect(throws: TestConnection.Truncated.self) { _ = try c.readBody(head) }
    }

    @Test("responses carry x-request-id (the client's, or a new one) and it is forwarded upstream")
    func requestID() throws {
        let h = try Harness()
        let (head, _) = try httpRequest(port: h.port, "GET", "/fake/v1/models", headers: [("x-request-id", "trace-123")])
        #expect(head.headers["x-request-id"] == "trace-123")
        #expect(head.headers["x-proxyd-provider"] == "fake")
        #expect(h.fake.requests.last?.headers["x-request-id"] == "trace-123")
        let (head2, _) = try httpRequest(port: h.port, "GET", "/healthz")
        #expect(head2.headers["x-request-id"]?.isEmpty == false)
        #expect(head2.headers["Content-Type"] == "application/json")
    }

    @Test("methods and bodies in a row reach the upstream exactly as sent, on reused transfer handles")
    func methodSequence() throws {
        let h = try Harness()
        let steps: [(String, String?)] = [("POST", "a"), ("HEAD", nil), ("GET", nil), ("DELETE", nil), ("PUT", "bb"), ("PATCH", "ccc"),
                                          ("DELETE", "dd"), ("OPTIONS", nil), ("POST", "e"), ("GET", nil), ("POST", "")]
        for (method, body) in steps {
            let before = h.fake.requests.count
            if method == "HEAD" {
                let c = try TestConnection(port: h.port)
                try c.sendRequest("HEAD", "/fake/v1/things/1", headers: [], body: [])
                _ = try c.readHead()
            } else {
                _ = try httpRequest(port: h.port, method, "/fake/v1/things/1", body: body)
            }
            #expect(waitUntil(5) { h.fake.requests.count == before + 1 }, "\(method)")
            let received = h.fake.requests.last
            #expect(received?.method == method)
            #expect(received?.body == Array((body ?? "").utf8), "\(method) \(body ?? "no body")")
        }
    }

    @Test("streams are chunked for HTTP/1.1 clients and sent raw, ended by the close, to HTTP/1.0 ones")
    func streamFraming() throws {
        let h = try Harness()
        let json = #"{"model":"fake-model","stream":true,"messages":[]}"#
        for version in ["1.1", "1.0"] {
            let c = try TestConnection(port: h.port)
            let request = "POST /fake/v1/chat/completions HTTP/\(version)\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "x-fake-chunks: 3\r\nContent-Length: \(json.utf8.count)\r\n\r\n" + json
            try c.sendRaw(Array(request.utf8))
            let head = try c.readHead()
            #expect(head.status == 200)
            #expect((head.headers["Transfer-Encoding"]?.lowercased() == "chunked") == (version == "1.1"), "HTTP/\(version)")
            let body = String(decoding: try c.readBody(head), as: UTF8.self)
            #expect(body.hasPrefix("data: {"), "HTTP/\(version): \(body.prefix(40))")
            #expect(body.hasSuffix("data: [DONE]\n\n"), "HTTP/\(version)")
        }
    }

    @Test("replies proxyd makes carry no invented Content-Type")
    func noInventedContentType() throws {
        let h = try Harness()
        let (head, _) = try httpRequest(port: h.port, "DELETE", "/fake/v1/things/1", headers: [("x-fake-status", "204")])
        #expect(head.headers["Content-Type"] == "application/json")  // the fake's own error body type
        let c = try TestConnection(port: h.port)
        try c.sendRaw(Array("GET /fake/bulk?bytes=10 HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let bulk = try c.readHead()
        #expect(bulk.headers.values("Content-Type") == ["application/octet-stream"])
    }
}

/// A process's resident set size in bytes (from /proc/PID/statm).
func residentBytes(pid: pid_t) -> Int {
    let fd = open("/proc/\(pid)/statm", O_RDONLY)
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 256)
    let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 256) }
    let fields = String(decoding: buf[0..<max(0, n)], as: UTF8.self).split(separator: " ")
    return (fields.count > 1 ? Int(fields[1]) ?? 0 : 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}
