import ProxyCore

/// Carries one forwarded request: runs the plan's attempts in order on the loop's upstream
/// client, asks ProxyCore whether to fail over, then streams the committed answer to the client
/// through its body handling, with backpressure and cancellation both ways.
final class ProxyExchange: UpstreamTransferDelegate, ServerExchangeObserver {
    private let worker: ProxyWorker
    private let client: ServerExchange
    private let plan: ForwardPlan
    private let requestID: String
    private var record: ExchangeRecord
    private let started: Double

    private var attemptIndex = 0
    private var outcomes: [(label: String, outcome: AttemptOutcome)] = []
    private var transfer: UpstreamTransfer?
    private var response: ResponsePlan?
    private var chatStream: ChatStreamTransform?
    private var anthropicStream: AnthropicStreamTranslator?
    /// An error that arrived in place of an answer, to send once the transfer has ended.
    private var pendingError: ProxyError?
    private var wholeBody: [UInt8] = []
    private var finished = false
    /// Complete on proxyd's side; the access record waits for the client's side to end.
    private var awaitingClient = false
    private var failingOver = false
    /// One timer per exchange: the head's time limit while an attempt waits for its head, then
    /// the stream's idle limit, checked against `lastActivity` when it fires (so body bytes
    /// need not re-arm it).
    private var deadline: LoopTimer?
    private var waiting = Waiting.nothing
    private var lastActivity = 0.0
    private enum Waiting { case head, bytes, nothing }
    private var scratch: [UInt8] = []

    /// Above this many unsent bytes the upstream is paused; it resumes once they are sent.
    static let highWaterBytes = 256 * 1024

    init(worker: ProxyWorker, client: ServerExchange, plan: ForwardPlan, decision: Decision) {
        self.worker = worker
        self.client = client
        self.plan = plan
        requestID = decision.requestID
        started = monotonicNow()
        record = ExchangeRecord(requestID: decision.requestID, method: client.request.method, route: decision.route)
        record.model = plan.model
        record.bytesIn = client.request.body.count
    }

    func start() {
        client.observer = self
        startAttempt()
    }

    func clientGone() { clientLeft() }

    func clientCut() {
        guard !finished else { return }
        transfer?.cancel()
        transfer = nil
        record.outcome = "cut"
        if !client.hasStarted || record.status == 0 { record.status = 503 }
        complete()
    }

    func clientDrained() { transfer?.resume() }

    private var attempt: UpstreamAttempt { plan.attempts[attemptIndex] }

    private func startAttempt() {
        let a = attempt
        record.attempts += 1
        response = nil
        chatStream = nil
        anthropicStream = nil
        var request = UpstreamRequest(url: a.url, method: a.method, headers: a.headers, body: a.body,
                                      connectTimeoutSeconds: a.timeoutSeconds)
        request.decodesAnswer = a.decodesAnswer
        transfer = worker.upstream.start(request, handler: self)
        waiting = .head
        arm(after: a.timeoutSeconds)
    }

    private func arm(after seconds: Double) {
        let timer = deadline ?? LoopTimer(loop: worker.loop) { [unowned self] in deadlinePassed() }
        deadline = timer
        timer.schedule(after: seconds)
    }

    private func deadlinePassed() {
        switch waiting {
        case .head:
            headTimedOut()
        case .bytes:
            let limit = worker.settings.streamIdleTimeoutSeconds
            let quiet = monotonicNow() - lastActivity
            // Paused because the client reads slowly: the upstream is not idle, and the
            // client's connection has its own deadline for a reader that stops.
            if transfer?.isPaused == true { lastActivity = monotonicNow(); arm(after: limit); return }
            if quiet >= limit { streamIdle() } else { arm(after: limit - quiet) }
        case .nothing:
            break
        }
    }

    private func disarm() {
        waiting = .nothing
        deadline?.cancel()
    }

    func transferHead(status: Int, headers: HTTPHeaders) -> Bool { head(status: status, headers: headers) }

    func transferBody(_ bytes: UnsafeRawBufferPointer) -> UpstreamTransfer.BodyVerdict { body(bytes) }

    func transferDone(error: String?) { done(error) }

    // MARK: upstream events

    private func head(status: Int, headers: HTTPHeaders) -> Bool {
        disarm()
        record.upstreamStatus = status
        if record.ttfbSeconds == nil { record.ttfbSeconds = monotonicNow() - started }
        let outcome = AttemptOutcome.responded(status: status)
        guard accept(outcome) else {
            return false  // libcurl aborts the transfer; `done` moves on, or answers the final error
        }
        if outcome.isAnswer, plan.autoDetected, let model = plan.model, let id = attempt.providerID { worker.remembered[model] = id }
        let plan = self.plan.responsePlan(for: attempt, status: status, upstreamHeaders: headers, requestID: requestID)
        response = plan
        record.provider = attempt.label
        record.status = status
        wholeBody = []
        let limits = worker.settings
        switch plan.body {
        case .passThrough, .chatStream:
            if case .chatStream(let settings) = plan.body {
                chatStream = ChatStreamTransform(settings: settings, maxEventBytes: limits.maxEventBytes)
            }
            client.startStream(status: status, headers: plan.headers)
        case .anthropicStream(let translation):
            // The head waits for the first translated output: an error before it can still fail over.
            anthropicStream = AnthropicStreamTranslator(translation, maxEventBytes: limits.maxEventBytes)
        case .chatJSON, .anthropicJSON, .anthropicError:
            // The head goes out with the whole, rewritten body. One announced as too large to
            // hold is refused before a byte of it is read.
            if let length = HTTPResponseRules.announcedLength(headers), length > limits.maxResponseBytes {
                pendingError = Self.tooLarge(limits.maxResponseBytes)
                return false
            }
        }
        armIdleTimer()
        return true
    }

    /// Records an attempt's outcome and decides whether its answer goes to the client. On false
    /// the attempt is abandoned: `done` tries the next candidate or answers the final error.
    private func accept(_ outcome: AttemptOutcome) -> Bool {
        noteAttempt(outcome)
        switch FailoverPolicy.verdict(outcome, attempt: attemptIndex, of: plan.attempts.count) {
        case .commit:
            return true
        case .tryNext, .giveUp:
            outcomes.append((attempt.label, outcome))
            failingOver = true
            return false
        }
    }

    private func body(_ bytes: UnsafeRawBufferPointer) -> UpstreamTransfer.BodyVerdict {
        guard let response, !client.isEnded else { return .cancel }
        lastActivity = monotonicNow()
        switch response.body {
        case .chatJSON, .anthropicJSON, .anthropicError:
            if wholeBody.count + bytes.count > worker.settings.maxResponseBytes {
                // Cancelled at once; `done` answers the error (never a part sent as whole).
                pendingError = Self.tooLarge(worker.settings.maxResponseBytes)
                wholeBody = []
                return .cancel
            }
            wholeBody.appendBytes(bytes)
            return .accepted
        case .passThrough, .chatStream, .anthropicStream:
            if client.pendingOutputBytes > ProxyExchange.highWaterBytes { return .pause }
        }
        if anthropicStream != nil {
            for event in anthropicStream!.feed(bytes) {
                switch event {
                case .output(let out):
                    if !client.hasStarted { client.startStream(status: response.status, headers: response.headers) }
                    client.send(out)
                case .failedBeforeOutput(let status, let error):
                    // Nothing reached the client yet: this counts as the attempt's answer.
                    if accept(.responded(status: status)) { pendingError = error }
                    return .cancel
                }
            }
            if anthropicStream!.overflowed {
                if !client.hasStarted {
                    pendingError = .badGateway("upstream stream sent an event over maxEventBytes (\(worker.settings.maxEventBytes) bytes)",
                                               code: "event_too_large")
                }
                return .cancel  // `done` ends the stream with its error event
            }
        } else if chatStream != nil {
            scratch.removeAll(keepingCapacity: true)
            chatStream!.feed(bytes, into: &scratch)
            client.send(scratch)
            if chatStream!.overflowed { return .cancel }  // `done` ends the stream with its error event
        } else {
            client.send(bytes)
        }
        return .accepted
    }

    private func done(_ error: String?) {
        transfer = nil
        disarm()
        if finished { return }
        // The transfer was cancelled because the client left (a write to it failed): that is
        // how the exchange ended, whatever the upstream did.
        if client.isEnded {
            // What the stream reported so far is still accounted.
            if let chatStream { account(chatStream.usage) } else if let anthropicStream { account(anthropicStream.usage) }
            clientLeft()
            return
        }
        if failingOver {
            failingOver = false
            nextCandidateOrFail()
            return
        }
        if let pendingError {
            respondError(pendingError)
            return
        }
        guard let response else {
            // Ended before a head: a connection failure.
            let outcome = AttemptOutcome.connectionFailed(error ?? "no response")
            noteAttempt(outcome)
            outcomes.append((attempt.label, outcome))
            nextCandidateOrFail()
            return
        }
        if error != nil { record.outcome = "upstream_broke" }
        switch response.body {
        case .passThrough:
            if error == nil { client.finishStream() } else { client.abortStream() }
        case .chatStream:
            scratch.removeAll(keepingCapacity: true)
            chatStream!.finish(upstreamComplete: error == nil, reason: error ?? "", into: &scratch)
            if !chatStream!.sawDone { record.outcome = "upstream_broke" }
            account(chatStream!.usage)
            client.send(scratch)
            client.finishStream()
        case .anthropicStream:
            let tail = anthropicStream!.finish(upstreamComplete: error == nil, reason: error ?? "")
            account(anthropicStream!.usage)
            if !anthropicStream!.sawStop { record.outcome = "upstream_broke" }
            guard client.hasStarted else {
                respondError(.badGateway("upstream stream ended before any output" + (error.map { ": \($0)" } ?? ""),
                                         code: "upstream_incomplete"))
                return
            }
            client.send(tail)
            client.finishStream()
        case .chatJSON(let settings):
            if let error { respondError(.badGateway("upstream answer broke off: \(error)", code: "upstream_incomplete")); return }
            let finished = settings.finishWhole(wholeBody, prices: attempt.prices)
            account(finished.usage)
            respondWhole(response, body: finished.body)
        case .anthropicJSON(let translation):
            if let error { respondError(.badGateway("upstream answer broke off: \(error)", code: "upstream_incomplete")); return }
            guard let translated = AnthropicResponseTranslator.translateWhole(wholeBody, translation) else {
                respondError(.badGateway("upstream answer is not an Anthropic message", code: "upstream_malformed"))
                return
            }
            account(translated.usage)
            respondWhole(response, body: translated.body)
        case .anthropicError:
            client.respond(status: response.status, headers: response.headers,
                           body: AnthropicResponseTranslator.translateError(status: response.status, body: wholeBody))
        }
        complete()
    }

    static func tooLarge(_ limit: Int) -> ProxyError {
        .badGateway("upstream answer is larger than maxResponseBytes (\(limit) bytes)", code: "response_too_large")
    }

    /// Sends a whole answer, with its cost when known.
    private func respondWhole(_ response: ResponsePlan, body: [UInt8]) {
        var headers = response.headers
        headers.set("Content-Type", "application/json")
        if let cost = record.costUSD { headers.add("x-proxyd-cost-usd", CostFormat.string(cost)) }
        client.respond(status: response.status, headers: headers, body: body)
    }

    private func headTimedOut() {
        guard let transfer, response == nil, !finished else { return }
        transfer.cancel()
        self.transfer = nil
        noteAttempt(.timedOut)
        outcomes.append((attempt.label, .timedOut))
        nextCandidateOrFail()
    }

    /// Records one attempt's outcome: the circuit breaker, and the access log's attempt list.
    private func noteAttempt(_ outcome: AttemptOutcome) {
        if let id = attempt.providerID { worker.breaker.record(provider: id, failed: outcome.isFailure, now: worker.loop.now) }
        record.attemptDetails.append((attempt.label, outcome))
    }

    /// Puts the answer's usage and cost into the record.
    private func account(_ usage: Usage?) {
        guard let usage else { return }
        record.promptTokens = usage.promptTokens
        record.completionTokens = usage.completionTokens
        record.costUSD = usage.cost(prices: attempt.prices)
    }

    private func armIdleTimer() {
        waiting = .bytes
        lastActivity = monotonicNow()
        arm(after: worker.settings.streamIdleTimeoutSeconds)
    }

    private func streamIdle() {
        guard let transfer, !finished else { return }
        transfer.cancel()
        done("no bytes for \(Int(worker.settings.streamIdleTimeoutSeconds)) seconds")
    }

    private func nextCandidateOrFail() {
        if attemptIndex + 1 < plan.attempts.count {
            worker.metrics.recordFailover(from: attempt.label)
            worker.logger.warn("attempt", [("request_id", .string(requestID)), ("provider", .string(attempt.label)),
                                           ("result", .string(outcomes.last?.outcome.summary ?? "")), ("next", .string(plan.attempts[attemptIndex + 1].label))])
            record.failovers += 1
            attemptIndex += 1
            startAttempt()
            return
        }
        respondError(FailoverPolicy.finalError(outcomes: outcomes))
    }

    private func respondError(_ error: ProxyError) {
        var r = LocalResponse.error(error)
        r.headers.set("x-request-id", requestID)
        if outcomes.count == 1 || response != nil { r.headers.set("x-proxyd-provider", attempt.label) }
        // The provider chosen, even when it never answered (after several, the last one tried).
        if record.provider == nil { record.provider = attempt.label }
        record.status = error.status
        client.respond(r)
        complete()
    }

    private func clientLeft() {
        guard !finished else { return }
        transfer?.cancel()
        transfer = nil
        record.outcome = "client_gone"
        if record.provider == nil { record.provider = attempt.label }
        if record.status == 0 { record.status = 499 }
        complete()
    }

    private func complete() {
        guard !finished else { return }
        finished = true
        disarm()
        record.durationSeconds = monotonicNow() - started
        // Logged once the client has the whole answer or has gone (`exchangeOver`), so that
        // `bytes_out` is what its socket took. The client holds this object until then.
        if client.isOver {
            client.observer = nil
            logRecord()
        } else {
            awaitingClient = true
        }
    }

    func exchangeOver() {
        guard awaitingClient else { return }
        awaitingClient = false
        logRecord()
    }

    private func logRecord() {
        record.bytesOut = client.bytesWritten
        worker.finish(record)
    }
}
