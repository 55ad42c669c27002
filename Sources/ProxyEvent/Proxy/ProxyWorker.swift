import CProxyShim
import Glibc
import ProxyCore

/// One event loop's share of the proxy: its HTTP server, its upstream client and its metrics.
/// Everything here runs on the loop's thread.
final class ProxyWorker {
    let loop: EventLoop
    let upstream: UpstreamClient
    var server: HTTPServer!
    unowned let shared: ProxyServer
    var metrics = Metrics()
    let logger: Logger
    let settings: ServerSettings
    private var idGenerator: RequestIDGenerator
    /// Providers that keep failing are tried last for a while (per loop: no locks).
    var breaker: CircuitBreaker
    /// Auto-detected models and the provider that last answered them.
    var remembered: [String: String] = [:]
    /// The planner's views of that state, made once (not per request).
    private lazy var rememberedProvider: (String) -> String? = { [unowned self] in remembered[$0] }
    private lazy var isCoolingDown: (String) -> Bool = { [unowned self] in breaker.isCoolingDown($0, now: monotonicNow()) }
    var graceTimer: LoopTimer?

    init(loop: EventLoop, socket: ListeningSocket, shared: ProxyServer, index: Int) {
        self.loop = loop
        self.shared = shared
        logger = shared.logger
        settings = shared.initialServerSettings
        // Read at start: the breaker's state lives in the worker, across reloads.
        breaker = CircuitBreaker(shared.gateway.configuration.circuitBreaker)
        upstream = UpstreamClient(loop: loop, maxIdleConnections: settings.maxIdleUpstreamConnections)
        idGenerator = RequestIDGenerator(seed: UInt64(index))
        let limits = ServerLimits(maxBodyBytes: settings.maxBodyBytes, maxHeaderBytes: settings.maxHeaderBytes,
                                  idleTimeoutSeconds: settings.idleTimeoutSeconds,
                                  headerTimeoutSeconds: settings.headerTimeoutSeconds,
                                  bodyTimeoutSeconds: settings.bodyTimeoutSeconds)
        server = HTTPServer(loop: loop, socket: socket, limits: limits) { [unowned self] exchange in handle(exchange) }
        // What one pass of upstream deliveries sends a client goes out in one write.
        upstream.batching = server
        server.refusal = { [unowned self] error, head in refused(error, head: head) }
        let logger = self.logger
        server.warning = { message, fields in logger.warn(message, fields) }
    }

    /// The answer to a request the server could not read, logged as an access line of its own.
    private func refused(_ error: HTTPRequestError, head: HTTPRequestHead?) -> LocalResponse {
        let requestID = idGenerator.next()
        var response = LocalResponse.error(error.proxyError)
        response.headers.set("x-request-id", requestID)
        var record = ExchangeRecord(requestID: requestID, method: head?.method ?? "", route: "refused")
        record.status = error.status
        metrics.inFlight += 1
        finish(record)
        return response
    }

    private func handle(_ exchange: ServerExchange) {
        let gateway = shared.gateway
        var context = RequestContext(newRequestID: idGenerator.next(), ready: shared.isReady,
                                     rememberedProvider: rememberedProvider, isCoolingDown: isCoolingDown)
        context.unixTime = time(nil)
        let decision = gateway.decide(exchange.request, context: context)
        metrics.inFlight += 1
        begun &+= 1
        switch decision.action {
        case .respond(let response):
            exchange.respond(response)
            finishLocal(exchange, decision: decision, status: response.status)
        case .metrics:
            shared.collectMetrics(from: self) { [unowned self] text in
                var headers = HTTPHeaders()
                headers.add("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                headers.add("x-request-id", decision.requestID)
                exchange.respond(status: 200, headers: headers, body: Array(text.utf8))
                finishLocal(exchange, decision: decision, status: 200)
            }
        case .forward(let plan):
            ProxyExchange(worker: self, client: exchange, plan: plan, decision: decision).start()
        }
    }

    private func finishLocal(_ exchange: ServerExchange, decision: Decision, status: Int) {
        var record = ExchangeRecord(requestID: decision.requestID, method: exchange.request.method, route: decision.route)
        record.status = status
        record.bytesIn = exchange.request.body.count
        finish(record, once: exchange)
    }

    /// Accounts for an exchange once its reply is written whole or its client has gone, so that
    /// `bytes_out` is what the client's socket took.
    func finish(_ record: ExchangeRecord, once exchange: ServerExchange) {
        if exchange.isOver {
            var r = record
            r.bytesOut = exchange.bytesWritten
            finish(r)
            return
        }
        exchange.onEnd = { [weak self, unowned exchange] in
            var r = record
            r.bytesOut = exchange.bytesWritten
            self?.finish(r)
        }
    }

    /// Accounts for a finished exchange: metrics and the access log line.
    func finish(_ record: ExchangeRecord) {
        metrics.inFlight -= 1
        metrics.record(record)
        if logger.accessLog { logger.log(record.logLevel, "access", record.logFields) }
        if metrics.inFlight == 0 && !trimPending { scheduleTrim() }
    }

    /// After a burst the heap keeps the pages it grew to. Once a worker has had nothing in
    /// flight for a moment, free pages go back to the system (at most once per interval).
    private var trimTimer: LoopTimer?
    private var trimPending = false
    /// Requests begun so far, and their number when the trim was planned: a trim runs only
    /// after a whole quiet interval, not at a passing idle instant.
    private var begun = 0
    private var begunAtPlan = 0
    private var lastTrim = -Double.infinity
    static let trimDelaySeconds = 2.0
    /// At most one trim per worker in this long (trimming locks every arena of the heap).
    static let trimIntervalSeconds = 30.0

    private func scheduleTrim() {
        trimPending = true
        begunAtPlan = begun
        let timer = trimTimer ?? LoopTimer(loop: loop) { [unowned self] in
            trimPending = false
            guard metrics.inFlight == 0, begun == begunAtPlan, loop.now - lastTrim >= ProxyWorker.trimIntervalSeconds else { return }
            lastTrim = loop.now
            _ = cproxy_release_free_memory()
        }
        trimTimer = timer
        timer.schedule(after: ProxyWorker.trimDelaySeconds)
    }
}

/// Request ids: a per-loop counter mixed with a per-process random seed, as 16 hex digits.
struct RequestIDGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = UInt64.random(in: 1...UInt64.max) ^ (seed &* 0x9E37_79B9_7F4A_7C15)
    }

    mutating func next() -> String {
        // splitmix64
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        // 16 lower-case hex digits, written in place.
        return String(unsafeUninitializedCapacity: 16) { writeHex(z, minimumWidth: 16, into: $0) }
    }
}
