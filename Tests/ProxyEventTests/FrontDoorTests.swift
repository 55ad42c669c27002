import FakeUpstream
import Glibc
import ProxyCore
import ProxyEvent
import Testing

/// proxyd's own HTTP/1.1 server over loopback: hostile requests, deadlines, limits, keep-alive,
/// pipelining and the listening socket.
@Suite("The front door over loopback")
struct FrontDoorTests {
    /// Requests a front proxy could read differently, each with the status proxyd answers.
    static let hostile: [(name: String, request: String, status: Int)] = [
        ("unknown transfer coding, body smuggling a second request",
         "POST /fake/v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\nContent-Length: 40\r\n\r\nGET /fake/v1/SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("unknown transfer coding alone", "POST /fake/v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 501),
        ("gzip, chunked", "POST /fake/v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
        ("two Transfer-Encoding fields", "POST /fake/v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
        ("Content-Lengths that differ", "POST /fake/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        ("space before the colon", "POST /fake/v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\nabc", 400),
        ("signed Content-Length", "POST /fake/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: +7\r\n\r\nabcdefg", 400),
        ("NUL in a header value", "GET /fake/v1/x HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n", 400),
        ("HTTP/1.1 without Host", "GET /fake/v1/x HTTP/1.1\r\nX-A: a\r\n\r\n", 400),
        ("two Host fields", "GET /fake/v1/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("overflowing Content-Length", "POST /fake/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 184467440737095516160\r\n\r\n", 413),
        ("bare CR", "GET /fake/v1/x HTTP/1.1\r\nHost: x\rX-A: a\r\n\r\n", 400),
        ("bare LF line ends", "GET /fake/v1/x HTTP/1.1\nHost: x\n\n", 400),
        ("obs-fold", "GET /fake/v1/x HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400),
        ("Content-Length with Transfer-Encoding", "POST /fake/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("a chunk size that is not hex", "POST /fake/v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
        ("a chunk size that overflows", "POST /fake/v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000001\r\na\r\n0\r\n\r\n", 400),
        ("a bad chunk extension", "POST /fake/v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;=x\r\nabc\r\n0\r\n\r\n", 400),
        ("HTTP/2.0", "GET /fake/v1/x HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("absolute-form target", "GET http://x/fake/v1/x HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("a header name that is not a token", "GET /fake/v1/x HTTP/1.1\r\nHost: x\r\nX(A): a\r\n\r\n", 400),
        ("Transfer-Encoding in HTTP/1.0", "POST /fake/v1/x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ]

    @Test("each hostile request gets its status as JSON, nothing reaches the upstream, and the next connection is served")
    func hostileRequests() throws {
        let h = try Harness()
        for (name, request, status) in FrontDoorTests.hostile {
            let c = try TestConnection(port: h.port)
            try c.sendRaw(Array(request.utf8))
            let head = try c.readHead()
            #expect(head.status == status, "\(name)")
            #expect(head.headers["Content-Type"] == "application/json", "\(name)")
            #expect(head.headers["Connection"] == "close", "\(name)")
            #expect(head.headers["x-request-id"] != nil, "\(name)")
            let body = try c.readBody(head)
            #expect(try JSONValue.parse(String(decoding: body, as: UTF8.self))["error"]?["message"]?.stringValue != nil, "\(name)")
            #expect(c.peerClosed(within: 5), "\(name): the connection is closed after the refusal")
        }
        #expect(h.fake.requests.isEmpty, "forwarded: \(h.fake.requests.map(\.target))")
        let (ok, _) = try httpRequest(port: h.port, "GET", "/fake/echo/after")
        #expect(ok.status == 200)
        #expect(h.fake.requests.map(\.target) == ["/echo/after"])
        #expect(h.accessLines(route: "refused").count == FrontDoorTests.hostile.count)
    }

    static let shortDeadlines = Harness.defaultConfig.replacing(
        "\"maxHeaderBytes\": 8192",
        with: "\"maxHeaderBytes\": 8192, \"headerTimeoutSeconds\": 0.3, \"bodyTimeoutSeconds\": 0.3, \"idleTimeoutSeconds\": 0.5")

    @Test("a head that does not arrive in time gets 408 and the connection is closed")
    func slowHead() throws {
        let h = try Harness(config: FrontDoorTests.shortDeadlines)
        let c = try TestConnection(port: h.port)
        try c.sendRaw(Array("GET /healthz HTTP/1.1\r\nHo".utf8))
        let head = try c.readHead()
        #expect(head.status == 408)
        #expect(try JSONValue.parse(String(decoding: try c.readBody(head), as: UTF8.self))["error"]?["code"]?.stringValue == "request_timeout")
        #expect(c.peerClosed(within: 5))
    }

    @Test("a lone CR is the start of a request: it gets the head's deadline, not the idle one")
    func loneCR() throws {
        let h = try Harness(config: FrontDoorTests.shortDeadlines.replacing("\"idleTimeoutSeconds\": 0.5", with: "\"idleTimeoutSeconds\": 60"))
        let c = try TestConnection(port: h.port)
        try c.sendRaw([0x0D])
        let head = try c.readHead()
        #expect(head.status == 408)
        #expect(c.peerClosed(within: 5))
    }

    @Test("a client that stops reading is dropped after idleTimeoutSeconds without progress, and its upstream cancelled")
    func stalledReader() throws {
        let h = try Harness(config: FrontDoorTests.shortDeadlines)
        let c = try TestConnection(port: h.port)
        c.setReceiveBuffer(4096)
        try c.sendRequest("GET", "/fake/bulk?bytes=100000000")
        // Nothing is read: proxyd's queue fills, the upstream is paused, and the connection's
        // write deadline ends it.
        #expect(waitUntil(15) { h.fake.disconnects == 1 })
        #expect(waitUntil(5) { h.accessLines(route: "passthrough").first?["outcome"]?.stringValue == "client_gone" })
    }

    @Test("a body that stops arriving gets 408 and is never forwarded")
    func slowBody() throws {
        let h = try Harness(config: FrontDoorTests.shortDeadlines)
        let c = try TestConnection(port: h.port)
        try c.sendRaw(Array("POST /fake/echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789".utf8))
        let head = try c.readHead()
        #expect(head.status == 408)
        #expect(c.peerClosed(within: 5))
        #expect(h.fake.requests.isEmpty)
    }

    @Test("many connections dribbling their heads are all answered 408 and closed")
    func dribblingHeads() throws {
        let h = try Harness(config: FrontDoorTests.shortDeadlines)
        let connections = try (0..<40).map { _ in try TestConnection(port: h.port) }
        let request = Array("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n".utf8)
        // One byte per connection every 50 ms: each head would take seconds to arrive.
        var sent = 0
        let started = monotonic()
        while sent < 20 {
            for c in connections { try c.sendRaw([request[sent]]) }
            sent += 1
            usleep(50_000)
        }
        _ = started
        for c in connections {
            let head = try c.readHead()
            #expect(head.status == 408)
            _ = try c.readBody(head)
            #expect(c.peerClosed(within: 5))
        }
        #expect(h.accessLines(route: "refused").count == connections.count)
        #expect(h.accessLines(route: "refused").allSatisfy { $0["status"]?.intValue == 408 })
    }

    @Test("a connection with no request under way is closed after idleTimeoutSeconds, without an answer")
    func idleConnection() throws {
        let h = try Harness(config: FrontDoorTests.shortDeadlines)
        let c = try TestConnection(port: h.port)
        let (first, _) = try c.exchange("GET", "/healthz")
        #expect(first.status == 200)
        #expect(c.peerClosed(within: 5))
        #expect(c.takeBuffered().isEmpty)
    }

    @Test("413 arrives before the body is sent, for a Content-Length and for a chunked body")
    func earlyPayloadTooLarge() throws {
        let h = try Harness()
        let c = try TestConnection(port: h.port)
        try c.sendRaw(Array("POST /fake/echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 20000000\r\n\r\n".utf8))
        let head = try c.readHead()
        #expect(head.status == 413)
        #expect(try JSONValue.parse(String(decoding: try c.readBody(head), as: UTF8.self))["error"]?["code"]?.stringValue == "body_too_large")
        let c2 = try TestConnection(port: h.port)
        // The chunk's size alone passes the limit: refused before its data is read.
        try c2.sendRaw(Array("POST /fake/echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1000000\r\n".utf8))
        #expect(try c2.readHead().status == 413)
        #expect(h.fake.requests.isEmpty)
    }

    @Test("Expect: 100-continue gets 100 Continue for a request proxyd will read, and none when it refuses")
    func expectContinue() throws {
        let h = try Harness()
        let c = try TestConnection(port: h.port)
        let body = #"{"model":"fake-model"}"#
        try c.sendRaw(Array("POST /provider/fake/v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n".utf8))
        let interim = try c.readHead()
        #expect(interim.status == 100)
        try c.sendRaw(Array(body.utf8))
        let final = try c.readHead()
        #expect(final.status == 200)
        _ = try c.readBody(final)
        let c2 = try TestConnection(port: h.port)
        try c2.sendRaw(Array("POST /fake/echo/x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 20000000\r\n\r\n".utf8))
        #expect(try c2.readHead().status == 413)
    }

    @Test("pipelined requests are answered in order on one connection")
    func pipelining() throws {
        let h = try Harness()
        let c = try TestConnection(port: h.port)
        var batch = "GET /fake/echo/one HTTP/1.1\r\nHost: x\r\n\r\n"
        batch += "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        batch += "POST /fake/echo/three HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        batch += "POST /fake/echo/four HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        try c.sendRaw(Array(batch.utf8))
        var targets: [String] = []
        for _ in 0..<4 {
            let head = try c.readHead()
            #expect(head.status == 200)
            let json = try JSONValue.parse(String(decoding: try c.readBody(head), as: UTF8.self))
            targets.append(json["target"]?.stringValue ?? json["status"]?.stringValue ?? "?")
        }
        #expect(targets == ["/echo/one", "ok", "/echo/three", "/echo/four"])
        #expect(h.fake.requests.map(\.body) == [[], Array("hello".utf8), Array("abc".utf8)])
    }

    @Test("HTTP/1.0: keep-alive with a Content-Length answer, and a keep-alive stream delimited by the close")
    func http10() throws {
        let h = try Harness()
        let c = try TestConnection(port: h.port)
        for _ in 0..<2 {
            try c.sendRaw(Array("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".utf8))
            let head = try c.readHead()
            #expect(head.status == 200)
            #expect(head.headers["Connection"]?.lowercased() == "keep-alive")
            #expect(head.headers["Content-Length"] != nil)
            _ = try c.readBody(head)
        }
        let json = #"{"model":"fake-model","stream":true,"messages":[]}"#
        try c.sendRaw(Array(("POST /fake/v1/chat/completions HTTP/1.0\r\nConnection: keep-alive\r\nContent-Type: application/json\r\n"
            + "x-fake-chunks: 3\r\nContent-Length: \(json.utf8.count)\r\n\r\n" + json).utf8))
        let head = try c.readHead()
        #expect(head.status == 200)
        #expect(head.headers["Content-Length"] == nil)
        #expect(head.headers["Transfer-Encoding"] == nil)
        #expect(head.headers["Connection"]?.lowercased() == "close")
        let body = String(decoding: try c.readBody(head), as: UTF8.self)
        #expect(body.hasPrefix("data: {"))
        #expect(body.hasSuffix("data: [DONE]\n\n"))
    }

    @Test("a HEAD answer has its length and no body; the connection carries on")
    func headRequest() throws {
        let h = try Harness()
        let c = try TestConnection(port: h.port)
        try c.sendRaw(Array("HEAD /fake/echo/head HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let head = try c.readHead()
        #expect(head.status == 200)
        #expect(Int(head.headers["Content-Length"] ?? "") ?? 0 > 0)
        let (next, body) = try c.exchange("GET", "/healthz")
        #expect(next.status == 200)
        #expect(String(decoding: body, as: UTF8.self).contains("ok"))
    }

    @Test("a second proxyd on a port one already serves exits 1 saying the address is in use")
    func portInUse() throws {
        let h = try Harness()
        let (fd, path) = makeTemporaryFile("proxyd-config")
        let config = Array(#"{"inheritDefaults": false}"#.utf8)
        _ = config.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        defer { unlink(path) }
        let second = try ChildProcess(executable: ChildProcess.buildDirectory + "/proxyd",
                                      arguments: ["serve", "--config", path, "--listen", "127.0.0.1:\(h.port)"])
        #expect(second.waitForExit(20) == 1)
        #expect(second.stderr.contains("Address already in use"))
        // The first one is untouched.
        #expect(try httpRequest(port: h.port, "GET", "/healthz").0.status == 200)
    }

    @Test("out of file descriptors: accepting pauses with one JSON warning a second, and serving goes on")
    func outOfDescriptors() throws {
        let (proxy, port, path) = try ChildProcess.proxyd(config: #"{"inheritDefaults": false}"#, fileLimit: 40)
        defer { unlink(path) }
        let first = try TestConnection(port: port)
        #expect(try first.exchange("GET", "/healthz").0.status == 200)
        // More connections than proxyd has descriptors for; the kernel queues the rest.
        var extra: [TestConnection] = []
        for _ in 0..<60 { extra.append(try TestConnection(port: port, timeoutSeconds: 5)) }
        #expect(waitUntil(10) { proxy.stderr.contains("accepting paused") })
        // A connection proxyd already has is still served.
        #expect(try first.exchange("GET", "/healthz").0.status == 200)
        // Room again: the queued connections are taken and served.
        extra.removeFirst(50)
        let late = extra.last!
        #expect(try late.exchange("GET", "/healthz").0.status == 200)
        let lines = proxy.stderr.split(separator: "\n")
        #expect(lines.allSatisfy { (try? JSONValue.parse(String($0))) != nil }, "every stderr line is JSON")
        let warnings = lines.filter { $0.contains("accepting paused") }
        #expect(warnings.allSatisfy { $0.contains("\"level\":\"warn\"") })
        #expect(warnings.count <= 5, "\(warnings.count) warnings")
        proxy.signal(SIGTERM)
        #expect(proxy.waitForExit(10) == 0)
    }
}
