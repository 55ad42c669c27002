import CLibevent
import Glibc
import ProxyCore

/// One accepted client socket on a server's loop. It drives ProxyCore's `HTTPRequestParser` over
/// the bytes it reads, hands each complete request to the server as a `ServerExchange`, writes
/// the answers in order, and enforces the head, body and idle deadlines.
///
/// Reading stays on for the connection's whole life (one persistent read event, so a request
/// costs no interest changes): while a request is being answered, bytes that arrive are held
/// for the next request (up to a bound), and an end of stream means the client left. Writes go
/// straight to the socket; only what the socket does not take is queued, with a write event
/// until it drains.
final class ClientConnection {
    unowned let server: HTTPServer
    let fd: Int32
    private var readEvent: OpaquePointer?
    private var writeEvent: OpaquePointer?
    private var timerEvent: OpaquePointer?

    private var parser: HTTPRequestParser
    /// Received bytes not yet consumed by the parser.
    private var pending: [UInt8] = []
    /// The head of the request being read, and its body so far.
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    /// The request being answered; requests are answered one at a time, in order.
    private(set) var exchange: ServerExchange?

    /// Bytes the socket has not taken yet, from `outputStart`.
    private var output: [UInt8] = []
    private var outputStart = 0
    private var writeArmed = false
    private var readArmed = false

    private enum Ending {
        /// Keep serving requests.
        case open
        /// Close once the queued bytes are written.
        case closeAfterFlush
        /// Once written, stop sending and read (and drop) what the client still sends for a
        /// while, so the answer is not lost to a reset caused by unread bytes.
        case lingerAfterFlush
        case lingering
        case closed
    }
    private var ending = Ending.open

    private enum Deadline { case none, idle, head, body, write, linger, report }
    private var deadline = Deadline.none
    /// While the parser runs, exchanges that end are not followed by another parse.
    private var parsing = false
    /// A write failed: the socket is dead; the loss is reported from the timer (never from
    /// inside a caller's send).
    private var broken = false
    private var lingerBytes = 0

    /// Held bytes above which reading pauses while a request is answered.
    static let maxHeldBytes = 256 * 1024
    /// Queued output above which no further pipelined request is started.
    static let outputHighWater = 1 << 20
    static let lingerSeconds = 2.0
    static let maxLingerBytes = 64 << 20

    /// Tells this connection from every other the server accepted (addresses are reused).
    let id: Int

    init(server: HTTPServer, fd: Int32, id: Int) {
        self.server = server
        self.fd = fd
        self.id = id
        parser = HTTPRequestParser(limits: server.limits.parser)
        let me = Unmanaged.passUnretained(self).toOpaque()
        readEvent = event_new(server.loop.base, fd, Int16(EV_READ | EV_PERSIST), { _, _, arg in
            Unmanaged<ClientConnection>.fromOpaque(arg!).takeUnretainedValue().readable()
        }, me)
        writeEvent = event_new(server.loop.base, fd, Int16(EV_WRITE | EV_PERSIST), { _, _, arg in
            Unmanaged<ClientConnection>.fromOpaque(arg!).takeUnretainedValue().writable()
        }, me)
        timerEvent = event_new(server.loop.base, -1, 0, { _, _, arg in
            Unmanaged<ClientConnection>.fromOpaque(arg!).takeUnretainedValue().deadlinePassed()
        }, me)
    }

    deinit {
        releaseEvents()
    }

    func start() {
        event_add(readEvent, nil)
        readArmed = true
        arm(.idle, server.limits.idleTimeoutSeconds)
    }

    /// Bytes queued for the client and not yet written.
    var queuedBytes: Int { output.count - outputStart }

    /// A write failed: nothing more reaches the client (the exchange hears of it from the loop).
    var isBroken: Bool { broken }

    /// Bytes the socket has accepted since the connection opened.
    private(set) var sentTotal = 0

    /// Where the next byte handed to the connection lies in its output, counted from the
    /// connection's first byte (what the socket took plus what is queued).
    func outputPosition() -> Int {
        closeOpenChunk()
        return sentTotal + queuedBytes
    }

    /// Whether a request is under way (read in part, or being answered).
    var isBusy: Bool { exchange != nil || !parser.isBetweenRequests || !pending.isEmpty }

    // MARK: reading

    private func readable() {
        let buffer = server.readBuffer
        let n = read(fd, buffer.baseAddress, buffer.count)
        if n <= 0 {
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return }
            peerClosed()
            return
        }
        if case .lingering = ending {
            lingerBytes += n
            if lingerBytes > ClientConnection.maxLingerBytes { close() }
            return
        }
        guard case .open = ending else { return }
        let received = UnsafeRawBufferPointer(rebasing: buffer[..<n])
        if exchange == nil && pending.isEmpty {
            // The usual case: parse straight from the read buffer, keep only what is left.
            let used = parse(received)
            if used < n, case .open = ending { pending.appendBytes(UnsafeRawBufferPointer(rebasing: received[used...])) }
        } else {
            pending.appendBytes(received)
            if exchange == nil {
                parsePending()
            } else if pending.count > ClientConnection.maxHeldBytes {
                pauseReading()
            }
        }
    }

    private func parsePending() {
        guard !pending.isEmpty, case .open = ending else { return }
        let used = pending.withUnsafeBytes { parse($0) }
        guard case .open = ending else { return }
        if used == pending.count { pending.removeAll(keepingCapacity: pending.count <= 4096) } else { pending.removeFirst(used) }
    }

    /// Feeds `input` to the parser until it needs more, a request is handed over and still being
    /// answered, or the connection ends. Returns the bytes consumed.
    private func parse(_ input: UnsafeRawBufferPointer) -> Int {
        if broken { return 0 }
        parsing = true
        defer { parsing = false }
        var offset = 0
        var bodyMoved = false
        while exchange == nil, case .open = ending {
            if queuedBytes > ClientConnection.outputHighWater { break }
            let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
            let (event, used) = parser.next(rest)
            switch event {
            case .needMore:
                offset += used
                noteWaiting(bodyMoved: bodyMoved, leftover: offset < input.count)
                return offset
            case .head(let h):
                offset += used
                head = h
                body = []
                if case .length(let n) = h.framing { body.reserveCapacity(min(n, 64 * 1024)) }
                if h.expectsContinue && offset == input.count { writeRaw(HTTPResponseRules.continueHead) }
            case .body(let range):
                body.appendBytes(UnsafeRawBufferPointer(rebasing: rest[range]))
                offset += used
                bodyMoved = true
            case .end:
                offset += used
                startExchange()
            case .error(let e):
                offset += used
                refuse(e)
                return offset
            }
        }
        return offset
    }

    /// Arms the deadline that applies while the parser waits for bytes.
    private func noteWaiting(bodyMoved: Bool, leftover: Bool) {
        // Bytes the parser left unconsumed (a lone CR) are the start of a request: the head's
        // deadline applies, not the idle one.
        if parser.isBetweenRequests && !leftover {
            if deadline != .idle { arm(.idle, server.limits.idleTimeoutSeconds) }
        } else if parser.isReadingBody {
            if bodyMoved || deadline != .body { arm(.body, server.limits.bodyTimeoutSeconds) }
        } else if deadline != .head {
            arm(.head, server.limits.headerTimeoutSeconds)
        }
    }

    private func startExchange() {
        guard let h = head else { return }
        head = nil
        // The pending deadline is left to fire as a no-op (cheaper than removing it now); the
        // answer's end arms the idle deadline again.
        deadline = .none
        let request = IncomingRequest(method: h.method, target: h.target, headers: h.headers, body: body)
        body = []
        let e = ServerExchange(connection: self, head: h, request: request)
        exchange = e
        server.exchangeStarted()
        server.handler(e)
    }

    /// Answers a request that could not be read, then closes.
    private func refuse(_ error: HTTPRequestError) {
        let response = server.refusal(error, head)
        let request = head ?? HTTPRequestHead(method: "GET", target: "/", version: .http11, keepAlive: false)
        head = nil
        writeWhole(request: request, status: response.status, headers: response.headers, body: response.body, keepAlive: false)
        ending = .lingerAfterFlush
        flushEnded()
    }

    private func pauseReading() {
        if readArmed { event_del(readEvent); readArmed = false }
    }

    private func resumeReading() {
        if !readArmed, readEvent != nil { event_add(readEvent, nil); readArmed = true }
    }

    private func peerClosed() {
        if let exchange, exchange.isFlushing, !broken {
            // The answer is complete and queued: write it, then close (nothing more is read).
            pauseReading()
            pending.removeAll()
            if case .open = ending { ending = .closeAfterFlush }
            return
        }
        if let exchange {
            self.exchange = nil
            close()
            exchange.connectionLost()
        } else {
            close()
        }
    }

    // MARK: called by the exchange

    /// The exchange's answer is complete on proxyd's side; `keepAlive` tells whether the
    /// connection carries on after it.
    func answerComplete(keepAlive: Bool) {
        if !keepAlive || server.draining, case .open = ending { ending = .closeAfterFlush }
        if queuedBytes == 0 { flushEnded() }
    }

    /// The exchange ended without its proper end: close once the queued bytes are out.
    func abortAnswer() {
        if case .open = ending { ending = .closeAfterFlush }
        if queuedBytes == 0 { flushEnded() }
    }

    /// Closes at once (shutdown cut), reporting nothing to the exchange.
    func cut() {
        exchange = nil
        close()
    }

    /// Writes a whole answer (head and body) in one go.
    func writeWhole(request: HTTPRequestHead, status: Int, headers: HTTPHeaders, body: [UInt8], keepAlive: Bool) {
        let framing = HTTPResponseRules.framing(for: request, status: status, length: body.count)
        let keep = keepAlive && HTTPResponseRules.keepsAlive(request, framing: framing, draining: server.draining)
        withHead(request: request, status: status, headers: headers, framing: framing, keepAlive: keep) { h in
            if framing.carriesBody {
                body.withUnsafeBytes { b in write(h, b) }
            } else {
                write(h)
            }
        }
        if !keep, case .open = ending { ending = .closeAfterFlush }
    }

    /// Writes a streamed answer's head; returns its framing and whether the connection stays open.
    func writeStreamHead(request: HTTPRequestHead, status: Int, headers: HTTPHeaders) -> (HTTPResponseFraming, Bool) {
        let length = HTTPResponseRules.announcedLength(headers)
        let framing = HTTPResponseRules.framing(for: request, status: status, length: length)
        let keep = HTTPResponseRules.keepsAlive(request, framing: framing, draining: server.draining)
        withHead(request: request, status: status, headers: headers, framing: framing, keepAlive: keep) { write($0) }
        return (framing, keep)
    }

    /// Builds a response head in the server's reused buffer and hands its bytes to `body`.
    private func withHead(request: HTTPRequestHead, status: Int, headers: HTTPHeaders, framing: HTTPResponseFraming,
                          keepAlive: Bool, _ body: (UnsafeRawBufferPointer) -> Void) {
        server.headScratch.removeAll(keepingCapacity: true)
        HTTPResponseRules.writeHead(status: status, headers: headers, framing: framing, keepAlive: keepAlive,
                                    version: request.version, date: server.dateHeader(), into: &server.headScratch)
        server.headScratch.withUnsafeBytes(body)
    }

    /// Writes one chunk of a chunked body.
    func writeChunk(_ bytes: UnsafeRawBufferPointer) {
        // In a batch, consecutive pieces of a chunked body become one chunk, framed when the
        // batch ends (or before anything else is queued after them).
        if server.batchDepth > 0, !broken, case .open = ending, bytes.count > 0 {
            if openChunkStart < 0 {
                joinBatch()
                openChunkStart = output.count
            }
            output.appendBytes(bytes)
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { prefix in
            let n = HTTPResponseRules.writeChunkPrefix(bytes.count, into: prefix)
            let crlf: (UInt8, UInt8) = (0x0D, 0x0A)
            withUnsafeBytes(of: crlf) { tail in
                write(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(prefix)[..<n]), bytes, tail)
            }
        }
    }

    func writeRaw(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    func writeRaw(_ bytes: UnsafeRawBufferPointer) {
        write(bytes)
    }

    // MARK: writing

    /// Writes `parts` in order: straight to the socket when nothing is queued, the rest queued.
    private func write(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                       _ c: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) {
        guard !broken else { return }
        closeOpenChunk()
        switch ending {
        case .lingering, .closed: return
        default: break
        }
        let total = a.count + b.count + c.count
        guard total > 0 else { return }
        var written = 0
        let batching = server.batchDepth > 0
        if batching { joinBatch() }
        if queuedBytes == 0 && !batching {
            var iov = (iovec(iov_base: UnsafeMutableRawPointer(mutating: a.baseAddress), iov_len: a.count),
                       iovec(iov_base: UnsafeMutableRawPointer(mutating: b.baseAddress), iov_len: b.count),
                       iovec(iov_base: UnsafeMutableRawPointer(mutating: c.baseAddress), iov_len: c.count))
            let count: Int32 = c.count > 0 ? 3 : (b.count > 0 ? 2 : 1)
            let n = withUnsafeMutablePointer(to: &iov) { p in
                p.withMemoryRebound(to: iovec.self, capacity: 3) { writev(fd, $0, count) }
            }
            if n < 0 {
                if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                    failWrites()
                    return
                }
            } else {
                written = n
                sentTotal += n
            }
        }
        if written == total { return }
        // Queue what the socket did not take.
        if outputStart > 0 && outputStart == output.count {
            output.removeAll(keepingCapacity: true)
            outputStart = 0
        }
        var skip = written
        queue(a, skipping: &skip)
        queue(b, skipping: &skip)
        queue(c, skipping: &skip)
        if !writeArmed && !inBatch { waitForSocket() }
    }

    /// The socket took less than was written: wait for it to take more, for at most
    /// `idleTimeoutSeconds` without progress (a client that stops reading is dropped).
    private func waitForSocket() {
        if !writeArmed {
            event_add(writeEvent, nil)
            writeArmed = true
        }
        arm(.write, server.limits.idleTimeoutSeconds)
    }

    /// Appends `part` to the queue, less the first `skip` bytes of all the parts (already written).
    @inline(__always)
    private func queue(_ part: UnsafeRawBufferPointer, skipping skip: inout Int) {
        guard part.count > skip, let base = part.baseAddress else {
            skip -= part.count
            return
        }
        output.appendBytes(UnsafeRawBufferPointer(start: base + skip, count: part.count - skip))
        skip = 0
    }

    /// Whether this connection queued bytes in the server's current batch.
    private var inBatch = false

    /// Where the chunk being gathered in this batch starts in `output`, or -1.
    private var openChunkStart = -1

    /// Has the server flush this connection when its batch ends (once per batch; a connection
    /// whose queue waits for the socket already has its write event).
    private func joinBatch() {
        if queuedBytes == 0 && !inBatch {
            inBatch = true
            server.batch(self)
        }
    }

    /// Frames the chunk gathered in this batch: its size line goes in front, CRLF after it.
    private func closeOpenChunk() {
        guard openChunkStart >= 0 else { return }
        let size = output.count - openChunkStart
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { prefix in
            let n = HTTPResponseRules.writeChunkPrefix(size, into: prefix)
            output.insert(contentsOf: UnsafeBufferPointer(rebasing: prefix[..<n]), at: openChunkStart)
        }
        output.append(0x0D)
        output.append(0x0A)
        openChunkStart = -1
    }

    /// The batch is over: write what it queued.
    func flushBatch() {
        closeOpenChunk()
        inBatch = false
        guard !writeArmed else { return }  // the socket was full already: the write event goes on
        if case .closed = ending { return }
        if !writeQueued() {
            if !broken { waitForSocket() }
            return
        }
        queueWritten()
    }

    private func writable() {
        let before = queuedBytes
        guard writeQueued() else {
            if !broken && queuedBytes < before { arm(.write, server.limits.idleTimeoutSeconds) }
            return
        }
        event_del(writeEvent)
        writeArmed = false
        queueWritten()
    }

    /// Writes the queue; false when the socket takes no more for now (or failed).
    private func writeQueued() -> Bool {
        while queuedBytes > 0 {
            let n = output.withUnsafeBytes { send(fd, $0.baseAddress! + outputStart, queuedBytes, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK { return false }
                if errno == EINTR { continue }
                failWrites()
                return false
            }
            outputStart += n
            sentTotal += n
        }
        return true
    }

    /// Everything queued is written. A streamed answer tells its exchange (the upstream may have
    /// been paused while the queue was long); a complete answer ends.
    private func queueWritten() {
        // Give back a large buffer once drained; keep a small one for the next answer.
        if output.capacity > 16 * 1024 { output = [] } else { output.removeAll(keepingCapacity: true) }
        outputStart = 0
        if let exchange, exchange.isStreaming {
            exchange.drained()
        } else {
            flushEnded()
        }
    }

    /// Everything queued is written: end the exchange whose answer was complete, and carry on,
    /// close or linger as decided.
    private func flushEnded() {
        if broken { return }
        if let exchange, exchange.isFlushing {
            self.exchange = nil
            exchange.flushed()
        }
        switch ending {
        case .open:
            guard exchange == nil else { return }
            resumeReading()
            if parsing { return }
            if pending.isEmpty {
                arm(.idle, server.limits.idleTimeoutSeconds)
            } else {
                parsePending()
            }
            if exchange == nil, case .open = ending, parser.isBetweenRequests, pending.isEmpty, server.draining {
                close()
            }
        case .closeAfterFlush:
            close()
        case .lingerAfterFlush:
            ending = .lingering
            shutdown(fd, Int32(SHUT_WR))
            resumeReading()
            arm(.linger, ClientConnection.lingerSeconds)
        case .lingering, .closed:
            break
        }
    }

    private func failWrites() {
        broken = true
        // Reported from the timer so that no caller's send sees the exchange end under it.
        arm(.report, 0)
    }

    // MARK: deadlines

    private func arm(_ kind: Deadline, _ seconds: Double) {
        // A failed write is reported first, whatever else would be timed.
        if deadline == .report && kind != .report { return }
        deadline = kind
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        event_add(timerEvent, &tv)
    }

    private func deadlinePassed() {
        let kind = deadline
        deadline = .none
        switch kind {
        case .none:
            break
        case .idle:
            if exchange == nil && parser.isBetweenRequests && pending.isEmpty { close() }
        case .head:
            guard exchange == nil else { return }
            refuse(HTTPRequestError(status: 408, message: "the request head did not arrive within \(seconds(server.limits.headerTimeoutSeconds))",
                                    code: "request_timeout"))
        case .body:
            guard exchange == nil else { return }
            refuse(HTTPRequestError(status: 408, message: "no request body bytes arrived for \(seconds(server.limits.bodyTimeoutSeconds))",
                                    code: "request_timeout"))
        case .write:
            // No byte taken for the whole deadline: the client has stopped reading.
            if queuedBytes > 0 {
                broken = true
                peerClosed()
            }
        case .linger:
            close()
        case .report:
            peerClosed()
        }
    }

    private func seconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s)) seconds" : "\(s) seconds"
    }

    // MARK: closing

    /// Closes the socket and forgets the connection. Idempotent.
    func close() {
        if case .closed = ending { return }
        ending = .closed
        releaseEvents()
        Glibc.close(fd)
        if let exchange {
            // An answer under way when proxyd itself closes (it chose to): the exchange ends.
            self.exchange = nil
            exchange.connectionLost()
        }
        server.connectionClosed(self)
    }

    /// Closes the socket without telling anyone (the server is going away).
    func closeSilently() {
        if case .closed = ending { return }
        ending = .closed
        exchange = nil
        releaseEvents()
        Glibc.close(fd)
    }

    private func releaseEvents() {
        if let e = readEvent { event_del(e); event_free(e) }
        if let e = writeEvent { event_del(e); event_free(e) }
        if let e = timerEvent { event_del(e); event_free(e) }
        readEvent = nil
        writeEvent = nil
        timerEvent = nil
        readArmed = false
        writeArmed = false
    }
}
