/// A strict, incremental HTTP/1.x request parser that does no I/O.
///
/// The caller keeps the bytes it has received and not yet consumed, and calls `next` with them
/// whenever more arrive; each call returns one event and how many bytes it consumed (drop them
/// before the next call). A head is returned once it is complete and checked; body bytes are
/// returned as ranges of the input; `.end` closes each request, after which the parser reads the
/// next request on the connection (pipelining). `.needMore` asks for more bytes.
///
/// Everything that could be read two ways is refused: the status says why (400 for bad syntax
/// and ambiguous framing, 413 for a body over the limit, 431 for a head over the limit, 501 for
/// a transfer coding other than a lone `chunked`, 505 for a version other than 1.0 and 1.1).
/// After an error the parser stays failed; the connection must be answered and closed.
public struct HTTPRequestParser: Sendable {
    public struct Limits: Sendable, Equatable {
        /// The most bytes a head may take: the request line, its header fields and the empty line
        /// that ends it, CRLFs included (blank lines sent before a request line do not count).
        public var maxHeaderBytes: Int
        /// The most body bytes a request may carry.
        public var maxBodyBytes: Int

        public init(maxHeaderBytes: Int, maxBodyBytes: Int) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxBodyBytes = maxBodyBytes
        }
    }

    public enum Event: Sendable, Equatable {
        /// Nothing more can be read until more bytes arrive.
        case needMore
        case head(HTTPRequestHead)
        /// Body bytes: this range of the input (a chunked body's framing removed).
        case body(Range<Int>)
        /// The request is complete.
        case end
        case error(HTTPRequestError)
    }

    public let limits: Limits

    private enum State: Sendable {
        case head
        case body(remaining: Int)
        case chunkLine
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case failed(HTTPRequestError)
    }

    private var state = State.head
    /// Bytes of the line (or head) being read that were already checked, from the input's start.
    private var scanned = 0
    /// Where the head's current line starts, from the input's start.
    private var lineStart = 0
    /// Blank lines skipped before a request line (as RFC 9112 allows), in bytes.
    private var skippedBytes = 0
    /// Body bytes announced so far by a chunked body's sizes.
    private var chunkedTotal = 0
    /// Trailer bytes read so far.
    private var trailerBytes = 0

    public init(limits: Limits) {
        self.limits = limits
    }

    /// Whether the parser is between requests (nothing of a next request read yet).
    public var isBetweenRequests: Bool {
        if case .head = state { return scanned == 0 && skippedBytes == 0 }
        return false
    }

    /// Whether the parser is reading a request's body.
    public var isReadingBody: Bool {
        switch state {
        case .body, .chunkLine, .chunkData, .chunkDataEnd, .trailers: return true
        case .head, .failed: return false
        }
    }

    /// Reads the next event from `input`, the bytes received and not yet consumed.
    /// - Returns: the event, and how many bytes of `input` it consumed.
    public mutating func next(_ input: UnsafeRawBufferPointer) -> (event: Event, consumed: Int) {
        var offset = 0
        while true {
            switch state {
            case .failed(let error):
                return (.error(error), 0)
            case .head:
                let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
                let (event, used) = readHead(rest)
                return (event, offset + used)
            case .body(let remaining):
                if remaining == 0 {
                    finishRequest()
                    return (.end, offset)
                }
                let n = min(remaining, input.count - offset)
                if n == 0 { return (.needMore, offset) }
                state = .body(remaining: remaining - n)
                return (.body(offset..<(offset + n)), offset + n)
            case .chunkLine:
                let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
                switch scanLine(rest, maxLength: 4096, tooLong: .bad("chunk size line is too long", code: "bad_chunk")) {
                case .incomplete: return (.needMore, offset)
                case .failed(let e): return fail(e, offset)
                case .line(let end):
                    switch HTTPRequestParser.chunkSize(UnsafeRawBufferPointer(rebasing: rest[..<end])) {
                    case .failure(let e): return fail(e, offset)
                    case .success(let size):
                        offset += end + 2
                        scanned = 0
                        if size == 0 {
                            state = .trailers
                            continue
                        }
                        // Compared before adding: a size near Int.max must not overflow the total.
                        if size > limits.maxBodyBytes - chunkedTotal { return fail(tooLarge, offset) }
                        chunkedTotal += size
                        state = .chunkData(remaining: size)
                    }
                }
            case .chunkData(let remaining):
                if remaining == 0 {
                    state = .chunkDataEnd
                    continue
                }
                let n = min(remaining, input.count - offset)
                if n == 0 { return (.needMore, offset) }
                state = .chunkData(remaining: remaining - n)
                return (.body(offset..<(offset + n)), offset + n)
            case .chunkDataEnd:
                let available = input.count - offset
                if available >= 1 && input[offset] != HTTPSyntax.cr || available >= 2 && input[offset + 1] != HTTPSyntax.lf {
                    return fail(.bad("chunk data is not followed by CRLF", code: "bad_chunk"), offset)
                }
                if available < 2 { return (.needMore, offset) }
                offset += 2
                state = .chunkLine
            case .trailers:
                let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
                let room = limits.maxHeaderBytes - trailerBytes
                switch scanLine(rest, maxLength: max(0, room), tooLong: tooLargeHead) {
                case .incomplete: return (.needMore, offset)
                case .failed(let e): return fail(e, offset)
                case .line(let end):
                    scanned = 0
                    trailerBytes += end + 2
                    if end == 0 {
                        finishRequest()
                        return (.end, offset + 2)
                    }
                    // Trailer fields are checked like header fields, then dropped.
                    let field = HTTPRequestParser.checkFieldLine(UnsafeRawBufferPointer(rebasing: rest[..<end]))
                    if let e = field.problem.error { return fail(e, offset) }
                    offset += end + 2
                }
            }
        }
    }

    private var tooLarge: HTTPRequestError { .bodyTooLarge(limit: limits.maxBodyBytes) }

    private var tooLargeHead: HTTPRequestError { .headTooLarge(limit: limits.maxHeaderBytes) }

    private mutating func fail(_ error: HTTPRequestError, _ consumed: Int) -> (event: Event, consumed: Int) {
        state = .failed(error)
        return (.error(error), consumed)
    }

    private mutating func finishRequest() {
        state = .head
        scanned = 0
        lineStart = 0
        skippedBytes = 0
        chunkedTotal = 0
        trailerBytes = 0
    }

    // MARK: lines

    private enum LineScan {
        case incomplete
        /// A line ending at this index (its CR).
        case line(end: Int)
        case failed(HTTPRequestError)
    }

    /// Looks for the end of the line at the start of `p`, from where the last look stopped.
    private mutating func scanLine(_ p: UnsafeRawBufferPointer, maxLength: Int, tooLong: HTTPRequestError) -> LineScan {
        var i = scanned
        let n = p.count
        while i < n {
            let b = p[i]
            if b == HTTPSyntax.lf {
                guard i > 0, p[i - 1] == HTTPSyntax.cr else { return .failed(HTTPRequestParser.bareLF) }
                scanned = 0
                return .line(end: i - 1)
            }
            if b == HTTPSyntax.cr, i + 1 < n, p[i + 1] != HTTPSyntax.lf { return .failed(HTTPRequestParser.bareCR) }
            i += 1
            if i > maxLength + 2 { return .failed(tooLong) }
        }
        // A CR that ends the input is looked at again with the byte after it, which tells if it is bare.
        scanned = n > 0 && p[n - 1] == HTTPSyntax.cr ? n - 1 : n
        return .incomplete
    }

    static let bareLF = HTTPRequestError.bad("a line ends with a bare LF; lines must end with CRLF", code: "bare_lf")
    static let bareCR = HTTPRequestError.bad("a bare CR is not allowed in a request head", code: "bare_cr")

    // MARK: the head

    private mutating func readHead(_ input: UnsafeRawBufferPointer) -> (event: Event, consumed: Int) {
        var skip = 0
        // Blank lines before a request line are skipped (a client may send one after a body).
        if scanned == 0 {
            while skip < input.count {
                let b = input[skip]
                if b == HTTPSyntax.lf { return fail(HTTPRequestParser.bareLF, skip) }
                guard b == HTTPSyntax.cr else { break }
                guard skip + 1 < input.count else { return (.needMore, skip) }
                guard input[skip + 1] == HTTPSyntax.lf else { return fail(HTTPRequestParser.bareCR, skip) }
                skip += 2
                skippedBytes += 2
                if skippedBytes > limits.maxHeaderBytes {
                    return fail(.bad("too many blank lines before the request line"), skip)
                }
            }
        }
        let p = UnsafeRawBufferPointer(rebasing: input[skip...])
        var i = scanned
        let n = p.count
        let limit = limits.maxHeaderBytes
        var headEnd = -1
        // Only bytes up to CR can end or break a line: jump between them a word at a time.
        while true {
            i = HTTPSyntax.firstByteAtMostCR(p, from: i)
            if i >= n {
                if n > limit { return fail(tooLargeHead, skip) }
                break
            }
            if i + 1 > limit { return fail(tooLargeHead, skip) }
            let b = p[i]
            if b == HTTPSyntax.lf {
                guard i > lineStart, p[i - 1] == HTTPSyntax.cr else { return fail(HTTPRequestParser.bareLF, skip) }
                if i - 1 == lineStart {
                    headEnd = i + 1
                    break
                }
                lineStart = i + 1
            } else if b == HTTPSyntax.cr, i + 1 < n, p[i + 1] != HTTPSyntax.lf {
                return fail(HTTPRequestParser.bareCR, skip)
            }
            i += 1
        }
        guard headEnd > 0 else {
            // A CR that ends the input is looked at again with the byte after it, which tells if it is bare.
            scanned = n > 0 && p[n - 1] == HTTPSyntax.cr ? n - 1 : n
            return (.needMore, skip)
        }
        scanned = 0
        lineStart = 0
        skippedBytes = 0
        switch HTTPRequestParser.parseHead(UnsafeRawBufferPointer(rebasing: p[..<headEnd]), limits: limits) {
        case .failure(let e):
            return fail(e, skip)
        case .success(let head):
            switch head.framing {
            case .none: state = .body(remaining: 0)
            case .length(let n): state = .body(remaining: n)
            case .chunked: state = .chunkLine
            }
            return (.head(head), skip + headEnd)
        }
    }
}
