import CLibevent
import CProxyShim
import Glibc
import ProxyCore

/// Told of the client's side of an exchange; the exchange holds it until the reply ends.
public protocol ServerExchangeObserver: AnyObject {
    /// The client disconnected before the reply ended (reported once).
    func clientGone()
    /// The client has taken every byte sent so far.
    func clientDrained()
}

/// One client request and its reply, on the server's loop. The reply is whole (`respond`) or
/// streamed (`startStream`, `send`, then `finishStream` or `abortStream`). A client that goes
/// away is reported once to the observer; after that every call is a no-op.
public final class ServerExchange {
    public let request: IncomingRequest
    private unowned let server: HTTPServer
    private let req: OpaquePointer
    private let evcon: OpaquePointer
    private var peekEvent: OpaquePointer?

    /// `flushing`: the reply is complete on proxyd's side and evhttp is still writing it.
    enum State { case pending, streaming, aborting, flushing, ended }
    private var state = State.pending
    /// Set while proxyd itself frees the connection, so its close callback is not taken for a
    /// client that left.
    private var freeingConnection = false

    /// Told when the client leaves or has taken every byte sent; dropped once the reply ends.
    public var observer: ServerExchangeObserver?

    /// An observer made of closures, for owners that keep no object of their own.
    public final class Callbacks: ServerExchangeObserver {
        public var gone: (() -> Void)?
        public var drained: (() -> Void)?
        public func clientGone() { gone?() }
        public func clientDrained() { drained?() }
    }

    /// The closure observer, installed on first use.
    public var callbacks: Callbacks {
        if let c = observer as? Callbacks { return c }
        let c = Callbacks()
        observer = c
        return c
    }
    /// Body bytes handed to the client connection so far.
    public private(set) var bytesSent = 0
    /// Whether the reply has ended (completed, aborted, or the client left); nothing more can be sent.
    public var isEnded: Bool { state == .flushing || state == .ended }
    /// Identifies the client connection, so callers can tell a reused connection from a new one.
    public var connectionID: Int { Int(bitPattern: UnsafeRawPointer(evcon)) }
    /// Whether the reply's head has gone out.
    public var hasStarted: Bool { state != .pending }

    init(server: HTTPServer, req: OpaquePointer, request: IncomingRequest) {
        self.server = server
        self.req = req
        self.request = request
        evcon = evhttp_request_get_connection(req)
        let context = Unmanaged.passUnretained(self).toOpaque()
        evhttp_connection_set_closecb(evcon, { _, arg in
            Unmanaged<ServerExchange>.fromOpaque(arg!).takeUnretainedValue().connectionClosed()
        }, context)
    }

    /// Starts watching for the client leaving. evhttp stops reading while a reply is pending, so
    /// it would not notice; a peek at the socket sees an EOF without consuming pipelined bytes.
    /// The server arms this only for exchanges that outlive a short tick, so quick replies
    /// cost no extra epoll changes.
    func watchForDisconnect() {
        guard peekEvent == nil, state == .pending || state == .streaming else { return }
        let fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon))
        peekEvent = event_new(server.loop.base, fd, Int16(EV_READ | EV_PERSIST), { fd, _, arg in
            Unmanaged<ServerExchange>.fromOpaque(arg!).takeUnretainedValue().peek(fd)
        }, Unmanaged.passUnretained(self).toOpaque())
        event_add(peekEvent, nil)
    }

    deinit {
        stopPeeking()
    }

    /// Bytes queued for the client and not yet written to its socket.
    public var pendingOutputBytes: Int {
        guard state == .streaming || state == .aborting else { return 0 }
        return evbuffer_get_length(bufferevent_get_output(evhttp_connection_get_bufferevent(evcon)))
    }

    /// Sends a whole reply.
    public func respond(_ response: LocalResponse) {
        respond(status: response.status, headers: response.headers, body: response.body)
    }

    /// Sends a whole reply.
    public func respond(status: Int, headers: HTTPHeaders, body: [UInt8]) {
        guard state == .pending else { return }
        setHeaders(headers, dropLength: true)
        let buffer = server.scratch
        body.withUnsafeBytes { _ = evbuffer_add(buffer, $0.baseAddress, $0.count) }
        bytesSent += body.count
        startFlushing()
        evhttp_send_reply(req, Int32(status), nil, buffer)
        evbuffer_drain(buffer, evbuffer_get_length(buffer))  // evhttp moved the bytes; this is a no-op unless it did not
    }

    /// Sends the reply's head. With a `Content-Length` the body goes raw, otherwise chunked.
    public func startStream(status: Int, headers: HTTPHeaders) {
        guard state == .pending else { return }
        setHeaders(headers, dropLength: false)
        state = .streaming
        evhttp_send_reply_start(req, Int32(status), nil)
        chunked = cproxy_evhttp_reply_is_chunked(req) != 0
    }

    /// Whether the streamed reply goes out in chunked framing (evhttp's choice at the start).
    private var chunked = false

    /// Queues body bytes for the client.
    public func send(_ bytes: UnsafeRawBufferPointer) {
        guard state == .streaming, bytes.count > 0 else { return }
        let buffer = server.scratch
        bytesSent += bytes.count
        // In chunked framing proxyd writes the framing itself (the size in hex, CRLF, the bytes,
        // CRLF) rather than have evhttp format it with a printf per chunk.
        if chunked {
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 18) { head in
                let digits = writeHex(UInt64(bytes.count), into: head)
                head[digits] = 0x0D
                head[digits + 1] = 0x0A
                evbuffer_add(buffer, head.baseAddress, digits + 2)
            }
        }
        evbuffer_add(buffer, bytes.baseAddress, bytes.count)
        if chunked { evbuffer_add(buffer, "\r\n", 2) }
        cproxy_evhttp_send_framed_chunk(req, buffer, { _, arg in
            Unmanaged<ServerExchange>.fromOpaque(arg!).takeUnretainedValue().drained()
        }, Unmanaged.passUnretained(self).toOpaque())
        evbuffer_drain(buffer, evbuffer_get_length(buffer))  // evhttp moved the bytes; this is a no-op unless it did not
    }

    /// Queues body bytes for the client.
    public func send(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { send($0) }
    }

    /// Ends a streamed reply cleanly.
    public func finishStream() {
        guard state == .streaming else { return }
        startFlushing()
        evhttp_send_reply_end(req)
    }

    /// Ends a streamed reply without its proper end (no terminating chunk), once the bytes
    /// already queued have reached the client: the client sees a truncated transfer.
    public func abortStream() {
        guard state == .streaming else { return }
        state = .aborting
        if pendingOutputBytes == 0 { closeConnection() }
    }

    /// Ends the exchange at once, whatever its state (shutdown grace period over).
    func cut() {
        switch state {
        case .ended: return
        case .flushing:
            closeConnection()
        case .pending:
            respond(.error(.unavailable("proxyd is shutting down", code: "shutting_down")))
        case .streaming, .aborting:
            closeConnection()
        }
        reportGone()
    }

    /// Tells the observer, once, that the client is gone, and drops it.
    private func reportGone() {
        let observer = self.observer
        self.observer = nil
        observer?.clientGone()
    }

    /// Drops every callback into this exchange; evhttp frees the request with its connection.
    func detach() {
        if state == .flushing { evhttp_request_set_on_complete_cb(req, nil, nil) }
        finishUp()
        observer = nil
    }

    private func drained() {
        if state == .aborting { closeConnection(); return }
        observer?.clientDrained()
    }

    /// Whether the request may have left body bytes evhttp did not read (it reads none for
    /// HEAD, TRACE and methods it does not know): then the connection cannot carry another
    /// request and closes after this reply.
    private var bodyLeftUnread: Bool {
        let m = request.method
        guard m == IncomingRequest.unrecognizedMethod || m == "HEAD" || m == "TRACE" else { return false }
        return request.headers.contains("Content-Length") || request.headers.contains("Transfer-Encoding")
            || m == IncomingRequest.unrecognizedMethod
    }

    private func setHeaders(_ headers: HTTPHeaders, dropLength: Bool) {
        let out = evhttp_request_get_output_headers(req)
        if bodyLeftUnread { _ = evhttp_add_header(out, "Connection", "close") }
        for (name, value) in headers {
            if dropLength && HTTPHeaders.namesEqual(name, "Content-Length") { continue }
            // withCString reads a native string in place; passing the String itself would
            // copy it into a new array first.
            _ = name.withCString { n in value.withCString { v in evhttp_add_header(out, n, v) } }
        }
    }

    private func finishUp() {
        state = .ended
        stopPeeking()
        evhttp_connection_set_closecb(evcon, nil, nil)
    }

    /// The reply is complete; the exchange ends when evhttp has written it (`on_complete`) or
    /// the connection dies first (the close callback).
    private func startFlushing() {
        state = .flushing
        stopPeeking()
        evhttp_request_set_on_complete_cb(req, { _, arg in
            Unmanaged<ServerExchange>.fromOpaque(arg!).takeUnretainedValue().flushed()
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    private func flushed() {
        guard state == .flushing else { return }
        finishUp()
        withExtendedLifetime(self) { server.ended(self) }
    }

    private func closeConnection() {
        if state == .flushing { evhttp_request_set_on_complete_cb(req, nil, nil) }
        finishUp()
        freeingConnection = true
        evhttp_connection_free(evcon)
        withExtendedLifetime(self) { server.ended(self) }
    }

    private func stopPeeking() {
        if let peekEvent { event_del(peekEvent); event_free(peekEvent) }
        peekEvent = nil
    }

    private func peek(_ fd: Int32) {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK))
        if n > 0 {
            // A pipelined request: evhttp reads it after this reply. Stop watching.
            stopPeeking()
        } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            clientLeft(viaEvhttp: false)
        }
    }

    /// evhttp is freeing the connection (write error, timeout, or our own free).
    private func connectionClosed() {
        if freeingConnection { return }
        if state == .flushing {
            // The reply was complete but could not all be written; evhttp frees the request.
            flushed()
            return
        }
        clientLeft(viaEvhttp: true)
    }

    private func clientLeft(viaEvhttp: Bool) {
        guard state != .ended && state != .flushing else { return }
        finishUp()
        if viaEvhttp {
            // evhttp detached the request from the dying connection: this frees it.
            evhttp_send_reply_end(req)
        } else {
            freeingConnection = true
            evhttp_connection_free(evcon)
        }
        server.ended(self)
        reportGone()
    }
}
