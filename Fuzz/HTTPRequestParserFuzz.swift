// A libFuzzer target for HTTPRequestParser, built by scripts/fuzz.sh. It is not a SwiftPM target:
// the script compiles it into one module together with every source file of ProxyCore, so it
// reaches ProxyCore's internal names without an import.
//
// Input layout (the first bytes choose how the rest is cut into pieces):
//   byte 0       bits 0-3: how many cut bytes follow (0...15)
//                bit 4:    also feed the message one byte per call
//                bits 5-7: s; each cut byte counts in steps of 2^s bytes (1...128)
//   next bytes   one per cut: the gap from the previous cut, times 2^s (a gap of 0 makes an empty piece)
//   the rest     the message: the bytes a client sent on one connection
//
// The message is fed once whole and once in the pieces, through the same emulated caller that
// proxyd's connection code is: append what arrived, call `next` until `.needMore` or `.error`,
// drop what each call consumed. Every rule the parser promises is checked with a trap; the
// events of every feeding must be the same as those of the whole feeding.

// Small limits, so the 413 and 431 paths are within reach of short inputs.
private let fuzzLimits = HTTPRequestParser.Limits(maxHeaderBytes: 1024, maxBodyBytes: 4096)

/// What a feeding saw, in the form the feedings are compared in: the body of each request is
/// one item (the bytes of all its body events joined), so how the body was sliced does not count.
private enum Observed: Equatable {
    case head(HTTPRequestHead)
    case body([UInt8])
    case end
    /// Only the status is compared: the status is the part the client sees.
    case error(status: Int)
}

/// The bytes received and not yet consumed, kept in an allocation of exactly their size so that
/// AddressSanitizer catches any read past the last byte handed to the parser.
private struct PendingBytes {
    private var storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 1)
    private var start = 0

    var count: Int { storage.count - start }

    mutating func append(_ piece: UnsafeRawBufferPointer) {
        let kept = count
        let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: kept + piece.count, alignment: 1)
        if kept > 0 {
            grown.baseAddress!.copyMemory(from: storage.baseAddress! + start, byteCount: kept)
        }
        if piece.count > 0 {
            (grown.baseAddress! + kept).copyMemory(from: piece.baseAddress!, byteCount: piece.count)
        }
        storage.deallocate()
        storage = grown
        start = 0
    }

    mutating func drop(_ n: Int) {
        precondition(n >= 0 && n <= count)
        start += n
    }

    /// The pending bytes, ending where the allocation ends.
    var view: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(storage)[start...])
    }

    func release() { storage.deallocate() }
}

private func violated(_ what: String, _ context: [UInt8] = []) -> Never {
    // The reproducer holds every byte; the message shows enough of them to read.
    var shown = ""
    if !context.isEmpty {
        shown = "\n  message: \"\(escaped(context.prefix(400)))\""
        if context.count > 400 { shown += "… (\(context.count) in all)" }
    }
    fatalError("HTTPRequestParser fuzz invariant: \(what)\(shown)")
}

/// Whether every CR in `bytes` is followed by LF and every LF follows a CR.
private func onlyCRLFLineEnds(_ bytes: [UInt8]) -> Bool {
    for (i, b) in bytes.enumerated() {
        if b == HTTPSyntax.cr && (i + 1 == bytes.count || bytes[i + 1] != HTTPSyntax.lf) { return false }
        if b == HTTPSyntax.lf && (i == 0 || bytes[i - 1] != HTTPSyntax.cr) { return false }
    }
    return true
}

private func countCRLF(_ bytes: [UInt8]) -> Int {
    var n = 0
    var i = 0
    while i + 1 < bytes.count {
        if bytes[i] == HTTPSyntax.cr && bytes[i + 1] == HTTPSyntax.lf { n += 1; i += 2 } else { i += 1 }
    }
    return n
}

/// Checks an accepted head against the bytes it was read from (blank lines before it removed).
private func checkHead(_ head: HTTPRequestHead, raw: [UInt8]) {
    if raw.count > fuzzLimits.maxHeaderBytes {
        violated("a head of \(raw.count) bytes was accepted over maxHeaderBytes \(fuzzLimits.maxHeaderBytes)", raw)
    }
    if !(raw.count >= 4 && raw.suffix(4).elementsEqual([0x0D, 0x0A, 0x0D, 0x0A])) {
        violated("an accepted head does not end with an empty line", raw)
    }
    if !onlyCRLFLineEnds(raw) { violated("an accepted head holds a bare CR or LF", raw) }
    // The request line, then one line per field, then the empty line.
    if countCRLF(raw) - 2 != head.headers.count {
        violated("an accepted head has \(countCRLF(raw) - 2) field lines but \(head.headers.count) fields", raw)
    }
    let version = head.version == .http11 ? "HTTP/1.1" : "HTTP/1.0"
    let requestLine = Array("\(head.method) \(head.target) \(version)\r\n".utf8)
    if !raw.starts(with: requestLine) { violated("the head's method, target and version are not its request line", raw) }
    for field in head.headers.fields {
        if field.name.utf8.isEmpty || !field.name.utf8.allSatisfy(HTTPSyntax.isToken) {
            violated("a field name is not a token: \(escaped(field.name.utf8))", raw)
        }
        if !field.value.utf8.allSatisfy(HTTPSyntax.isFieldValue) {
            violated("a field value holds a control byte: \(escaped(field.value.utf8))", raw)
        }
        if let first = field.value.utf8.first, let last = field.value.utf8.last,
           HTTPSyntax.isWhitespace(first) || HTTPSyntax.isWhitespace(last) {
            violated("a field value keeps surrounding whitespace: \(escaped(field.value.utf8))", raw)
        }
    }
    if case .length(let n) = head.framing, n <= 0 || n > fuzzLimits.maxBodyBytes {
        violated("a head was accepted with Content-Length \(n)", raw)
    }
}

/// Writes an answer head with the request's own fields, and checks that nothing in them could
/// end the head early or split it.
private func checkResponseHead(for head: HTTPRequestHead, status: Int) {
    let length = HTTPResponseRules.announcedLength(head.headers)
    let framing = HTTPResponseRules.framing(for: head, status: status, length: length)
    let keepAlive = HTTPResponseRules.keepsAlive(head, framing: framing, draining: false)
    var out: [UInt8] = []
    HTTPResponseRules.writeHead(status: status, headers: head.headers, framing: framing, keepAlive: keepAlive,
                                version: head.version, date: "Thu, 01 Jan 1970 00:00:00 GMT", into: &out)
    let end: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A]
    var firstBlank = -1
    if out.count >= 4 {
        for i in 0...(out.count - 4) where out[i] == 0x0D && out[i + 1] == 0x0A && out[i + 2] == 0x0D && out[i + 3] == 0x0A {
            firstBlank = i
            break
        }
    }
    if firstBlank != out.count - 4 || !out.suffix(4).elementsEqual(end) {
        violated("the response head does not end with its one empty line", out)
    }
    if !onlyCRLFLineEnds(out) { violated("the response head holds a bare CR or LF", out) }
}

/// Feeds `pieces` of the message (in order) through an emulated caller and returns what it saw.
private func feed(_ message: UnsafeRawBufferPointer, pieces: [Range<Int>], writeResponses: Bool,
                  status: Int) -> [Observed] {
    var parser = HTTPRequestParser(limits: fuzzLimits)
    var pending = PendingBytes()
    defer { pending.release() }
    var observed: [Observed] = []
    var body: [UInt8] = []
    var inRequest = false
    var currentHead: HTTPRequestHead?
    /// Bytes consumed since the last request ended, before a head arrived (blank lines).
    var beforeHead: [UInt8] = []
    // Every call either consumes a byte, ends a request that was started (at most one such
    // call per head, and a head takes many bytes), or asks for more (once per piece); a bound
    // well above that catches a parser that stops making progress.
    let maxCalls = 3 * message.count + 2 * pieces.count + 16
    var calls = 0

    func flushBody() {
        if inRequest { observed.append(.body(body)) }
        body.removeAll(keepingCapacity: true)
    }

    feeding: for piece in pieces {
        pending.append(UnsafeRawBufferPointer(rebasing: message[piece]))
        calling: while true {
            calls += 1
            if calls > maxCalls { violated("no progress after \(calls) calls to next", Array(message)) }
            let input = pending.view
            let (event, consumed) = parser.next(input)
            if consumed < 0 || consumed > input.count {
                violated("consumed \(consumed) of a \(input.count)-byte buffer", Array(message))
            }
            switch event {
            case .needMore:
                // Only blank lines before a request line may be consumed while a head is awaited.
                if !inRequest { beforeHead += input[..<consumed] }
                pending.drop(consumed)
                break calling
            case .head(let head):
                if inRequest { violated("a second head came before the first request's end", Array(message)) }
                var raw = beforeHead + input[..<consumed]
                while raw.count >= 2 && raw[0] == HTTPSyntax.cr && raw[1] == HTTPSyntax.lf { raw.removeFirst(2) }
                checkHead(head, raw: raw)
                if writeResponses { checkResponseHead(for: head, status: status) }
                beforeHead.removeAll()
                inRequest = true
                currentHead = head
                observed.append(.head(head))
                pending.drop(consumed)
            case .body(let range):
                if !inRequest { violated("body bytes came outside a request", Array(message)) }
                if range.lowerBound < 0 || range.upperBound > input.count || range.isEmpty {
                    violated("body range \(range) in a \(input.count)-byte buffer", Array(message))
                }
                // The bytes of a body event are consumed by it; otherwise the caller, which drops
                // `consumed` bytes, would be handed some of them again.
                if range.upperBound > consumed {
                    violated("body range \(range) reaches past the \(consumed) bytes consumed", Array(message))
                }
                body += input[range]
                if body.count > fuzzLimits.maxBodyBytes {
                    violated("\(body.count) body bytes in one request, over maxBodyBytes", Array(message))
                }
                if let head = currentHead {
                    switch head.framing {
                    case .none: violated("body bytes for a request framed with no body", Array(message))
                    case .length(let n) where body.count > n:
                        violated("\(body.count) body bytes for Content-Length \(n)", Array(message))
                    default: break
                    }
                }
                pending.drop(consumed)
            case .end:
                if !inRequest { violated("an end came without a head", Array(message)) }
                if case .length(let n) = currentHead?.framing, body.count != n {
                    violated("a request ended after \(body.count) of its \(n) body bytes", Array(message))
                }
                flushBody()
                observed.append(.end)
                inRequest = false
                currentHead = nil
                pending.drop(consumed)
                if !parser.isBetweenRequests { violated("the parser is not between requests after an end", Array(message)) }
            case .error(let error):
                flushBody()
                observed.append(.error(status: error.status))
                if ![400, 413, 417, 431, 501, 505].contains(error.status) {
                    violated("unexpected error status \(error.status)", Array(message))
                }
                pending.drop(consumed)
                // A failed parser stays failed and consumes nothing more.
                let (again, consumedAgain) = parser.next(pending.view)
                if again != .error(error) || consumedAgain != 0 {
                    violated("the parser did not stay failed after \(error)", Array(message))
                }
                break feeding
            }
        }
    }
    if case .error = observed.last {} else { flushBody() }
    return observed
}

private func describe(_ observed: [Observed]) -> String {
    observed.map { o -> String in
        switch o {
        case .head(let h): return "head(\(h.method) \(h.target) \(h.headers.count) fields \(h.framing))"
        case .body(let b): return "body(\(b.count): \"\(escaped(b.prefix(64)))\")"
        case .end: return "end"
        case .error(let status): return "error(\(status))"
        }
    }.joined(separator: ", ")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func httpRequestParserFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let control = input[0]
    let layout = CutLayout(control)
    let cuts = layout.cuts
    let byteByByte = layout.byteByByte
    guard size >= 1 + cuts else { return 0 }
    let gaps = UnsafeRawBufferPointer(rebasing: input[1..<(1 + cuts)])
    let message = UnsafeRawBufferPointer(rebasing: input[(1 + cuts)...])
    // The answer's status changes which framing (and so which framing fields) is written.
    let statuses = [200, 204, 304, 101, 404, 500]
    let status = statuses[Int(control) % statuses.count]

    let whole = feed(message, pieces: [0..<message.count], writeResponses: true, status: status)
    let pieces = layout.pieces(count: message.count, gaps: gaps)
    if pieces.count > 1 {
        let split = feed(message, pieces: pieces, writeResponses: false, status: status)
        if split != whole {
            violated("fed in pieces \(pieces) the events differ:\n  whole:     \(describe(whole))\n  in pieces: \(describe(split))",
                     Array(message))
        }
    }
    if byteByByte && message.count > 1 {
        let single = feed(message, pieces: (0..<message.count).map { $0..<($0 + 1) }, writeResponses: false, status: status)
        if single != whole {
            violated("fed one byte per call the events differ:\n  whole:        \(describe(whole))\n  byte by byte: \(describe(single))",
                     Array(message))
        }
    }
    return 0
}
