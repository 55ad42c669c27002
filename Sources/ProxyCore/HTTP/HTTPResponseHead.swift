/// How a response's body is delimited on the wire.
public enum HTTPResponseFraming: Sendable, Equatable {
    /// `Content-Length: n`, then exactly n bytes.
    case length(Int)
    /// `Transfer-Encoding: chunked`.
    case chunked
    /// The bytes run until the connection closes (HTTP/1.0 clients, no known length).
    case untilClose
    /// No body may follow (a HEAD request; 1xx, 204 and 304). `Content-Length`, when given,
    /// states the length the body would have had.
    case bodyless(announcedLength: Int?)

    /// Whether body bytes are written (a `.bodyless` response drops them).
    public var carriesBody: Bool {
        if case .bodyless = self { return false }
        return true
    }
}

/// The rules that decide a response's framing and whether its connection stays open.
public enum HTTPResponseRules {
    /// Chooses the framing of the answer to `request`.
    /// - Parameters:
    ///   - status: the response status.
    ///   - length: the body's length when known before it is sent (a whole body, or an
    ///     upstream's `Content-Length`); nil for a body streamed as it comes.
    public static func framing(for request: HTTPRequestHead, status: Int, length: Int?) -> HTTPResponseFraming {
        if request.forbidsResponseBody || status == 304 {
            return .bodyless(announcedLength: length)
        }
        if status < 200 || status == 204 { return .bodyless(announcedLength: nil) }
        if let length { return .length(length) }
        return request.version == .http11 ? .chunked : .untilClose
    }

    /// The length a `Content-Length` field among `headers` announces, when it is plain digits.
    public static func announcedLength(_ headers: HTTPHeaders) -> Int? {
        guard let value = headers["Content-Length"], !value.isEmpty, value.utf8.count <= 18 else { return nil }
        var n = 0
        for b in value.utf8 {
            guard b >= 0x30 && b <= 0x39 else { return nil }
            n = n * 10 + Int(b &- 0x30)
        }
        return n
    }

    /// Whether the connection may carry another request after this response: the client asked
    /// for it, the body's end is known without closing, and the server is not shutting down.
    /// An HTTP/1.0 client needs a `Content-Length` for that.
    public static func keepsAlive(_ request: HTTPRequestHead, framing: HTTPResponseFraming, draining: Bool) -> Bool {
        guard request.keepAlive, !draining else { return false }
        switch framing {
        case .untilClose: return false
        case .chunked: return request.version == .http11
        case .length: return true
        case .bodyless(let announced): return request.version == .http11 || announced != nil
        }
    }

    /// Writes the status line and header fields, with the framing's own fields and a
    /// `Connection` field where the version needs one, then the blank line.
    ///
    /// Fields that frame the message (`Content-Length`, `Transfer-Encoding`, `Connection`) are
    /// replaced by the framing's; a field whose name is not a token or whose value holds a
    /// control byte is left out (so nothing can split the response).
    /// - Parameter date: the `Date` field's value, written when `headers` have none.
    public static func writeHead(status: Int, headers: HTTPHeaders, framing: HTTPResponseFraming, keepAlive: Bool,
                                 version: HTTPVersion, date: String?, into out: inout [UInt8]) {
        out.reserveCapacity(out.count + 256)
        append("HTTP/1.1 ", to: &out)
        appendDecimal(status, to: &out)
        out.append(HTTPSyntax.space)
        append(reasonPhrase(status), to: &out)
        append("\r\n", to: &out)
        var sawDate = false
        for field in headers.fields {
            let written: Bool? = field.name.utf8.withContiguousStorageIfAvailable { n in
                field.value.utf8.withContiguousStorageIfAvailable { v in
                    writeField(name: UnsafeRawBufferPointer(n), value: UnsafeRawBufferPointer(v), sawDate: &sawDate, into: &out)
                }
            } ?? nil
            if written == nil {
                // Not contiguous UTF-8 (a bridged or lazily built string): copy it first.
                let n = Array(field.name.utf8), v = Array(field.value.utf8)
                n.withUnsafeBytes { n in v.withUnsafeBytes { v in _ = writeField(name: n, value: v, sawDate: &sawDate, into: &out) } }
            }
        }
        if !sawDate, let date {
            append("Date: ", to: &out)
            out.append(contentsOf: date.utf8)
            append("\r\n", to: &out)
        }
        switch framing {
        case .length(let n):
            appendLength(n, to: &out)
        case .bodyless(let announced):
            if let n = announced { appendLength(n, to: &out) }
        case .chunked:
            append("Transfer-Encoding: chunked\r\n", to: &out)
        case .untilClose:
            break
        }
        if !keepAlive {
            append("Connection: close\r\n", to: &out)
        } else if version == .http10 {
            append("Connection: keep-alive\r\n", to: &out)
        }
        append("\r\n", to: &out)
    }

    /// Writes one field unless it frames the message or could split the response; notes a `Date`.
    private static func writeField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, sawDate: inout Bool,
                                   into out: inout [UInt8]) -> Bool {
        guard !name.isEmpty else { return false }
        for b in name where !HTTPSyntax.isTokenByte(b) { return false }
        guard HTTPSyntax.checkFieldValue(value, 0, value.count) != nil else { return false }
        switch name.count {
        case 14 where HTTPSyntax.equalsIgnoringCase(name[...], "content-length"): return false
        case 17 where HTTPSyntax.equalsIgnoringCase(name[...], "transfer-encoding"): return false
        case 10 where HTTPSyntax.equalsIgnoringCase(name[...], "connection"): return false
        case 4 where HTTPSyntax.equalsIgnoringCase(name[...], "date"): sawDate = true
        default: break
        }
        out.append(contentsOf: name)
        out.append(UInt8(ascii: ":"))
        out.append(HTTPSyntax.space)
        out.append(contentsOf: value)
        out.append(HTTPSyntax.cr)
        out.append(HTTPSyntax.lf)
        return true
    }

    @inline(__always)
    private static func append(_ text: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// The interim answer to `Expect: 100-continue`.
    public static let continueHead: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// The last chunk of a chunked body (no trailers).
    public static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)

    /// Writes a chunk's size line (hex digits, CRLF) at the start of `buffer` (room for 18
    /// bytes) and returns its length.
    public static func writeChunkPrefix(_ count: Int, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let digits = writeHex(UInt64(count), into: buffer)
        buffer[digits] = HTTPSyntax.cr
        buffer[digits + 1] = HTTPSyntax.lf
        return digits + 2
    }

    private static func appendLength(_ n: Int, to out: inout [UInt8]) {
        append("Content-Length: ", to: &out)
        appendDecimal(n, to: &out)
        out.append(HTTPSyntax.cr)
        out.append(HTTPSyntax.lf)
    }

    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var v = max(0, value)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[19 - n] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
                v /= 10
                n += 1
            } while v > 0
            out.append(contentsOf: d[(20 - n)...])
        }
    }

    /// The reason phrase of `status` (any phrase is valid; clients ignore it).
    public static func reasonPhrase(_ status: Int) -> StaticString {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 206: return "Partial Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 304: return "Not Modified"
        case 307: return "Temporary Redirect"
        case 308: return "Permanent Redirect"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 402: return "Payment Required"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 413: return "Content Too Large"
        case 415: return "Unsupported Media Type"
        case 417: return "Expectation Failed"
        case 422: return "Unprocessable Content"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 499: return "Client Closed Request"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        case 529: return "Site Overloaded"
        default: return "Status"
        }
    }
}
