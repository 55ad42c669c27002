@testable import ProxyCore
import Testing

/// One rule of the strict request parser and a request that exercises it.
struct ParserRule: Sendable, CustomTestStringConvertible {
    var rule: String
    /// Written with one scalar per byte (see `wireBytes`).
    var request: String
    /// The refusal status, or 0 when the request must be read to its end.
    var status: Int
    var testDescription: String { "\(status == 0 ? "accepted" : String(status)): \(rule)" }
}

let ruleLimits = HTTPRequestParser.Limits(maxHeaderBytes: 256, maxBodyBytes: 16)

private func post(_ fields: String, _ body: String = "") -> String {
    "POST /p HTTP/1.1\r\nHost: a\r\n\(fields)\r\n\(body)"
}

private func get(_ fields: String) -> String { "GET / HTTP/1.1\r\nHost: a\r\n\(fields)\r\n" }

let parserRules: [ParserRule] = [
    .init(rule: "whitespace between a header name and its colon", request: get("X-A : b\r\n"), status: 400),
    .init(rule: "a tab between a header name and its colon", request: get("X-A\t: b\r\n"), status: 400),
    .init(rule: "obs-fold: a line starting with a space", request: get("X-A: b\r\n c\r\n"), status: 400),
    .init(rule: "obs-fold: a line starting with a tab", request: get("X-A: b\r\n\tc\r\n"), status: 400),
    .init(rule: "a bare CR inside a header value", request: get("X-A: b\rc\r\n"), status: 400),
    .init(rule: "a bare CR before a line's CRLF", request: get("X-A: b\r\r\n"), status: 400),
    .init(rule: "a NUL inside a header value", request: get("X-A: b\u{0}c\r\n"), status: 400),
    .init(rule: "a LF inside a header value (a bare LF)", request: get("X-A: b\nc\r\n"), status: 400),
    .init(rule: "another control byte inside a header value", request: get("X-A: b\u{7}c\r\n"), status: 400),
    .init(rule: "a header name that is not a token", request: get("X[A]: b\r\n"), status: 400),
    .init(rule: "an empty header name", request: get(": b\r\n"), status: 400),
    .init(rule: "Content-Length '+7'", request: post("Content-Length: +7\r\n", "1234567"), status: 400),
    .init(rule: "Content-Length '-1'", request: post("Content-Length: -1\r\n"), status: 400),
    .init(rule: "Content-Length ' 7 7'", request: post("Content-Length:  7 7\r\n", "1234567"), status: 400),
    .init(rule: "Content-Length '0x10'", request: post("Content-Length: 0x10\r\n", "0123456789abcdef"), status: 400),
    .init(rule: "several Content-Length fields that differ", request: post("Content-Length: 1\r\nContent-Length: 2\r\n", "ab"), status: 400),
    .init(rule: "several Content-Length fields that agree", request: post("Content-Length: 2\r\nContent-Length: 2\r\n", "ab"), status: 0),
    .init(rule: "Content-Length together with Transfer-Encoding",
          request: post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), status: 400),
    .init(rule: "Transfer-Encoding together with Content-Length",
          request: post("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "0\r\n\r\n"), status: 400),
    .init(rule: "a chunk size that is not hex", request: post("Transfer-Encoding: chunked\r\n", "z\r\n"), status: 400),
    .init(rule: "a chunk size that overflows", request: post("Transfer-Encoding: chunked\r\n", "1\(String(repeating: "0", count: 16))\r\n"), status: 400),
    .init(rule: "a chunk extension without a name", request: post("Transfer-Encoding: chunked\r\n", "1;=x\r\na\r\n0\r\n\r\n"), status: 400),
    .init(rule: "a chunk extension with an unclosed quoted value",
          request: post("Transfer-Encoding: chunked\r\n", "1;a=\"x\r\na\r\n0\r\n\r\n"), status: 400),
    .init(rule: "a chunk extension with a quoted value", request: post("Transfer-Encoding: chunked\r\n", "1;a=\"x y\"\r\na\r\n0\r\n\r\n"), status: 0),
    .init(rule: "chunk data not followed by CRLF", request: post("Transfer-Encoding: chunked\r\n", "1\r\nab\r\n0\r\n\r\n"), status: 400),
    .init(rule: "an HTTP/1.1 request without Host", request: "GET / HTTP/1.1\r\n\r\n", status: 400),
    .init(rule: "an HTTP/1.1 request with two Host fields", request: "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", status: 400),
    .init(rule: "an HTTP/1.0 request without Host", request: "GET / HTTP/1.0\r\n\r\n", status: 0),
    .init(rule: "an absolute-form target", request: "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", status: 400),
    .init(rule: "an authority-form target", request: "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", status: 400),
    .init(rule: "'*' as the target of a GET", request: "GET * HTTP/1.1\r\nHost: a\r\n\r\n", status: 400),
    .init(rule: "'*' as the target of OPTIONS", request: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", status: 0),
    .init(rule: "Transfer-Encoding 'xchunked'", request: post("Transfer-Encoding: xchunked\r\n"), status: 501),
    .init(rule: "Transfer-Encoding 'gzip, chunked'", request: post("Transfer-Encoding: gzip, chunked\r\n"), status: 501),
    .init(rule: "Transfer-Encoding 'chunked, chunked'", request: post("Transfer-Encoding: chunked, chunked\r\n"), status: 501),
    .init(rule: "two Transfer-Encoding fields", request: post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), status: 501),
    .init(rule: "Transfer-Encoding 'identity'", request: post("Transfer-Encoding: identity\r\n"), status: 501),
    .init(rule: "Transfer-Encoding 'CHUNKED' (codings compare without case)",
          request: post("Transfer-Encoding: CHUNKED\r\n", "0\r\n\r\n"), status: 0),
    .init(rule: "Transfer-Encoding:<tab>chunked (a tab is OWS)", request: post("Transfer-Encoding:\tchunked\r\n", "0\r\n\r\n"), status: 0),
    .init(rule: "Transfer-Encoding in an HTTP/1.0 request",
          request: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400),
    .init(rule: "HTTP/2.0", request: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", status: 505),
    .init(rule: "HTTP/0.9 as a version", request: "GET / HTTP/0.9\r\n\r\n", status: 505),
    .init(rule: "HTTP/1.2", request: "GET / HTTP/1.2\r\nHost: a\r\n\r\n", status: 505),
    .init(rule: "an HTTP/0.9 request line (no version at all)", request: "GET /\r\n\r\n", status: 400),
    .init(rule: "a bare LF ending the request line", request: "GET / HTTP/1.1\nHost: a\r\n\r\n", status: 400),
    .init(rule: "a bare LF ending the head", request: "GET / HTTP/1.1\r\nHost: a\r\n\n", status: 400),
    .init(rule: "a bare LF ending a chunk size line", request: post("Transfer-Encoding: chunked\r\n", "1\na\r\n0\r\n\r\n"), status: 400),
    .init(rule: "Content-Length over maxBodyBytes, before the body", request: post("Content-Length: 17\r\n"), status: 413),
    .init(rule: "Content-Length at maxBodyBytes", request: post("Content-Length: 16\r\n", String(repeating: "b", count: 16)), status: 0),
    .init(rule: "a chunked body passing maxBodyBytes", request: post("Transfer-Encoding: chunked\r\n", "10\r\n\(String(repeating: "c", count: 16))\r\n1\r\n"), status: 413),
    .init(rule: "a chunked body at maxBodyBytes",
          request: post("Transfer-Encoding: chunked\r\n", "10\r\n\(String(repeating: "c", count: 16))\r\n0\r\n\r\n"), status: 0),
    .init(rule: "a head over maxHeaderBytes", request: get("X-Pad: \(String(repeating: "p", count: 256))\r\n"), status: 431),
]

extension HTTPRequestParserTests {
    @Test("each parser rule gives its status, read whole or byte by byte", arguments: parserRules)
    func specRule(_ r: ParserRule) {
        let bytes = wireBytes(r.request)
        let t = parse(bytes, limits: ruleLimits)
        #expect(t.faults.isEmpty, "\(t)")
        #expect(t.status == r.status, "\(t)")
        if r.status == 0 { #expect(t.ended == 1, "\(t)") }
        #expect(parse(bytes, cuts: Array(0..<bytes.count), limits: ruleLimits) == t)
    }

    @Test("a head of exactly maxHeaderBytes is read; one byte more is 431")
    func headLimitBoundary() {
        let base = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: \r\n\r\n".utf8.count
        func head(_ total: Int) -> [UInt8] {
            wireBytes("GET / HTTP/1.1\r\nHost: a\r\nX-Pad: \(String(repeating: "p", count: total - base))\r\n\r\n")
        }
        #expect(parse(head(256), limits: ruleLimits).ended == 1)
        #expect(parse(head(257), limits: ruleLimits).status == 431)
        #expect(parse(head(257), cuts: Array(0..<257), limits: ruleLimits).status == 431)
    }

    @Test("413 for a Content-Length over the limit comes from the head alone, before any body byte")
    func earlyTooLarge() {
        let head = wireBytes(post("Content-Length: 1000000\r\n"))
        let t = parse(head, limits: ruleLimits)
        #expect(t.status == 413 && t.heads.isEmpty)
    }
}
