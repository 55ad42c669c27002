@testable import ProxyCore
import Testing

/// The first head of `request`, read whole with roomy limits, or the refusal's status.
private func readHead(_ request: String) -> (head: HTTPRequestHead?, status: Int) {
    let t = parse(wireBytes(request), limits: .init(maxHeaderBytes: 4096, maxBodyBytes: 4096))
    return (t.heads.first, t.status)
}

/// A keep-alive expectation: version, Connection fields, whether the client asked to keep the connection.
struct KeepAliveCase: Sendable, CustomTestStringConvertible {
    var version: String
    var connection: [String]
    var keepAlive: Bool
    var testDescription: String {
        "\(version) with \(connection.isEmpty ? "no Connection" : connection.map { "'\($0)'" }.joined(separator: " and ")): "
            + (keepAlive ? "keep-alive" : "close")
    }
}

let keepAliveCases: [KeepAliveCase] = [
    .init(version: "HTTP/1.1", connection: [], keepAlive: true),
    .init(version: "HTTP/1.1", connection: ["close"], keepAlive: false),
    .init(version: "HTTP/1.1", connection: ["Close"], keepAlive: false),
    .init(version: "HTTP/1.1", connection: ["keep-alive, close"], keepAlive: false),
    .init(version: "HTTP/1.1", connection: ["upgrade ,\tclose "], keepAlive: false),
    .init(version: "HTTP/1.1", connection: ["keep-alive", "close"], keepAlive: false),
    .init(version: "HTTP/1.1", connection: ["closed"], keepAlive: true),
    .init(version: "HTTP/1.1", connection: ["keep-alive"], keepAlive: true),
    .init(version: "HTTP/1.0", connection: [], keepAlive: false),
    .init(version: "HTTP/1.0", connection: ["keep-alive"], keepAlive: true),
    .init(version: "HTTP/1.0", connection: ["Keep-Alive"], keepAlive: true),
    .init(version: "HTTP/1.0", connection: ["x, keep-alive"], keepAlive: true),
    .init(version: "HTTP/1.0", connection: ["keep-alive, close"], keepAlive: false),
    .init(version: "HTTP/1.0", connection: ["keep-alive", "close"], keepAlive: false),
    .init(version: "HTTP/1.0", connection: ["keep-alives"], keepAlive: false),
]

extension HTTPRequestParserTests {
    @Test("method, target, version and fields are kept as sent; values lose only surrounding whitespace")
    func headAsSent() throws {
        let r = readHead("PoSt /v1/chat?q=a%20b&x=/y HTTP/1.1\r\nhost: Example.COM:8080\r\nX-Mixed-CASE:  v 1\t \r\n"
            + "x-dup: 1\r\nX-Dup: 2\r\nX-Empty:\r\nX-Text: caf\u{C3}\u{A9}\r\nContent-Length: 0\r\n\r\n")
        let head = try #require(r.head)
        #expect(head.method == "PoSt")
        #expect(head.target == "/v1/chat?q=a%20b&x=/y")
        #expect(head.version == .http11)
        #expect(head.headers.fields.map(\.name) == ["host", "X-Mixed-CASE", "x-dup", "X-Dup", "X-Empty", "X-Text", "Content-Length"])
        #expect(head.headers.fields.map(\.value) == ["Example.COM:8080", "v 1", "1", "2", "", "café", "0"])
        #expect(head.headers.values("X-DUP") == ["1", "2"])
        #expect(head.framing == .none)
        #expect(!head.forbidsResponseBody)
    }

    @Test("OPTIONS *, HEAD and HTTP/1.0 request lines", arguments: [
        ("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS * 1.1"),
        ("GET /old HTTP/1.0\r\n\r\n", "GET /old 1.0"),
        ("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n", "HEAD /x 1.1"),
    ])
    func requestLines(_ request: String, _ line: String) throws {
        let head = try #require(readHead(request).head)
        #expect("\(head.method) \(head.target) \(head.version == .http11 ? "1.1" : "1.0")" == line)
        #expect(head.forbidsResponseBody == (head.method == "HEAD"))
    }

    @Test("keep-alive follows the version and the Connection tokens", arguments: keepAliveCases)
    func keepAlive(_ c: KeepAliveCase) throws {
        let host = c.version == "HTTP/1.1" ? "Host: a\r\n" : ""
        let fields = c.connection.map { "Connection: \($0)\r\n" }.joined()
        let head = try #require(readHead("GET / \(c.version)\r\n\(host)\(fields)\r\n").head)
        #expect(head.keepAlive == c.keepAlive)
    }

    @Test("framing: none, a length, or chunked", arguments: [
        ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", HTTPRequestFraming.none),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", .none),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", .length(3)),
        ("POST / HTTP/1.0\r\nContent-Length: 007\r\n\r\nabcdefg", .length(7)),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n", .chunked),
        ("POST / HTTP/1.0\r\n\r\n", .none),
    ])
    func framing(_ request: String, _ framing: HTTPRequestFraming) throws {
        #expect(try #require(readHead(request).head).framing == framing)
    }

    @Test("Expect: 100-continue is honoured only for an HTTP/1.1 request with a body", arguments: [
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", true),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n", true),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n", true),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n", false),
        ("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", false),
        ("POST / HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", false),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", false),
    ])
    func expectsContinue(_ request: String, _ expected: Bool) throws {
        #expect(try #require(readHead(request).head).expectsContinue == expected)
    }

    @Test("an expectation other than one 100-continue is 417", arguments: [
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: something\r\n\r\nx",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 100-continue\r\nExpect: 100-continue\r\n\r\nx",
    ])
    func unknownExpectation(_ request: String) {
        #expect(readHead(request).status == 417)
    }

    @Test("a header value that is not UTF-8 is refused; one that is, is decoded")
    func valueEncoding() {
        #expect(readHead("GET / HTTP/1.1\r\nHost: a\r\nX-A: \u{E9}t\u{E9}\r\n\r\n").status == 400)
        #expect(readHead("GET / HTTP/1.1\r\nHost: a\r\nX-A: \u{E2}\u{82}\u{AC}\r\n\r\n").head?.headers["x-a"] == "€")
    }

    @Test("the parser tells whether it is between requests or reading a body")
    func betweenRequests() {
        var parser = HTTPRequestParser(limits: ruleLimits)
        #expect(parser.isBetweenRequests && !parser.isReadingBody)
        var bytes = wireBytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab")
        var r = bytes.withUnsafeBytes { parser.next(UnsafeRawBufferPointer(rebasing: $0[..<5])) }
        #expect(r.event == .needMore && !parser.isBetweenRequests && !parser.isReadingBody)
        r = bytes.withUnsafeBytes { parser.next($0) }
        guard case .head = r.event else { Issue.record("expected a head, got \(r.event)"); return }
        #expect(parser.isReadingBody)
        bytes.removeFirst(r.consumed)
        r = bytes.withUnsafeBytes { parser.next($0) }
        #expect(r.event == .body(0..<2) && r.consumed == 2)
        r = bytes.withUnsafeBytes { parser.next(UnsafeRawBufferPointer(rebasing: $0[2...])) }
        #expect(r.event == .end && r.consumed == 0)
        #expect(parser.isBetweenRequests && !parser.isReadingBody)
    }

    @Test("blank lines before a request line are consumed even before the request line arrives")
    func blankLinesConsumed() {
        var parser = HTTPRequestParser(limits: ruleLimits)
        let bytes = wireBytes("\r\n\r\n\r")
        let r = bytes.withUnsafeBytes { parser.next($0) }
        #expect(r.event == .needMore && r.consumed == 4)
    }
}
