import CLibevent
import CProxyShim
import Glibc
import ProxyCore

/// The request limits and deadlines an `HTTPServer` enforces.
public struct ServerLimits: Sendable {
    public var maxBodyBytes: Int
    public var maxHeaderBytes: Int
    /// How long a connection may wait with no request under way.
    public var idleTimeoutSeconds: Double
    /// From a request's first byte to the end of its head.
    public var headerTimeoutSeconds: Double
    /// The longest pause between a request's body bytes.
    public var bodyTimeoutSeconds: Double

    public init(maxBodyBytes: Int, maxHeaderBytes: Int, idleTimeoutSeconds: Double,
                headerTimeoutSeconds: Double = 10, bodyTimeoutSeconds: Double = 30) {
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.headerTimeoutSeconds = headerTimeoutSeconds
        self.bodyTimeoutSeconds = bodyTimeoutSeconds
    }

    var parser: HTTPRequestParser.Limits {
        HTTPRequestParser.Limits(maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes)
    }
}

/// Something that can hold back writes during a pass of work and make them at its end.
public protocol WriteBatching: AnyObject {
    func beginBatch()
    func endBatch()
}

/// An HTTP/1.1 server on one loop: accepts from a listening socket (which several servers, one
/// per loop, may share), reads requests with ProxyCore's parser and hands each to `handler` as a
/// `ServerExchange`, which answers whole or streamed.
public final class HTTPServer: WriteBatching {
    let loop: EventLoop
    let limits: ServerLimits
    let handler: (ServerExchange) -> Void
    private let listener: Int32
    private var acceptEvent: OpaquePointer?
    private var acceptPause: OpaquePointer?
    private var connections: [ObjectIdentifier: ClientConnection] = [:]
    private var exchanges = 0
    /// Connections accepted so far (their ids).
    private var accepted = 0
    private var lastAcceptWarning = -1.0
    /// Set by `stopAccepting`: answers close their connections, idle connections are closed.
    private(set) var draining = false

    /// One read buffer for every connection of the loop (reads are never nested).
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    /// Reused to build response heads.
    var headScratch: [UInt8] = []
    private var cachedDate: (second: Int, text: String) = (-1, "")

    /// While above zero, connections queue what they write and are flushed when it drops to zero.
    private(set) var batchDepth = 0
    /// Connections with bytes queued during the current batch.
    private var batched: [ClientConnection] = []

    /// Called whenever the last exchange in flight ends.
    public var onIdle: (() -> Void)?
    /// Makes the answer to a request that could not be read (the error, and the head when it
    /// was read); by default the error in the hub form's shape.
    public var refusal: (HTTPRequestError, HTTPRequestHead?) -> LocalResponse = { error, _ in .error(error.proxyError) }
    /// Told of trouble the server works around (accepting paused for lack of descriptors).
    public var warning: ((String, [(String, JSONValue)]) -> Void)?

    /// How long accepting pauses when the process is out of descriptors.
    static let acceptPauseSeconds = 0.1

    /// Serves `socket` on `loop`. The socket stays open until its owner closes it.
    public init(loop: EventLoop, socket: ListeningSocket, limits: ServerLimits, handler: @escaping (ServerExchange) -> Void) {
        self.loop = loop
        self.limits = limits
        self.handler = handler
        listener = socket.fd
        headScratch.reserveCapacity(1024)
        let me = Unmanaged.passUnretained(self).toOpaque()
        acceptEvent = event_new(loop.base, listener, Int16(EV_READ | EV_PERSIST), { _, _, arg in
            Unmanaged<HTTPServer>.fromOpaque(arg!).takeUnretainedValue().acceptReady()
        }, me)
        acceptPause = event_new(loop.base, -1, 0, { _, _, arg in
            Unmanaged<HTTPServer>.fromOpaque(arg!).takeUnretainedValue().resumeAccepting()
        }, me)
        event_add(acceptEvent, nil)
    }

    deinit {
        for connection in connections.values {
            connection.exchange?.detach()
            connection.closeSilently()
        }
        if let acceptEvent { event_del(acceptEvent); event_free(acceptEvent) }
        if let acceptPause { event_del(acceptPause); event_free(acceptPause) }
        readBuffer.deallocate()
    }

    /// The number of requests being answered.
    public var inFlight: Int { exchanges }

    /// Stops accepting (the listening socket stays open for its owner to close); requests in
    /// flight go on, their connections close after their answers, idle connections close now.
    public func stopAccepting() {
        draining = true
        if let acceptEvent { event_del(acceptEvent); event_free(acceptEvent) }
        acceptEvent = nil
        if let acceptPause { event_del(acceptPause) }
        for connection in Array(connections.values) where !connection.isBusy { connection.close() }
    }

    /// Cuts every exchange still in flight (end of the shutdown grace period).
    public func cutAll() {
        for connection in Array(connections.values) { connection.exchange?.cut() }
    }

    // MARK: accepting

    private func acceptReady() {
        // A bounded batch per wake-up, so one loop does not take every waiting connection.
        for _ in 0..<64 {
            let fd = cproxy_accept_nonblocking(listener)
            if fd < 0 {
                switch errno {
                case EAGAIN, EWOULDBLOCK: return
                case EINTR, ECONNABORTED, EPROTO: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    pauseAccepting(reason: String(cString: strerror(errno)))
                    return
                default:
                    return
                }
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            accepted += 1
            let connection = ClientConnection(server: self, fd: fd, id: accepted)
            connections[ObjectIdentifier(connection)] = connection
            connection.start()
        }
    }

    /// Out of descriptors: stop accepting for a moment (the pending connections wait in the
    /// kernel's queue) and say so, at most once a second.
    private func pauseAccepting(reason: String) {
        guard let acceptEvent else { return }
        event_del(acceptEvent)
        var tv = timeval(tv_sec: 0, tv_usec: Int(HTTPServer.acceptPauseSeconds * 1_000_000))
        event_add(acceptPause, &tv)
        let now = loop.now
        if now - lastAcceptWarning >= 1 {
            lastAcceptWarning = now
            warning?("accepting paused: out of file descriptors", [("error", .string(reason)),
                                                                    ("open_connections", .int(connections.count))])
        }
    }

    private func resumeAccepting() {
        if let acceptEvent { event_add(acceptEvent, nil) }
    }

    // MARK: batching

    /// From now until the matching `endBatch`, bytes written to clients are queued: everything a
    /// pass of upstream deliveries sends to one client goes out in one write at its end.
    public func beginBatch() { batchDepth += 1 }

    public func endBatch() {
        batchDepth -= 1
        guard batchDepth == 0, !batched.isEmpty else { return }
        let connections = batched
        batched.removeAll(keepingCapacity: true)
        for connection in connections { connection.flushBatch() }
    }

    /// `connection` queued bytes in this batch; it is flushed at the batch's end.
    func batch(_ connection: ClientConnection) { batched.append(connection) }

    // MARK: bookkeeping

    func connectionClosed(_ connection: ClientConnection) {
        connections[ObjectIdentifier(connection)] = nil
    }

    func exchangeStarted() { exchanges += 1 }

    func exchangeEnded() {
        exchanges -= 1
        if exchanges == 0 { onIdle?() }
    }

    /// The `Date` field's value for now (IMF-fixdate), formatted once a second.
    func dateHeader() -> String {
        let now = time(nil)
        if now == cachedDate.second { return cachedDate.text }
        var t = now
        var parts = tm()
        gmtime_r(&t, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let text = "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
        cachedDate = (now, text)
        return text
    }
}
