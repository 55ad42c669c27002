extension HTTPRequestParser {
    /// Parses a complete head (request line, field lines, the empty line; every line already
    /// known to end in CRLF) and decides how its body is framed.
    static func parseHead(_ p: UnsafeRawBufferPointer, limits: Limits) -> Result<HTTPRequestHead, HTTPRequestError> {
        var lineEnd = 0
        while p[lineEnd] != HTTPSyntax.cr { lineEnd += 1 }
        let requestLine: (method: String, target: String, version: HTTPVersion)
        switch parseRequestLine(UnsafeRawBufferPointer(rebasing: p[..<lineEnd])) {
        case .failure(let e): return .failure(e)
        case .success(let line): requestLine = line
        }
        var head = HTTPRequestHead(method: requestLine.method, target: requestLine.target, version: requestLine.version)
        head.headers.reserveCapacity(12)
        var contentLength: Int?
        var transferEncodings = 0
        var chunkedOnly = false
        var hosts = 0
        var close = false
        var keepAlive = false
        var expectation: String?

        var start = lineEnd + 2
        let end = p.count - 2  // the empty line that closes the head
        while start < end {
            var stop = HTTPSyntax.firstByteAtMostCR(p, from: start)
            while p[stop] != HTTPSyntax.cr { stop = HTTPSyntax.firstByteAtMostCR(p, from: stop + 1) }
            let line = UnsafeRawBufferPointer(rebasing: p[start..<stop])
            start = stop + 2
            let field = checkFieldLine(line)
            if let e = field.problem.error { return .failure(e) }
            let name = line[..<field.nameEnd]
            let value = UnsafeRawBufferPointer(rebasing: line[field.value])
            let nameString = String(decoding: UnsafeRawBufferPointer(rebasing: name), as: UTF8.self)
            let valueString: String
            if field.hasHighBytes {
                guard let v = String(validating: value, as: UTF8.self) else {
                    return .failure(.bad("header \(nameString) holds bytes that are not UTF-8", code: "bad_header_value"))
                }
                valueString = v
            } else {
                valueString = String(decoding: value, as: UTF8.self)
            }
            switch name.count {
            case 14 where HTTPSyntax.equalsIgnoringCase(name, "content-length"):
                guard let n = parseLength(value) else {
                    return .failure(.bad("Content-Length must be digits only", code: "bad_content_length"))
                }
                if let earlier = contentLength, earlier != n {
                    return .failure(.bad("several Content-Length fields disagree", code: "bad_content_length"))
                }
                contentLength = n
            case 17 where HTTPSyntax.equalsIgnoringCase(name, "transfer-encoding"):
                transferEncodings += 1
                chunkedOnly = HTTPSyntax.equalsIgnoringCase(value[...], "chunked")
            case 4 where HTTPSyntax.equalsIgnoringCase(name, "host"):
                hosts += 1
            case 10 where HTTPSyntax.equalsIgnoringCase(name, "connection"):
                for token in value.split(separator: UInt8(ascii: ",")) {
                    let t = trimmed(token)
                    if HTTPSyntax.equalsIgnoringCase(t, "close") { close = true }
                    if HTTPSyntax.equalsIgnoringCase(t, "keep-alive") { keepAlive = true }
                }
            case 6 where HTTPSyntax.equalsIgnoringCase(name, "expect"):
                if expectation != nil {
                    return .failure(HTTPRequestError(status: 417, message: "only one Expect field is understood", code: "expectation_failed"))
                }
                expectation = valueString
            default:
                break
            }
            head.headers.add(nameString, valueString)
        }

        if transferEncodings > 0 {
            if contentLength != nil {
                return .failure(.bad("a request may not carry both Content-Length and Transfer-Encoding", code: "ambiguous_framing"))
            }
            if head.version == .http10 {
                return .failure(.bad("Transfer-Encoding is not allowed in an HTTP/1.0 request", code: "ambiguous_framing"))
            }
            guard transferEncodings == 1, chunkedOnly else {
                return .failure(HTTPRequestError(status: 501, message: "the only transfer coding accepted is a single 'chunked'",
                                                 code: "unsupported_transfer_encoding"))
            }
            head.framing = .chunked
        } else if let n = contentLength {
            if n > limits.maxBodyBytes {
                return .failure(.bodyTooLarge(limit: limits.maxBodyBytes))
            }
            head.framing = n > 0 ? .length(n) : .none
        }
        switch head.version {
        case .http11:
            guard hosts == 1 else {
                return .failure(.bad(hosts == 0 ? "an HTTP/1.1 request needs a Host field" : "a request may carry only one Host field",
                                     code: "bad_host"))
            }
            head.keepAlive = !close
        case .http10:
            guard hosts <= 1 else { return .failure(.bad("a request may carry only one Host field", code: "bad_host")) }
            head.keepAlive = keepAlive && !close
        }
        if let expectation {
            let v = Array(expectation.utf8)
            let isContinue = v.withUnsafeBytes { HTTPSyntax.equalsIgnoringCase($0[...], "100-continue") }
            guard isContinue else {
                return .failure(HTTPRequestError(status: 417, message: "the only expectation understood is 100-continue",
                                                 code: "expectation_failed"))
            }
            // An HTTP/1.0 client cannot be sent an interim answer; its expectation is ignored.
            head.expectsContinue = head.version == .http11 && head.framing != .none
        }
        return .success(head)
    }

    /// `method SP request-target SP HTTP-version`.
    static func parseRequestLine(_ p: UnsafeRawBufferPointer) -> Result<(method: String, target: String, version: HTTPVersion), HTTPRequestError> {
        let malformed = HTTPRequestError.bad("malformed request line", code: "bad_request_line")
        var k = 0
        while k < p.count && HTTPSyntax.isTokenByte(p[k]) { k += 1 }
        guard k > 0, k < p.count, p[k] == HTTPSyntax.space else { return .failure(malformed) }
        let method = String(decoding: UnsafeRawBufferPointer(rebasing: p[..<k]), as: UTF8.self)
        k += 1
        let targetStart = k
        while k < p.count && HTTPSyntax.isTarget(p[k]) { k += 1 }
        guard k > targetStart, k < p.count, p[k] == HTTPSyntax.space else { return .failure(malformed) }
        let targetBytes = UnsafeRawBufferPointer(rebasing: p[targetStart..<k])
        k += 1
        // HTTP-version = "HTTP/" DIGIT "." DIGIT
        let v = UnsafeRawBufferPointer(rebasing: p[k...])
        guard v.count == 8, v[0] == UInt8(ascii: "H"), v[1] == UInt8(ascii: "T"), v[2] == UInt8(ascii: "T"),
              v[3] == UInt8(ascii: "P"), v[4] == UInt8(ascii: "/"), v[6] == UInt8(ascii: "."),
              (0x30...0x39).contains(v[5]), (0x30...0x39).contains(v[7]) else { return .failure(malformed) }
        let version: HTTPVersion
        switch (v[5], v[7]) {
        case (UInt8(ascii: "1"), UInt8(ascii: "1")): version = .http11
        case (UInt8(ascii: "1"), UInt8(ascii: "0")): version = .http10
        default:
            return .failure(HTTPRequestError(status: 505, message: "only HTTP/1.1 and HTTP/1.0 are served", code: "http_version_not_supported"))
        }
        let isOrigin = targetBytes[0] == UInt8(ascii: "/")
        let isAsterisk = targetBytes.count == 1 && targetBytes[0] == UInt8(ascii: "*") && method == "OPTIONS"
        guard isOrigin || isAsterisk else {
            return .failure(.bad("the request target must be a path starting with '/'", code: "bad_request_target"))
        }
        return .success((method, String(decoding: targetBytes, as: UTF8.self), version))
    }

    /// What can be wrong with a field line (a plain value, so a checked line costs no copies).
    enum FieldProblem {
        case none, empty, obsFold, spaceBeforeColon, noColon, badName, emptyName, badValue

        var error: HTTPRequestError? {
            switch self {
            case .none: return nil
            case .empty: return .bad("empty header line")
            case .obsFold: return .bad("a header line may not start with whitespace (obsolete line folding)", code: "obs_fold")
            case .spaceBeforeColon: return .bad("whitespace between a header name and its colon", code: "bad_header_name")
            case .noColon: return .bad("a header line has no colon", code: "bad_header_name")
            case .badName: return .bad("a header name holds a byte that is not allowed in a token", code: "bad_header_name")
            case .emptyName: return .bad("empty header name", code: "bad_header_name")
            case .badValue: return .bad("a header value holds a control byte", code: "bad_header_value")
            }
        }
    }

    /// The checked parts of one field line `name: OWS value OWS`.
    struct FieldLine {
        var nameEnd = 0
        var value: Range<Int> = 0..<0
        var hasHighBytes = false
        var problem = FieldProblem.none
    }

    /// Checks a header or trailer field line and finds its name and value.
    static func checkFieldLine(_ line: UnsafeRawBufferPointer) -> FieldLine {
        var f = FieldLine()
        guard let first = line.first else { f.problem = .empty; return f }
        if HTTPSyntax.isWhitespace(first) { f.problem = .obsFold; return f }
        var k = 0
        while k < line.count && HTTPSyntax.isTokenByte(line[k]) { k += 1 }
        guard k < line.count, line[k] == UInt8(ascii: ":") else {
            if k < line.count && HTTPSyntax.isWhitespace(line[k]) {
                f.problem = .spaceBeforeColon
            } else {
                f.problem = k == line.count ? .noColon : .badName
            }
            return f
        }
        guard k > 0 else { f.problem = .emptyName; return f }
        f.nameEnd = k
        var v = k + 1
        var e = line.count
        while v < e && HTTPSyntax.isWhitespace(line[v]) { v += 1 }
        while e > v && HTTPSyntax.isWhitespace(line[e - 1]) { e -= 1 }
        guard let high = HTTPSyntax.checkFieldValue(line, v, e) else { f.problem = .badValue; return f }
        f.value = v..<e
        f.hasHighBytes = high
        return f
    }

    /// `1*DIGIT`, as a length; a value too large for an Int reads as `Int.max` (over any limit).
    static func parseLength(_ p: UnsafeRawBufferPointer) -> Int? {
        guard !p.isEmpty else { return nil }
        var n = 0
        for b in p {
            guard b >= 0x30 && b <= 0x39 else { return nil }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(b &- 0x30))
            n = o1 || o2 ? Int.max : s
        }
        return n
    }

    /// `chunk-size [ chunk-ext ]`: the size, with any extensions checked and ignored.
    static func chunkSize(_ p: UnsafeRawBufferPointer) -> Result<Int, HTTPRequestError> {
        var k = 0
        var size = 0
        while k < p.count, let h = hexDigitValue(p[k]) {
            if size > (Int.max >> 4) { return .failure(.bad("chunk size overflows", code: "bad_chunk")) }
            size = size << 4 | Int(h)
            k += 1
        }
        guard k > 0 else { return .failure(.bad("chunk size is not hex", code: "bad_chunk")) }
        let badExtension = HTTPRequestError.bad("malformed chunk extension", code: "bad_chunk")
        // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
        while k < p.count {
            while k < p.count && HTTPSyntax.isWhitespace(p[k]) { k += 1 }
            guard k < p.count, p[k] == UInt8(ascii: ";") else { return .failure(badExtension) }
            k += 1
            while k < p.count && HTTPSyntax.isWhitespace(p[k]) { k += 1 }
            let nameStart = k
            while k < p.count && HTTPSyntax.isTokenByte(p[k]) { k += 1 }
            guard k > nameStart else { return .failure(badExtension) }
            var j = k
            while j < p.count && HTTPSyntax.isWhitespace(p[j]) { j += 1 }
            guard j < p.count, p[j] == UInt8(ascii: "=") else {
                k = j
                continue
            }
            k = j + 1
            while k < p.count && HTTPSyntax.isWhitespace(p[k]) { k += 1 }
            guard k < p.count else { return .failure(badExtension) }
            if p[k] == UInt8(ascii: "\"") {
                k += 1
                var closed = false
                while k < p.count {
                    let b = p[k]
                    if b == UInt8(ascii: "\"") { closed = true; k += 1; break }
                    if b == UInt8(ascii: "\\") {
                        k += 1
                        guard k < p.count, HTTPSyntax.isFieldValue(p[k]) else { return .failure(badExtension) }
                    } else if !HTTPSyntax.isFieldValue(b) {
                        return .failure(badExtension)
                    }
                    k += 1
                }
                guard closed else { return .failure(badExtension) }
            } else {
                let valueStart = k
                while k < p.count && HTTPSyntax.isTokenByte(p[k]) { k += 1 }
                guard k > valueStart else { return .failure(badExtension) }
            }
        }
        return .success(size)
    }

    static func trimmed(_ s: UnsafeRawBufferPointer.SubSequence) -> UnsafeRawBufferPointer.SubSequence {
        var lo = s.startIndex, hi = s.endIndex
        while lo < hi && HTTPSyntax.isWhitespace(s[lo]) { lo += 1 }
        while hi > lo && HTTPSyntax.isWhitespace(s[hi - 1]) { hi -= 1 }
        return s[lo..<hi]
    }
}
