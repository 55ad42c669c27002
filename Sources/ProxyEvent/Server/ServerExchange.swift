import Glibc
import ProxyCore

/// Told of the client's side of an exchange; the exchange holds it until the reply ends.
public protocol ServerExchangeObserver: AnyObject {
    /// The client disconnected before the reply ended (reported once).
    func clientGone()
    /// The client has taken every byte sent so far.
    func clientDrained()
    /// proxyd cut the exchange off (the shutdown grace period ended); a request not answered
    /// yet was answered 503.
    func clientCut()
    /// The exchange is over on the connection's side: its reply written whole, or the
    /// connection gone (after `clientGone` or `clientCut`). `bytesWritten` is final.
    func exchangeOver()
}

extension ServerExchangeObserver {
    public func clientCut() { clientGone() }
    public func exchangeOver() {}
}

/// One client request and its reply, on the server's loop. The reply is whole (`respond`) or
/// streamed (`startStream`, `send`, then `finishStream` or `abortStream`). A client that goes
/// away is reported once to the observer; after that every call is a no-op.
public final class ServerExchange {
    public let request: IncomingRequest
    /// The request's head as parsed (version, keep-alive wish).
    public let head: HTTPRequestHead
    /// The connection, until the exchange ends.
    private var connection: ClientConnection?

    /// `flushing`: the reply is complete on proxyd's side and is still being written.
    enum State { case pending, streaming, flushing, ended }
    private var state = State.pending
    private var framing = HTTPResponseFraming.chunked
    private var keepAlive = false
    /// For a streamed body of announced length: the bytes still owed.
    private var owed = 0

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
    /// Where this reply starts and ends in the connection's output (-1: not yet).
    private var startPosition = -1
    private var endPosition = Int.max
    /// The connection's count of accepted bytes when the exchange let go of it.
    private var finalSent = 0

    /// Bytes of this reply (head, framing and body) the client's socket has accepted so far.
    public var bytesWritten: Int {
        guard startPosition >= 0 else { return 0 }
        let sent = connection?.sentTotal ?? finalSent
        return max(0, min(sent, endPosition) - startPosition)
    }

    /// Called once when the exchange is over on the connection's side: its reply written whole,
    /// or the connection gone. `bytesWritten` is final then.
    public var onEnd: (() -> Void)?
    /// Whether the reply has ended (completed, aborted, or the client left); nothing more can be sent.
    /// A write to the client has failed counts too: the client is gone, and is reported so soon.
    public var isEnded: Bool { state == .flushing || state == .ended || connection?.isBroken == true }
    /// Identifies the client connection, so callers can tell a reused connection from a new one.
    public let connectionID: Int
    /// Whether the exchange is over on the connection's side (reply written whole, or the
    /// connection gone); `bytesWritten` no longer changes.
    public var isOver: Bool { state == .ended }
    /// Whether the reply's head has gone out.
    public var hasStarted: Bool { state != .pending }

    var isStreaming: Bool { state == .streaming }
    var isFlushing: Bool { state == .flushing }

    init(connection: ClientConnection, head: HTTPRequestHead, request: IncomingRequest) {
        self.connection = connection
        self.head = head
        self.request = request
        connectionID = connection.id
    }

    /// Bytes queued for the client and not yet written to its socket.
    public var pendingOutputBytes: Int {
        guard state == .streaming else { return 0 }
        return connection?.queuedBytes ?? 0
    }

    /// Sends a whole reply.
    public func respond(_ response: LocalResponse) {
        respond(status: response.status, headers: response.headers, body: response.body)
    }

    /// Sends a whole reply (any `Content-Length` in `headers` is replaced by the body's).
    public func respond(status: Int, headers: HTTPHeaders, body: [UInt8]) {
        guard state == .pending, let connection else { return }
        startPosition = connection.outputPosition()
        connection.writeWhole(request: head, status: status, headers: headers, body: body, keepAlive: head.keepAlive)
        if !head.forbidsResponseBody { bytesSent += body.count }
        endPosition = connection.outputPosition()
        state = .flushing
        connection.answerComplete(keepAlive: head.keepAlive)
    }

    /// Sends the reply's head. With a `Content-Length` the body goes raw, otherwise chunked to
    /// HTTP/1.1 clients and until the connection closes to HTTP/1.0 ones.
    public func startStream(status: Int, headers: HTTPHeaders) {
        guard state == .pending, let connection else { return }
        startPosition = connection.outputPosition()
        (framing, keepAlive) = connection.writeStreamHead(request: head, status: status, headers: headers)
        if case .length(let n) = framing { owed = n }
        state = .streaming
    }

    /// Queues body bytes for the client.
    public func send(_ bytes: UnsafeRawBufferPointer) {
        guard state == .streaming, bytes.count > 0, let connection else { return }
        switch framing {
        case .chunked:
            connection.writeChunk(bytes)
        case .length:
            // Never more than the head announced: the rest would be read as a next response.
            let n = min(bytes.count, owed)
            owed -= n
            connection.writeRaw(UnsafeRawBufferPointer(rebasing: bytes[..<n]))
            bytesSent += n
            return
        case .untilClose:
            connection.writeRaw(bytes)
        case .bodyless:
            return
        }
        bytesSent += bytes.count
    }

    /// Queues body bytes for the client.
    public func send(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { send($0) }
    }

    /// Ends a streamed reply cleanly.
    public func finishStream() {
        guard state == .streaming, let connection else { return }
        switch framing {
        case .chunked:
            connection.writeRaw(HTTPResponseRules.lastChunk)
        case .length where owed > 0:
            // Fewer bytes than announced: the client can only learn it from the close.
            abortStream()
            return
        case .untilClose:
            keepAlive = false
        default:
            break
        }
        endPosition = connection.outputPosition()
        state = .flushing
        connection.answerComplete(keepAlive: keepAlive)
    }

    /// Ends a streamed reply without its proper end (no terminating chunk), once the bytes
    /// already queued have reached the client: the client sees a truncated transfer.
    public func abortStream() {
        guard state == .streaming, let connection else { return }
        endPosition = connection.outputPosition()
        state = .flushing
        connection.abortAnswer()
    }

    /// Ends the exchange at once, whatever its state (shutdown grace period over): a request
    /// not answered yet gets a 503, then the connection closes; the observer is told the client
    /// is gone.
    func cut() {
        guard state != .ended else { return }
        let observer = self.observer
        self.observer = nil
        if state == .pending { respond(.error(.unavailable("proxyd is shutting down", code: "shutting_down"))) }
        connection?.cut()
        end(reportingGone: false)
        observer?.clientCut()
        observer?.exchangeOver()
    }

    /// Drops every callback into this exchange (its server is going away).
    func detach() {
        let observer = self.observer
        self.observer = nil
        finalSent = connection?.sentTotal ?? finalSent
        connection = nil
        state = .ended
        observer?.exchangeOver()
        let onEnd = self.onEnd
        self.onEnd = nil
        onEnd?()
    }

    // MARK: called by the connection

    func drained() {
        observer?.clientDrained()
    }

    /// The whole reply has been written.
    func flushed() {
        end(reportingGone: false)
    }

    /// The connection closed before the reply was written whole.
    func connectionLost() {
        end(reportingGone: state != .flushing)
    }

    private func end(reportingGone: Bool) {
        guard state != .ended else { return }
        state = .ended
        let server = connection?.server
        finalSent = connection?.sentTotal ?? finalSent
        connection = nil
        server?.exchangeEnded()
        let observer = self.observer
        self.observer = nil
        if reportingGone { observer?.clientGone() }
        observer?.exchangeOver()
        let onEnd = self.onEnd
        self.onEnd = nil
        onEnd?()
    }
}
