import CCurl
import CLibevent
import CProxyShim
import Glibc
import ProxyCore

/// An HTTP client on one loop: libcurl's multi-socket interface, its sockets and timer watched
/// by the loop. Connections to an upstream are kept and reused across transfers.
public final class UpstreamClient {
    let loop: EventLoop
    let multi: UnsafeMutableRawPointer
    private var timerEvent: OpaquePointer?
    /// Transfers under way, kept alive here until they complete or are cancelled.
    var transfers: [ObjectIdentifier: UpstreamTransfer] = [:]
    /// Easy handles of finished transfers, reset and ready for the next one.
    /// Each with whether it has libcurl decode answers (an option that costs a few thousand
    /// instructions to set, so it is set only when a transfer needs the other value).
    private var idleHandles: [(handle: UnsafeMutableRawPointer, decodes: Bool)] = []
    /// Parsed URLs (CURLU handles) by their text, so libcurl does not parse the same upstream URL
    /// for every request. libcurl only reads them. Bounded: past the limit, URLs are set as text.
    private var parsedURLs: [String: OpaquePointer] = [:]
    static let parsedURLLimit = 128
    /// Reused to build header lines for curl_slist_append.
    var headerLine: [CChar] = []

    static let globalInit: Bool = {
        curl_global_init(Int(CURL_GLOBAL_ALL))
        return true
    }()

    /// Connections kept open for reuse; the oldest idle one is closed past it.
    let maxIdleConnections: Int

    /// Body bytes one pass of the loop delivers before the transfers that would deliver more
    /// yield (pause, and resume on the loop's next turn), so other clients get their turn.
    static let passBudgetBytes = 256 * 1024
    /// Body bytes delivered in the current pass.
    var passBytes = 0
    /// Transfers that yielded in this pass, resumed on the loop's next turn.
    private var yielded: [UpstreamTransfer] = []
    private var yieldEvent: OpaquePointer?

    public init(loop: EventLoop, maxIdleConnections: Int = 32) {
        _ = UpstreamClient.globalInit
        self.loop = loop
        self.maxIdleConnections = max(1, maxIdleConnections)
        multi = curl_multi_init()
        let me = Unmanaged.passUnretained(self).toOpaque()
        cproxy_multi_setopt_socket_cb(multi) { easy, socket, what, userp, _ in
            Unmanaged<UpstreamClient>.fromOpaque(userp!).takeUnretainedValue().watch(socket: socket, what: what)
        }
        cproxy_multi_setopt_ptr(multi, CURLMOPT_SOCKETDATA, me)
        cproxy_multi_setopt_timer_cb(multi) { _, timeoutMs, userp in
            Unmanaged<UpstreamClient>.fromOpaque(userp!).takeUnretainedValue().setTimer(ms: timeoutMs)
        }
        cproxy_multi_setopt_ptr(multi, CURLMOPT_TIMERDATA, me)
        cproxy_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, self.maxIdleConnections)
        cproxy_multi_setopt_long(multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        timerEvent = event_new(loop.base, -1, 0, { _, _, arg in
            Unmanaged<UpstreamClient>.fromOpaque(arg!).takeUnretainedValue().timerFired()
        }, me)
        yieldEvent = event_new(loop.base, -1, 0, { _, _, arg in
            Unmanaged<UpstreamClient>.fromOpaque(arg!).takeUnretainedValue().resumeYielded()
        }, me)
    }

    deinit {
        for t in Array(transfers.values) { t.cancel() }
        yielded.removeAll()
        failed.removeAll()
        if let timerEvent { event_del(timerEvent); event_free(timerEvent) }
        if let yieldEvent { event_del(yieldEvent); event_free(yieldEvent) }
        for h in idleHandles { curl_easy_cleanup(h.handle) }
        for u in parsedURLs.values { curl_url_cleanup(u) }
        curl_multi_cleanup(multi)
    }

    /// A parsed form of `url` to hand libcurl (CURLOPT_CURLU), or nil to set it as text.
    func parsedURL(_ url: String) -> OpaquePointer? {
        if let u = parsedURLs[url] { return u }
        guard parsedURLs.count < UpstreamClient.parsedURLLimit, let u = curl_url() else { return nil }
        // PATH_AS_IS: the path that was checked is the path sent.
        guard curl_url_set(u, CURLUPART_URL, url, UInt32(CURLU_PATH_AS_IS)) == CURLUE_OK else {
            curl_url_cleanup(u)
            return nil
        }
        parsedURLs[url] = u
        return u
    }

    /// An easy handle: a recycled one (with its previous transfer's options) when there is
    /// one, else a new one (`fresh`, with libcurl's defaults).
    func takeHandle() -> (UnsafeMutableRawPointer, fresh: Bool, decodes: Bool) {
        if let h = idleHandles.popLast() { return (h.handle, false, h.decodes) }
        return (curl_easy_init(), true, false)
    }

    /// Starts a transfer; its callbacks run on this loop.
    public func start(_ request: UpstreamRequest, handler: UpstreamTransferDelegate) -> UpstreamTransfer {
        let transfer = UpstreamTransfer(client: self, request: request, handler: handler)
        transfers[ObjectIdentifier(transfer)] = transfer
        curl_multi_add_handle(multi, transfer.easy)
        return transfer
    }

    /// Takes a transfer off the multi handle and recycles its easy handle.
    func remove(_ transfer: UpstreamTransfer) {
        curl_multi_remove_handle(multi, transfer.easy)
        // Recycled handles keep their buffers: keep about as many as connections.
        if idleHandles.count < maxIdleConnections {
            idleHandles.append((transfer.easy, transfer.decodes))
        } else {
            curl_easy_cleanup(transfer.easy)
        }
        transfers[ObjectIdentifier(transfer)] = nil
    }

    // MARK: libcurl's callbacks and the loop's events

    /// One socket libcurl uses, by descriptor: its event, whose flags follow what libcurl asks for.
    ///
    /// A connection's socket stays registered for reading while the connection waits in
    /// libcurl's pool ("parked"): libcurl says REMOVE after every transfer and asks again for
    /// the next one, and keeping the registration saves two epoll changes per request. That
    /// is safe only for sockets whose whole life proxyd sees: connection sockets, opened and
    /// closed through the callbacks below. Any other socket (a resolver's wake-up pair, say)
    /// is unregistered at once when libcurl lets go of it.
    final class SocketWatch {
        let event: OpaquePointer
        /// The flags the event is registered with; 0 when it is not registered.
        var flags: Int16 = 0
        /// Opened through `openSocket`, so its close is seen.
        var isConnection = false
        /// libcurl has let go of it; it stays registered until it becomes readable or is closed.
        var parked = false

        /// Kept so that the loop's `event_base` outlives this event (see `LoopTimer`).
        private let loop: EventLoop

        init(loop: EventLoop) {
            self.loop = loop
            event = event_new(loop.base, -1, 0, nil, nil)
        }

        func unregister() {
            if flags != 0 { event_del(event) }
            flags = 0
        }

        deinit {
            unregister()
            event_free(event)
        }
    }

    /// Watches by descriptor.
    private var watches: [SocketWatch?] = []

    private func watchFor(_ fd: curl_socket_t) -> SocketWatch {
        let i = Int(fd)
        if i >= watches.count { watches.append(contentsOf: repeatElement(nil, count: i + 1 - watches.count)) }
        if let w = watches[i] { return w }
        let w = SocketWatch(loop: loop)
        watches[i] = w
        return w
    }

    private func watch(socket: curl_socket_t, what: Int32) -> Int32 {
        let w = watchFor(socket)
        if what == CURL_POLL_REMOVE {
            if w.isConnection && w.flags == Int16(EV_READ | EV_PERSIST) {
                w.parked = true
            } else {
                w.unregister()
                if !w.isConnection { watches[Int(socket)] = nil }
            }
            return 0
        }
        w.parked = false
        var flags = Int16(EV_PERSIST)
        if what & CURL_POLL_IN != 0 { flags |= Int16(EV_READ) }
        if what & CURL_POLL_OUT != 0 { flags |= Int16(EV_WRITE) }
        if w.flags == flags { return 0 }
        w.unregister()
        w.flags = flags
        event_assign(w.event, loop.base, socket, flags, { fd, events, arg in
            Unmanaged<UpstreamClient>.fromOpaque(arg!).takeUnretainedValue().socketReady(fd, events)
        }, Unmanaged.passUnretained(self).toOpaque())
        event_add(w.event, nil)
        return 0
    }

    /// libcurl's socket for a new connection (CURLOPT_OPENSOCKETFUNCTION).
    private func openSocket(family: Int32, type: Int32, protocol: Int32) -> curl_socket_t {
        let fd = Glibc.socket(family, type | Int32(SOCK_CLOEXEC.rawValue), `protocol`)
        if fd >= 0 {
            let w = watchFor(fd)
            w.unregister()
            w.parked = false
            w.isConnection = true
        }
        return fd
    }

    /// libcurl closes a connection (CURLOPT_CLOSESOCKETFUNCTION).
    private func closeSocket(_ fd: curl_socket_t) -> Int32 {
        if Int(fd) < watches.count, let w = watches[Int(fd)] {
            w.unregister()
            watches[Int(fd)] = nil
        }
        return Glibc.close(fd)
    }

    /// Sets the socket callbacks on a new easy handle (recycled handles keep them).
    func setSocketCallbacks(_ easy: UnsafeMutableRawPointer) {
        let me = Unmanaged.passUnretained(self).toOpaque()
        cproxy_easy_setopt_opensocket_cb(easy) { clientp, purpose, address in
            guard purpose == CURLSOCKTYPE_IPCXN, let address else { return CURL_SOCKET_BAD }
            return Unmanaged<UpstreamClient>.fromOpaque(clientp!).takeUnretainedValue()
                .openSocket(family: address.pointee.family, type: address.pointee.socktype, protocol: address.pointee.protocol)
        }
        cproxy_easy_setopt_ptr(easy, CURLOPT_OPENSOCKETDATA, me)
        cproxy_easy_setopt_closesocket_cb(easy) { clientp, fd in
            Unmanaged<UpstreamClient>.fromOpaque(clientp!).takeUnretainedValue().closeSocket(fd)
        }
        cproxy_easy_setopt_ptr(easy, CURLOPT_CLOSESOCKETDATA, me)
    }

    private func setTimer(ms: Int) -> Int32 {
        if ms < 0 {
            event_del(timerEvent)
        } else {
            var tv = timeval(tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000)
            event_add(timerEvent, &tv)
        }
        return 0
    }

    private func socketReady(_ fd: Int32, _ events: Int16) {
        if Int(fd) < watches.count, let w = watches[Int(fd)], w.parked {
            // A pooled connection became readable: closed by the upstream, most likely. libcurl
            // checks it before reusing it; stop watching it meanwhile.
            w.parked = false
            w.unregister()
            return
        }
        var action: Int32 = 0
        if events & Int16(EV_READ) != 0 { action |= CURL_CSELECT_IN }
        if events & Int16(EV_WRITE) != 0 { action |= CURL_CSELECT_OUT }
        var running: Int32 = 0
        batching?.beginBatch()
        passBytes = 0
        curl_multi_socket_action(multi, fd, action, &running)
        collectFinished()
        batching?.endBatch()
    }

    private func timerFired() {
        var running: Int32 = 0
        batching?.beginBatch()
        passBytes = 0
        curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running)
        collectFinished()
        batching?.endBatch()
    }

    /// `transfer` used up this pass's budget: it resumes on the loop's next turn, after the
    /// loop has seen to whatever else is ready.
    func yieldUntilNextTurn(_ transfer: UpstreamTransfer) {
        if yielded.isEmpty && failed.isEmpty {
            var now = timeval(tv_sec: 0, tv_usec: 0)
            event_add(yieldEvent, &now)
        }
        yielded.append(transfer)
    }

    /// `transfer` failed where it could not be ended (inside a resume): it ends on the loop's
    /// next turn with `result`.
    func finishOnNextTurn(_ transfer: UpstreamTransfer, _ result: CURLcode) {
        if yielded.isEmpty && failed.isEmpty {
            var now = timeval(tv_sec: 0, tv_usec: 0)
            event_add(yieldEvent, &now)
        }
        failed.append((transfer, result))
    }

    private var failed: [(UpstreamTransfer, CURLcode)] = []

    private func resumeYielded() {
        let list = yielded
        yielded.removeAll()
        let ended = failed
        failed.removeAll()
        batching?.beginBatch()
        passBytes = 0
        for (t, result) in ended { t.finished(result) }
        for t in list { t.resumeAfterYield() }
        collectFinished()
        batching?.endBatch()
    }

    /// Told before and after each pass in which libcurl may deliver upstream bytes, so that
    /// what one pass sends to a client can go out in one write.
    public var batching: WriteBatching?

    /// Hands every finished transfer its result.
    private func collectFinished() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let result = message.pointee.data.result
            var raw: UnsafeMutableRawPointer?
            cproxy_easy_getinfo_ptr(easy, CURLINFO_PRIVATE, &raw)
            guard let raw else { continue }
            let transfer = Unmanaged<UpstreamTransfer>.fromOpaque(raw).takeUnretainedValue()
            transfer.finished(result)
        }
    }
}
