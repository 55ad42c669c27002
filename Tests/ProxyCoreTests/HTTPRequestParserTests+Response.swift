@testable import ProxyCore
import Testing

private func request(_ method: String = "GET", _ version: HTTPVersion = .http11, keepAlive: Bool = true) -> HTTPRequestHead {
    HTTPRequestHead(method: method, target: "/", version: version, keepAlive: keepAlive)
}

/// The header lines of a written head, split at CRLF, without the status line and the empty line.
private func fieldLines(_ out: [UInt8]) -> [String] {
    var lines: [String] = []
    var start = 0
    for i in out.indices where i > 0 && out[i - 1] == 0x0D && out[i] == 0x0A {
        lines.append(String(decoding: out[start..<(i - 1)], as: UTF8.self))
        start = i + 1
    }
    lines.append(String(decoding: out[start...], as: UTF8.self))
    #expect(lines.count >= 3 && lines.suffix(2) == ["", ""], "the head ends with one empty line")
    lines.removeLast(2)
    lines.removeFirst()
    return lines
}

/// A request's method and version, a status and a known length, and the framing they call for.
struct FramingCase: Sendable, CustomTestStringConvertible {
    var method: String, version: HTTPVersion, status: Int, length: Int?, framing: HTTPResponseFraming
    init(_ method: String, _ version: HTTPVersion, _ status: Int, _ length: Int?, _ framing: HTTPResponseFraming) {
        (self.method, self.version, self.status, self.length, self.framing) = (method, version, status, length, framing)
    }
    var testDescription: String {
        "\(method) \(version == .http11 ? "1.1" : "1.0") \(status), length \(length.map(String.init) ?? "unknown"): \(framing)"
    }
}

/// A framing and connection choice, and the fields writeHead must add for it.
struct WrittenFraming: Sendable, CustomTestStringConvertible {
    var framing: HTTPResponseFraming, keepAlive: Bool, version: HTTPVersion, fields: [String]
    init(_ framing: HTTPResponseFraming, keepAlive: Bool, _ version: HTTPVersion, _ fields: [String]) {
        (self.framing, self.keepAlive, self.version, self.fields) = (framing, keepAlive, version, fields)
    }
    var testDescription: String { "\(framing), \(keepAlive ? "keep-alive" : "close"), \(version == .http11 ? "1.1" : "1.0")" }
}

extension HTTPRequestParserTests {
    @Suite("HTTPResponseRules: framing, keep-alive and writing a response head")
    struct ResponseRules {
        @Test("framing follows the method, the status, the known length and the version", arguments: [
            FramingCase("HEAD", .http11, 200, 12, .bodyless(announcedLength: 12)),
            FramingCase("HEAD", .http11, 200, nil, .bodyless(announcedLength: nil)),
            FramingCase("GET", .http11, 304, 5, .bodyless(announcedLength: 5)),
            FramingCase("GET", .http11, 204, 5, .bodyless(announcedLength: nil)),
            FramingCase("GET", .http11, 101, nil, .bodyless(announcedLength: nil)),
            FramingCase("GET", .http11, 200, 0, .length(0)),
            FramingCase("GET", .http10, 200, 7, .length(7)),
            FramingCase("GET", .http11, 200, nil, .chunked),
            FramingCase("GET", .http10, 200, nil, .untilClose),
            FramingCase("POST", .http11, 500, nil, .chunked),
        ])
        func framing(_ c: FramingCase) {
            #expect(HTTPResponseRules.framing(for: request(c.method, c.version), status: c.status, length: c.length) == c.framing)
            #expect(c.framing.carriesBody == !(c.method == "HEAD" || c.status == 304 || c.status == 204 || c.status < 200))
        }

        @Test("keepsAlive: the client asked, the body's end is known without closing, and not draining")
        func keepsAlive() {
            let rules = HTTPResponseRules.self
            #expect(rules.keepsAlive(request(), framing: .chunked, draining: false))
            #expect(rules.keepsAlive(request(), framing: .length(3), draining: false))
            #expect(rules.keepsAlive(request(), framing: .bodyless(announcedLength: nil), draining: false))
            #expect(!rules.keepsAlive(request(), framing: .length(3), draining: true))
            #expect(!rules.keepsAlive(request(keepAlive: false), framing: .length(3), draining: false))
            #expect(!rules.keepsAlive(request(), framing: .untilClose, draining: false))
            #expect(rules.keepsAlive(request("GET", .http10), framing: .length(3), draining: false))
            #expect(!rules.keepsAlive(request("GET", .http10), framing: .chunked, draining: false))
            #expect(!rules.keepsAlive(request("GET", .http10), framing: .untilClose, draining: false))
            #expect(rules.keepsAlive(request("HEAD", .http10), framing: .bodyless(announcedLength: 4), draining: false))
            #expect(!rules.keepsAlive(request("HEAD", .http10), framing: .bodyless(announcedLength: nil), draining: false))
        }

        @Test("writeHead replaces the framing fields and drops any field that could split the response")
        func writeHeadIsSafe() {
            let headers = HTTPHeaders([
                ("Content-Type", "application/json"),
                ("Content-Length", "999"), ("transfer-encoding", "gzip, chunked"), ("Connection", "keep-alive, Upgrade"),
                ("X-Split", "a\r\nInjected: yes"), ("X-Lf", "a\nInjected: yes"), ("X-Cr", "a\rb"), ("X-Nul", "a\u{0}b"),
                ("Bad Name", "v"), ("Bad:Name", "v"), ("", "v"), ("X-Name\r\nInjected", "v"),
                ("X-Kept", "caf\u{E9} \t ok"),
            ])
            var out: [UInt8] = []
            HTTPResponseRules.writeHead(status: 200, headers: headers, framing: .length(5), keepAlive: false, version: .http11,
                                        date: "Mon, 07 Dec 2026 09:00:00 GMT", into: &out)
            #expect(out.starts(with: Array("HTTP/1.1 200 OK\r\n".utf8)))
            // Every CR is followed by LF and every LF preceded by CR: nothing can end a line early.
            for (i, b) in out.enumerated() {
                if b == 0x0D { #expect(i + 1 < out.count && out[i + 1] == 0x0A) }
                if b == 0x0A { #expect(i > 0 && out[i - 1] == 0x0D) }
                #expect(b != 0)
            }
            #expect(fieldLines(out) == [
                "Content-Type: application/json",
                "X-Kept: caf\u{E9} \t ok",
                "Date: Mon, 07 Dec 2026 09:00:00 GMT",
                "Content-Length: 5",
                "Connection: close",
            ])
        }

        @Test("writeHead writes each framing's own fields", arguments: [
            WrittenFraming(.chunked, keepAlive: true, .http11, ["Transfer-Encoding: chunked"]),
            WrittenFraming(.untilClose, keepAlive: false, .http10, ["Connection: close"]),
            WrittenFraming(.length(12), keepAlive: true, .http10, ["Content-Length: 12", "Connection: keep-alive"]),
            WrittenFraming(.length(0), keepAlive: true, .http11, ["Content-Length: 0"]),
            WrittenFraming(.bodyless(announcedLength: 42), keepAlive: true, .http11, ["Content-Length: 42"]),
            WrittenFraming(.bodyless(announcedLength: nil), keepAlive: true, .http11, []),
        ])
        func writeHeadFraming(_ c: WrittenFraming) {
            var out: [UInt8] = []
            let given = HTTPHeaders([("Date", "given"), ("Content-Length", "1"), ("Transfer-Encoding", "chunked")])
            HTTPResponseRules.writeHead(status: 200, headers: given, framing: c.framing, keepAlive: c.keepAlive, version: c.version,
                                        date: "not used", into: &out)
            #expect(fieldLines(out) == ["Date: given"] + c.fields)
        }

        @Test("announcedLength reads plain digits only")
        func announcedLength() {
            func length(_ v: String) -> Int? { HTTPResponseRules.announcedLength(HTTPHeaders([("content-length", v)])) }
            #expect(length("0") == 0 && length("1234") == 1234 && length("007") == 7)
            #expect(length("") == nil && length("+1") == nil && length("-1") == nil && length("1 2") == nil && length("0x1") == nil)
            #expect(length(String(repeating: "9", count: 19)) == nil)
            #expect(HTTPResponseRules.announcedLength(HTTPHeaders()) == nil)
        }

        @Test("chunk prefixes are lower-case hex and CRLF; the last chunk and 100 Continue are fixed bytes")
        func chunkBytes() {
            var buffer = [UInt8](repeating: 0, count: 18)
            for (count, text) in [(0, "0\r\n"), (9, "9\r\n"), (255, "ff\r\n"), (4096, "1000\r\n"), (Int(Int32.max), "7fffffff\r\n")] {
                let n = buffer.withUnsafeMutableBufferPointer { HTTPResponseRules.writeChunkPrefix(count, into: $0) }
                #expect(String(decoding: buffer[..<n], as: UTF8.self) == text)
            }
            #expect(HTTPResponseRules.lastChunk == Array("0\r\n\r\n".utf8))
            #expect(HTTPResponseRules.continueHead == Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        }
    }

    @Suite("HTTPSyntax: the word-at-a-time checks answer as the byte checks do")
    struct SyntaxWords {
        @Test("isTokenByte is isToken for every byte")
        func tokenBitmap() {
            for b in 0...255 { #expect(HTTPSyntax.isTokenByte(UInt8(b)) == HTTPSyntax.isToken(UInt8(b)), "byte \(b)") }
        }

        @Test("firstByteAtMostCR and checkFieldValue agree with a plain scan on random bytes (fixed seed)")
        func randomBytes() {
            var rng = SplitMix(seed: 0xC0FF_EE11)
            // Mostly visible ASCII, with controls, DEL and high bytes sprinkled in.
            let alphabet: [UInt8] = Array(0x20...0x7E) + [0x00, 0x09, 0x0A, 0x0B, 0x0D, 0x0E, 0x1F, 0x7F, 0x80, 0xC3, 0xFF]
            for _ in 0..<2000 {
                let count = Int(rng.next() % 40)
                let bytes = (0..<count).map { _ in
                    rng.next() % 4 == 0 ? alphabet[Int(rng.next() % UInt64(alphabet.count))] : UInt8(0x61 + rng.next() % 26)
                }
                let from = count == 0 ? 0 : Int(rng.next() % UInt64(count + 1))
                let hi = from + Int(rng.next() % UInt64(count - from + 1))
                bytes.withUnsafeBytes { p in
                    let plain = (from..<count).first { bytes[$0] <= 0x0D } ?? count
                    #expect(HTTPSyntax.firstByteAtMostCR(p, from: from) == plain, "\(bytes) from \(from)")
                    let slice = bytes[from..<hi]
                    let expected: Bool? = slice.allSatisfy(HTTPSyntax.isFieldValue) ? slice.contains { $0 >= 0x80 } : nil
                    #expect(HTTPSyntax.checkFieldValue(p, from, hi) == expected, "\(bytes) \(from)..<\(hi)")
                }
            }
        }
    }
}
