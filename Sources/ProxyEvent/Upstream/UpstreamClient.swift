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
    private var idleHandles: [UnsafeMutableRawPointer] = []
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

    public init(loop: EventLoop) {
        _ = UpstreamClient.globalInit
        self.loop = loop
        multi = curl_multi_init()
        let me = Unmanaged.passUnretained(self).toOpaque()
        cproxy_multi_setopt_socket_cb(multi) { easy, socket, what, userp, socketp in
            Unmanaged<UpstreamClient>.fromOpaque(userp!).takeUnretainedValue().watch(socket: socket, what: what, watch: socketp)
        }
        cproxy_multi_setopt_ptr(multi, CURLMOPT_SOCKETDATA, me)
        cproxy_multi_setopt_timer_cb(multi) { _, timeoutMs, userp in
            Unmanaged<UpstreamClient>.fromOpaque(userp!).takeUnretainedValue().setTimer(ms: timeoutMs)
        }
        cproxy_multi_setopt_ptr(multi, CURLMOPT_TIMERDATA, me)
        cproxy_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 256)
        cproxy_multi_setopt_long(multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        timerEvent = event_new(loop.base, -1, 0, { _, _, arg in
            Unmanaged<UpstreamClient>.fromOpaque(arg!).takeUnretainedValue().timerFired()
        }, me)
    }

    deinit {
        for t in Array(transfers.values) { t.cancel() }
        if let timerEvent { event_del(timerEvent); event_free(timerEvent) }
        for h in idleHandles { curl_easy_cleanup(h) }
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

    /// An easy handle with default options: a recycled one when there is one.
    func takeHandle() -> UnsafeMutableRawPointer {
        if let h = idleHandles.popLast() { return h }
        return curl_easy_init()
    }

    /// Starts a transfer; its callbacks run on this loop.
    public func start(_ request: UpstreamRequest, handler: UpstreamTransfer.Handler) -> UpstreamTransfer {
        let transfer = UpstreamTransfer(client: self, request: request, handler: handler)
        transfers[ObjectIdentifier(transfer)] = transfer
        curl_multi_add_handle(multi, transfer.easy)
        return transfer
    }

    /// Takes a transfer off the multi handle and recycles its easy handle.
    func remove(_ transfer: UpstreamTransfer) {
        curl_multi_remove_handle(multi, transfer.easy)
        curl_easy_reset(transfer.easy)
        if idleHandles.count < 256 { idleHandles.append(transfer.easy) } else { curl_easy_cleanup(transfer.easy) }
        transfers[ObjectIdentifier(transfer)] = nil
    }

    // MARK: libcurl's callbacks and the loop's events

    /// One watched socket: an event whose flags follow what libcurl asks for.
    final class SocketWatch {
        var event: OpaquePointer?
        var flags: Int16 = 0
        deinit { if let event { event_del(event); event_free(event) } }
    }

    private func watch(socket: curl_socket_t, what: Int32, watch: UnsafeMutableRawPointer?) -> Int32 {
        if what == CURL_POLL_REMOVE {
            if let watch { Unmanaged<SocketWatch>.fromOpaque(watch).release() }
            curl_multi_assign(multi, socket, nil)
            return 0
        }
        var flags = Int16(EV_PERSIST)
        if what & CURL_POLL_IN != 0 { flags |= Int16(EV_READ) }
        if what & CURL_POLL_OUT != 0 { flags |= Int16(EV_WRITE) }
        let w: SocketWatch
        if let watch {
            w = Unmanaged<SocketWatch>.fromOpaque(watch).takeUnretainedValue()
            if w.flags == flags { return 0 }
            event_del(w.event)
        } else {
            w = SocketWatch()
            w.event = event_new(loop.base, -1, 0, nil, nil)
            curl_multi_assign(multi, socket, Unmanaged.passRetained(w).toOpaque())
        }
        w.flags = flags
        event_assign(w.event, loop.base, socket, flags, { fd, events, arg in
            Unmanaged<UpstreamClient>.fromOpaque(arg!).takeUnretainedValue().socketReady(fd, events)
        }, Unmanaged.passUnretained(self).toOpaque())
        event_add(w.event, nil)
        return 0
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
        var action: Int32 = 0
        if events & Int16(EV_READ) != 0 { action |= CURL_CSELECT_IN }
        if events & Int16(EV_WRITE) != 0 { action |= CURL_CSELECT_OUT }
        var running: Int32 = 0
        curl_multi_socket_action(multi, fd, action, &running)
        collectFinished()
    }

    private func timerFired() {
        var running: Int32 = 0
        curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running)
        collectFinished()
    }

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
