import CLibevent
import Glibc
import ProxyCore

/// The request limits an `HTTPServer` enforces.
public struct ServerLimits: Sendable {
    public var maxBodyBytes: Int
    public var maxHeaderBytes: Int
    public var idleTimeoutSeconds: Double

    public init(maxBodyBytes: Int, maxHeaderBytes: Int, idleTimeoutSeconds: Double) {
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.idleTimeoutSeconds = idleTimeoutSeconds
    }
}

/// An HTTP/1.1 server on one loop (evhttp), serving one listening socket. Requests are handed
/// to `handler` as `ServerExchange`s, which answer whole or streamed.
public final class HTTPServer {
    let loop: EventLoop
    /// Reused to hand reply bytes to evhttp, which moves them out on every call.
    let scratch: OpaquePointer = evbuffer_new()
    let http: OpaquePointer
    private var bound: OpaquePointer?
    let limits: ServerLimits
    let handler: (ServerExchange) -> Void
    /// Exchanges whose reply has not ended; they are kept alive here.
    private var live: [ObjectIdentifier: ServerExchange] = [:]
    /// Called whenever the last live exchange ends.
    public var onIdle: (() -> Void)?
    /// Exchanges accepted since the last disconnect-watch tick.
    private var unwatched: [ServerExchange] = []
    private var watchTimer: LoopTimer?
    /// How long an exchange may run before its client's socket is watched for a disconnect.
    static let disconnectWatchDelay = 0.02

    /// Serves `socket` (taking ownership of its descriptor) on `loop`.
    public init(loop: EventLoop, socket: ListeningSocket, limits: ServerLimits, handler: @escaping (ServerExchange) -> Void) {
        self.loop = loop
        self.limits = limits
        self.handler = handler
        http = evhttp_new(loop.base)
        evhttp_set_default_content_type(http, nil)
        // Read and discard the rest of an oversized body before closing, so the client gets its 413.
        evhttp_set_flags(http, EVHTTP_SERVER_LINGERING_CLOSE)
        let all = EVHTTP_REQ_GET.rawValue | EVHTTP_REQ_POST.rawValue | EVHTTP_REQ_HEAD.rawValue | EVHTTP_REQ_PUT.rawValue
            | EVHTTP_REQ_DELETE.rawValue | EVHTTP_REQ_OPTIONS.rawValue | EVHTTP_REQ_TRACE.rawValue
            | EVHTTP_REQ_CONNECT.rawValue | EVHTTP_REQ_PATCH.rawValue
        // libevent 2.1 parses no extension methods; it marks them with its internal "unknown"
        // bit (1 << 15). Letting them through gives ProxyCore the answer (405) instead of
        // evhttp's HTML 501.
        evhttp_set_allowed_methods(http, UInt16(all) | HTTPServer.unknownMethodBit)
        evhttp_set_max_body_size(http, Int(limits.maxBodyBytes))
        // evhttp answers 413 itself past its own header limit; ours (431) applies below that.
        evhttp_set_max_headers_size(http, Int(limits.maxHeaderBytes * 2 + 4096))
        var tv = timeval(tv_sec: Int(limits.idleTimeoutSeconds), tv_usec: 0)
        evhttp_set_timeout_tv(http, &tv)
        evhttp_set_gencb(http, { req, arg in
            Unmanaged<HTTPServer>.fromOpaque(arg!).takeUnretainedValue().accept(req!)
        }, Unmanaged.passUnretained(self).toOpaque())
        bound = evhttp_accept_socket_with_handle(http, socket.fd)
    }

    deinit {
        evbuffer_free(scratch)
        // evhttp_free closes every connection, firing their callbacks: detach the exchanges
        // first so none of them reports back to a server that is going away.
        for exchange in live.values { exchange.detach() }
        evhttp_free(http)
    }

    /// The number of requests being answered.
    public var inFlight: Int { live.count }

    /// Closes the listening socket; requests in flight go on.
    public func stopAccepting() {
        if let bound { evhttp_del_accept_socket(http, bound) }
        bound = nil
    }

    /// Cuts every exchange still in flight (end of the shutdown grace period).
    public func cutAll() {
        for exchange in Array(live.values) { exchange.cut() }
    }

    func ended(_ exchange: ServerExchange) {
        live[ObjectIdentifier(exchange)] = nil
        if live.isEmpty { onIdle?() }
    }

    private func accept(_ req: OpaquePointer) {
        let method = HTTPServer.methodName(evhttp_request_get_command(req))
        let target = String(cString: evhttp_request_get_uri(req))
        var headers = HTTPHeaders()
        headers.reserveCapacity(12)  // room for a typical request's fields without regrowing
        var headerBytes = method.utf8.count + target.utf8.count + 12
        if let list = evhttp_request_get_input_headers(req) {
            var entry = list.pointee.tqh_first
            while let e = entry {
                let name = String(cString: e.pointee.key)
                let value = String(cString: e.pointee.value)
                headerBytes += name.utf8.count + value.utf8.count + 4
                headers.add(name, value)
                entry = e.pointee.next.tqe_next
            }
        }
        var body: [UInt8] = []
        if let input = evhttp_request_get_input_buffer(req) {
            let n = evbuffer_get_length(input)
            if n > 0 {
                body = [UInt8](unsafeUninitializedCapacity: n) { buf, count in
                    count = Int(evbuffer_remove(input, buf.baseAddress, n))
                }
            }
        }
        let request = IncomingRequest(method: method, target: target, headers: headers, body: body)
        let exchange = ServerExchange(server: self, req: req, request: request)
        live[ObjectIdentifier(exchange)] = exchange
        unwatched.append(exchange)
        if unwatched.count == 1 {
            let timer = watchTimer ?? LoopTimer(loop: loop) { [unowned self] in watchTick() }
            watchTimer = timer
            timer.schedule(after: HTTPServer.disconnectWatchDelay)
        }
        if headerBytes > limits.maxHeaderBytes {
            exchange.respond(.error(.headersTooLarge(limit: limits.maxHeaderBytes)))
            return
        }
        handler(exchange)
    }

    private func watchTick() {
        let batch = unwatched
        unwatched.removeAll(keepingCapacity: true)
        for exchange in batch where !exchange.isEnded { exchange.watchForDisconnect() }
    }

    /// libevent's internal EVHTTP_REQ_UNKNOWN_.
    static let unknownMethodBit: UInt16 = 1 << 15

    static func methodName(_ cmd: evhttp_cmd_type) -> String {
        switch cmd {
        case EVHTTP_REQ_GET: return "GET"
        case EVHTTP_REQ_POST: return "POST"
        case EVHTTP_REQ_HEAD: return "HEAD"
        case EVHTTP_REQ_PUT: return "PUT"
        case EVHTTP_REQ_DELETE: return "DELETE"
        case EVHTTP_REQ_OPTIONS: return "OPTIONS"
        case EVHTTP_REQ_TRACE: return "TRACE"
        case EVHTTP_REQ_CONNECT: return "CONNECT"
        case EVHTTP_REQ_PATCH: return "PATCH"
        default: return IncomingRequest.unrecognizedMethod
        }
    }
}
