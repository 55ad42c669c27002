import ProxyCore

/// Drives one forwarded request's `ExchangeMachine`: reports what the upstream transfer, the
/// timer and the client do, and performs the actions the machine asks for. Every rule is in the
/// machine; this only moves bytes and events between it and the loop.
final class ProxyExchange: UpstreamTransferDelegate, ServerExchangeObserver {
    private let worker: ProxyWorker
    private let client: ServerExchange
    private let machine: ExchangeMachine
    private var transfer: UpstreamTransfer?
    private var timer: LoopTimer?
    /// The record is final on proxyd's side and waits for the client's side to end (so that
    /// `bytes_out` is what the client's socket took).
    private var awaitingClient = false

    init(worker: ProxyWorker, client: ServerExchange, plan: ForwardPlan, decision: Decision) {
        self.worker = worker
        self.client = client
        let s = worker.settings
        let limits = ExchangeLimits(answers: AnswerLimits(maxResponseBytes: s.maxResponseBytes, maxEventBytes: s.maxEventBytes),
                                    streamIdleTimeoutSeconds: s.streamIdleTimeoutSeconds)
        machine = ExchangeMachine(plan: plan, requestID: decision.requestID, method: client.request.method, route: decision.route,
                                  bytesIn: client.request.body.count, limits: limits, now: monotonicNow())
    }

    func start() {
        client.observer = self
        machine.start(now: monotonicNow())
        perform()
    }

    // MARK: the upstream transfer

    func transferHead(status: Int, headers: HTTPHeaders) -> Bool {
        let keep = machine.upstreamHead(status: status, headers: headers, now: monotonicNow())
        perform()
        return keep
    }

    func transferBody(_ bytes: UnsafeRawBufferPointer) -> UpstreamBodyVerdict {
        let step = machine.upstreamBytes(bytes, clientBacklog: client.pendingOutputBytes, clientEnded: client.isEnded, now: monotonicNow())
        perform()
        switch step.send {
        case .output: client.send(machine.output)
        case .input: client.send(bytes)
        case .nothing: break
        }
        return step.verdict
    }

    func transferDone(error: String?) {
        transfer = nil
        machine.upstreamDone(error: error, clientEnded: client.isEnded, now: monotonicNow())
        perform()
    }

    // MARK: the client

    func clientGone() { machine.clientGone(now: monotonicNow()); perform() }

    func clientCut() { machine.clientCut(now: monotonicNow()); perform() }

    func clientDrained() { machine.clientDrained(now: monotonicNow()); perform() }

    func exchangeOver() {
        guard awaitingClient else { return }
        awaitingClient = false
        log()
    }

    private func timerFired() {
        machine.timerFired(now: monotonicNow(), upstreamPaused: transfer?.isPaused == true, clientEnded: client.isEnded)
        perform()
    }

    // MARK: actions

    /// Performs the queued actions in order. An action may report an input at once (resuming a
    /// transfer delivers its held bytes inside the call); its actions are performed then, in turn.
    private func perform() {
        while let action = machine.nextAction() {
            switch action {
            case .startAttempt:
                // Always the machine's current attempt; read in place, not copied.
                var request = UpstreamRequest(url: machine.current.url, method: machine.current.method, headers: machine.current.headers,
                                              body: machine.current.body, connectTimeoutSeconds: machine.current.timeoutSeconds)
                request.decodesAnswer = machine.current.decodesAnswer
                transfer = worker.upstream.start(request, handler: self)
            case .cancelUpstream:
                transfer?.cancel()
                transfer = nil
            case .resumeUpstream: transfer?.resume()
            case .armTimer(let seconds):
                let t = timer ?? LoopTimer(loop: worker.loop) { [unowned self] in timerFired() }
                timer = t
                t.schedule(after: seconds)
            case .cancelTimer: timer?.cancel()
            case .sendHead: client.startStream(status: machine.reply.status, headers: machine.reply.headers)
            case .sendOutput: client.send(machine.output)
            case .finishStream: client.finishStream()
            case .abortStream: client.abortStream()
            case .respond: client.respond(status: machine.reply.status, headers: machine.reply.headers, body: machine.reply.body)
            case .noteProvider(let i, let failed):
                worker.breaker.record(provider: machine.label(of: i), failed: failed, now: monotonicNow())
            case .remember(let i): worker.remembered[machine.model ?? ""] = machine.label(of: i)
            case .failingOver(let i):
                worker.metrics.recordFailover(from: machine.label(of: i))
                worker.logger.warn("attempt", [("request_id", .string(machine.record.requestID)), ("provider", .string(machine.label(of: i))),
                                               ("result", .string(machine.failureSummary(of: i))), ("next", .string(machine.label(of: i + 1)))])
            case .finish:
                // Logged once the client has the whole answer or has gone. The client holds
                // this object until then.
                if client.isOver { client.observer = nil; log() } else { awaitingClient = true }
            }
        }
    }

    private func log() { worker.finish(machine.record(bytesOut: client.bytesWritten)) }
}
