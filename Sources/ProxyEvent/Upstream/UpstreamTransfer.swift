import CCurl
import CProxyShim
import Glibc
import ProxyCore

/// What a transfer reports, in order: the head once, body bytes any number of times, the end
/// once. The transfer holds its delegate until the end (or `cancel`).
public protocol UpstreamTransferDelegate: AnyObject {
    /// The final response head (1xx heads are skipped). Return false to cancel.
    func transferHead(status: Int, headers: HTTPHeaders) -> Bool
    /// Body bytes. Return `.pause` to have the same bytes delivered again after `resume()`.
    func transferBody(_ bytes: UnsafeRawBufferPointer) -> UpstreamTransfer.BodyVerdict
    /// The transfer ended: nil when complete, else why it failed.
    func transferDone(error: String?)
}

/// One upstream request on an `UpstreamClient`: the head and body are delivered as they
/// arrive, and the body can be paused while the client is slow.
public final class UpstreamTransfer {
    /// A delegate made of closures, for callers that keep no object of their own.
    public final class Handler: UpstreamTransferDelegate {
        let head: (_ status: Int, _ headers: HTTPHeaders) -> Bool
        let body: (_ bytes: UnsafeRawBufferPointer) -> BodyVerdict
        let done: (_ error: String?) -> Void

        public init(head: @escaping (Int, HTTPHeaders) -> Bool, body: @escaping (UnsafeRawBufferPointer) -> BodyVerdict,
                    done: @escaping (String?) -> Void) {
            self.head = head
            self.body = body
            self.done = done
        }

        public func transferHead(status: Int, headers: HTTPHeaders) -> Bool { head(status, headers) }
        public func transferBody(_ bytes: UnsafeRawBufferPointer) -> BodyVerdict { body(bytes) }
        public func transferDone(error: String?) { done(error) }
    }

    public typealias BodyVerdict = UpstreamBodyVerdict

    private unowned let client: UpstreamClient
    let easy: UnsafeMutableRawPointer
    private var handler: UpstreamTransferDelegate?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var headHeaders = HTTPHeaders()
    public private(set) var headDelivered = false
    private var finishedAlready = false
    public private(set) var isPaused = false
    /// Whether libcurl decodes this transfer's answer (the handle keeps the setting).
    let decodes: Bool

    init(client: UpstreamClient, request: UpstreamRequest, handler: UpstreamTransferDelegate) {
        self.client = client
        self.handler = handler
        let (handle, fresh, decoding) = client.takeHandle()
        easy = handle
        decodes = request.decodesAnswer
        let me = Unmanaged.passUnretained(self).toOpaque()
        if fresh { UpstreamTransfer.setFixedOptions(handle, client: client) }
        // Everything below is set on every transfer: a recycled handle keeps the options of
        // its previous transfer (it is not reset), so each one that varies is set again.
        cproxy_easy_setopt_ptr(easy, CURLOPT_PRIVATE, me)
        cproxy_easy_setopt_ptr(easy, CURLOPT_HEADERDATA, me)
        cproxy_easy_setopt_ptr(easy, CURLOPT_WRITEDATA, me)
        let urlText = request.url.description
        if let parsed = client.parsedURL(urlText) {
            cproxy_easy_setopt_ptr(easy, CURLOPT_CURLU, UnsafeRawPointer(parsed))
        } else {
            cproxy_easy_setopt_ptr(easy, CURLOPT_CURLU, nil)  // a parsed URL would win over the text
            cproxy_easy_setopt_ptr(easy, CURLOPT_URL, urlText)
        }
        cproxy_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeoutSeconds * 1000))
        // "" turns decoding on for every encoding libcurl knows; nil turns it off (a recycled
        // handle keeps the last transfer's choice).
        if fresh || decoding != decodes {
            if decodes {
                cproxy_easy_setopt_ptr(easy, CURLOPT_ACCEPT_ENCODING, "")
            } else {
                cproxy_easy_setopt_ptr(easy, CURLOPT_ACCEPT_ENCODING, nil)
            }
        }
        // The method: back to a plain GET first (this also clears upload and no-body), then
        // what this request needs.
        cproxy_easy_setopt_long(easy, CURLOPT_HTTPGET, 1)
        cproxy_easy_setopt_ptr(easy, CURLOPT_CUSTOMREQUEST, nil)
        let method = request.method
        switch method {
        case "GET": break
        case "HEAD": cproxy_easy_setopt_long(easy, CURLOPT_NOBODY, 1)
        default:
            if method != "POST" { cproxy_easy_setopt_ptr(easy, CURLOPT_CUSTOMREQUEST, method) }
            if method == "POST" || !request.body.isEmpty {
                cproxy_easy_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count))
                request.body.withUnsafeBytes { buf in
                    // COPYPOSTFIELDS copies, so the body need not outlive this call.
                    _ = cproxy_easy_setopt_ptr(easy, CURLOPT_COPYPOSTFIELDS, buf.baseAddress ?? UnsafeRawPointer(bitPattern: 1))
                }
            }
        }
        var list: UnsafeMutablePointer<curl_slist>? = nil
        // Lines are built in the client's reused buffer, moved out while in use so it stays unique.
        var line: [CChar] = []
        swap(&line, &client.headerLine)
        defer { swap(&line, &client.headerLine) }
        for (name, value) in request.headers {
            // "Name: value", or "Name;" for an empty value.
            line.removeAll(keepingCapacity: true)
            for b in name.utf8 { line.append(CChar(bitPattern: b)) }
            if value.isEmpty {
                line.append(CChar(UInt8(ascii: ";")))
            } else {
                line.append(CChar(UInt8(ascii: ":")))
                line.append(CChar(UInt8(ascii: " ")))
                for b in value.utf8 { line.append(CChar(bitPattern: b)) }
            }
            line.append(0)
            list = line.withUnsafeBufferPointer { curl_slist_append(list, $0.baseAddress) }
        }
        // Keep libcurl from adding headers the client did not send.
        list = curl_slist_append(list, "Expect:")
        if !request.headers.contains("Accept") { list = curl_slist_append(list, "Accept:") }
        if !request.headers.contains("Content-Type") { list = curl_slist_append(list, "Content-Type:") }
        headerList = list
        cproxy_easy_setopt_ptr(easy, CURLOPT_HTTPHEADER, list)
    }

    /// The options every transfer shares, set once on a new easy handle.
    private static func setFixedOptions(_ easy: UnsafeMutableRawPointer, client: UpstreamClient) {
        client.setSocketCallbacks(easy)
        cproxy_easy_setopt_ptr(easy, CURLOPT_PROTOCOLS_STR, "http,https")
        cproxy_easy_setopt_ptr(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        cproxy_easy_setopt_long(easy, CURLOPT_PATH_AS_IS, 1)
        cproxy_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        cproxy_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
        cproxy_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        // Upstreams are reached directly: libcurl would otherwise read http_proxy and friends
        // from the environment on every transfer.
        cproxy_easy_setopt_ptr(easy, CURLOPT_PROXY, "")
        cproxy_easy_setopt_data_cb(easy, CURLOPT_HEADERFUNCTION) { ptr, size, count, userdata in
            Unmanaged<UpstreamTransfer>.fromOpaque(userdata!).takeUnretainedValue().headerLine(ptr!, size * count)
        }
        cproxy_easy_setopt_data_cb(easy, CURLOPT_WRITEFUNCTION) { ptr, size, count, userdata in
            Unmanaged<UpstreamTransfer>.fromOpaque(userdata!).takeUnretainedValue().bodyBytes(ptr!, size * count)
        }
    }

    deinit {
        // The easy handle went back to the client's pool when the transfer left the multi handle.
        if !finishedAlready { client.remove(self) }
        curl_slist_free_all(headerList)
    }

    /// Stops the transfer at once; no callback follows. The connection is closed, not reused.
    public func cancel() {
        guard !finishedAlready else { return }
        finishedAlready = true
        handler = nil
        client.remove(self)
    }

    /// Resumes a paused body.
    public func resume() {
        guard isPaused, !finishedAlready, !yielding else { return }
        isPaused = false
        // libcurl hands the held bytes over inside this call; when the delegate cancels on them,
        // the call fails and the transfer would sit neither running nor ended. It ends on the
        // loop's next turn instead.
        let result = curl_easy_pause(easy, CURLPAUSE_CONT)
        if result != CURLE_OK && !finishedAlready { client.finishOnNextTurn(self, result) }
    }

    func finished(_ result: CURLcode) {
        guard !finishedAlready else { return }
        finishedAlready = true
        let delegate = handler
        handler = nil
        withExtendedLifetime(self) {
            client.remove(self)
            delegate?.transferDone(error: result == CURLE_OK ? nil : String(cString: curl_easy_strerror(result)))
        }
    }

    private func headerLine(_ ptr: UnsafeMutablePointer<CChar>, _ count: Int) -> Int {
        guard !headDelivered else { return count }  // trailers
        let bytes = UnsafeRawBufferPointer(start: ptr, count: count)
        var end = count
        while end > 0, bytes[end - 1] == 0x0A || bytes[end - 1] == 0x0D { end -= 1 }
        let line = bytes[0..<end]
        if line.starts(with: "HTTP/".utf8) {
            headHeaders = HTTPHeaders()  // a new status line (after a 1xx) starts over
            headHeaders.reserveCapacity(12)
            return count
        }
        if end == 0 {
            var status = 0
            cproxy_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            if status < 200 { return count }  // end of an interim response
            headDelivered = true
            isCompressed = decodes && headHeaders.contains("Content-Encoding")
            guard let handler, handler.transferHead(status: status, headers: headHeaders) else { return 0 }
            return count
        }
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            let name = String(decoding: line[..<colon], as: UTF8.self)
            var v = line[(colon + 1)...]
            while let f = v.first, f == 0x20 || f == 0x09 { v = v.dropFirst() }
            while let l = v.last, l == 0x20 || l == 0x09 { v = v.dropLast() }
            headHeaders.add(name, String(decoding: v, as: UTF8.self))
        }
        return count
    }

    /// Paused because the loop's pass used up its budget (not because the client is slow).
    private var yielding = false
    /// libcurl decodes this answer (it came with a `Content-Encoding`).
    private var isCompressed = false

    func resumeAfterYield() {
        guard yielding else { return }
        yielding = false
        resume()
    }

    private func bodyBytes(_ ptr: UnsafeMutablePointer<CChar>, _ count: Int) -> Int {
        guard let handler else { return 0 }
        // A compressed answer does not yield: libcurl would inflate the rest of what it read
        // into its pause buffer.
        if client.passBytes >= UpstreamClient.passBudgetBytes && !isCompressed {
            // libcurl keeps these bytes and delivers them again after the resume.
            isPaused = true
            yielding = true
            client.yieldUntilNextTurn(self)
            return Int(CURL_WRITEFUNC_PAUSE)
        }
        switch handler.transferBody(UnsafeRawBufferPointer(start: ptr, count: count)) {
        case .accept:
            client.passBytes += count
            return count
        case .pause:
            isPaused = true
            return Int(CURL_WRITEFUNC_PAUSE)
        case .cancel:
            return 0
        }
    }
}
