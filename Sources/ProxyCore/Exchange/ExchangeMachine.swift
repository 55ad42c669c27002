/// One forwarded request, from its first upstream attempt to the record of how it ended, as a
/// state machine with no I/O. The I/O layer reports what happens (an upstream head, body
/// bytes, the transfer's end, the timer, the client draining or leaving; each with `now`) and
/// performs the actions the machine queues (`nextAction`).
///
/// The rules it keeps:
/// - Attempts run in the plan's order. An attempt that cannot connect, times out before its
///   head, or answers 429 or 5xx gives way to the next one while nothing has reached the client;
///   after the last, the client gets its own failure or a 503 naming every attempt.
/// - Once an answer is committed, its transform decides when the head goes out, what the
///   client gets, and how the answer ends; a failure after that point ends the answer in the
///   client's dialect (an error event, or a transfer cut short), never as a clean finish.
/// - An upstream that sends nothing for the idle limit is ended; one whose client reads slowly
///   is paused above the high-water mark and resumed when the client drains.
/// - Exactly one record comes out, with the status the client saw (499 when the client left
///   first), the attempts, timings, usage and cost.
public struct ExchangeMachine {
    let plan: ForwardPlan
    let requestID: String
    let limits: ExchangeLimits
    let started: Double
    /// The record as it stands.
    public private(set) var record: ExchangeRecord

    /// The attempt running, or the last one run.
    var index = 0
    var attempt: UpstreamAttempt { plan.attempts[index] }
    /// Attempts that failed before an answer, for the final error.
    var failures: [(label: String, outcome: AttemptOutcome)] = []
    var transferRunning = false
    /// The committed answer's transform, from its head on.
    var transform: (any ResponseTransform)?
    var clientStatus = 0
    var clientHeaders = HTTPHeaders()
    var headSent = false
    /// An error that takes the place of the answer, sent once the transfer has ended.
    var pendingError: ProxyError?
    /// The attempt was given up; the next starts once its transfer has ended.
    var failingOver = false
    /// The machine stopped the transfer itself: its end is not the upstream's fault.
    var stoppedTransfer = false
    var finished = false

    /// What the one timer is for.
    enum Waiting { case nothing, head, bytes }
    var waiting = Waiting.nothing
    var lastActivity = 0.0

    /// Bytes for the client, sent on `.sendOutput`.
    public private(set) var output: [UInt8] = []
    var actions: [ExchangeAction] = []
    var nextActionIndex = 0

    public init(plan: ForwardPlan, requestID: String, method: String, route: String, bytesIn: Int, limits: ExchangeLimits, now: Double) {
        self.plan = plan
        self.requestID = requestID
        self.limits = limits
        started = now
        record = ExchangeRecord(requestID: requestID, method: method, route: route)
        record.model = plan.model
        record.bytesIn = bytesIn
        actions.reserveCapacity(8)
    }

    /// The next action to perform, in order; nil when there is none.
    public mutating func nextAction() -> ExchangeAction? {
        guard nextActionIndex < actions.count else {
            if nextActionIndex > 0 {
                actions.removeAll(keepingCapacity: true)
                nextActionIndex = 0
            }
            return nil
        }
        nextActionIndex += 1
        return actions[nextActionIndex - 1]
    }

    /// Whether the exchange is over on proxyd's side (`.finish` was queued).
    public var isFinished: Bool { finished }

    // MARK: inputs

    /// Starts the first attempt.
    public mutating func start(now: Double) {
        startAttempt()
    }

    /// The running attempt's response head arrived. Returns false when the attempt is given
    /// up (the transfer is then abandoned, and `upstreamDone` follows).
    public mutating func upstreamHead(status: Int, headers: HTTPHeaders, now: Double) -> Bool {
        stopTimer()
        record.upstreamStatus = status
        if record.ttfbSeconds == nil { record.ttfbSeconds = now - started }
        let outcome = AttemptOutcome.responded(status: status)
        guard accept(outcome) else { return false }
        if outcome.isAnswer, plan.autoDetected, let model = plan.model, let id = attempt.providerID {
            actions.append(.remember(model: model, provider: id))
        }
        let head = AnswerHead(status: status, contentType: headers["Content-Type"])
        let t = attempt.answers.transform(for: head, limits: limits.answers)
        transform = t
        record.provider = attempt.label
        record.status = status
        clientStatus = status
        clientHeaders = attempt.clientHeaders(upstream: headers, eventStream: head.body == .eventStream,
                                              rewritten: t.rewritesBody, requestID: requestID)
        if t.headTiming == .withBody, let length = HTTPResponseRules.announcedLength(headers), length > limits.answers.maxResponseBytes {
            // Refused before a byte of it is read.
            pendingError = .responseTooLarge(limit: limits.answers.maxResponseBytes)
            return false
        }
        if t.headTiming == .atCommit { sendHead() }
        waiting = .bytes
        lastActivity = now
        actions.append(.armTimer(seconds: limits.streamIdleTimeoutSeconds))
        return true
    }

    /// The running attempt delivered body bytes.
    /// - Parameters:
    ///   - clientBacklog: bytes queued for the client and not yet written.
    ///   - clientEnded: the client can take nothing more (it left, or a write to it failed).
    public mutating func upstreamBytes(_ bytes: UnsafeRawBufferPointer, clientBacklog: Int, clientEnded: Bool,
                                       now: Double) -> UpstreamBodyVerdict {
        guard transform != nil, !clientEnded, !finished else { return .cancel }
        lastActivity = now
        if clientBacklog > limits.highWaterBytes && transform!.headTiming != .withBody { return .pause }
        output.removeAll(keepingCapacity: true)
        switch transform!.feed(bytes, into: &output) {
        case .output:
            if !output.isEmpty { sendOutput() }
            return .accept
        case .passInput:
            sendHead()
            actions.append(.sendInput)
            return .accept
        case .stop:
            if !output.isEmpty { sendOutput() }
            stoppedTransfer = true
            return .cancel
        case .failed(let status, let error):
            // Nothing reached the client: the failure is the attempt's answer.
            if accept(.responded(status: status)) { pendingError = error }
            stoppedTransfer = true
            return .cancel
        }
    }

    /// The running attempt's transfer ended: cleanly when `error` is nil.
    public mutating func upstreamDone(error: String?, clientEnded: Bool, now: Double) {
        transferRunning = false
        stopTimer()
        guard !finished else { return }
        if clientEnded {
            // The transfer was stopped because the client left: that is how the exchange ended.
            account(transform?.usage)
            clientLeft(now: now)
            return
        }
        if failingOver {
            failingOver = false
            nextCandidateOrFail(now: now)
            return
        }
        if let pendingError {
            respondError(pendingError, now: now)
            return
        }
        guard transform != nil else {
            // Ended before a head: the attempt could not connect.
            let outcome = AttemptOutcome.connectionFailed(error ?? "no response")
            noteAttempt(outcome)
            failures.append((attempt.label, outcome))
            nextCandidateOrFail(now: now)
            return
        }
        if error != nil && !stoppedTransfer { record.outcome = "upstream_broke" }
        output.removeAll(keepingCapacity: true)
        let ending = transform!.finish(upstreamComplete: error == nil, reason: error ?? "", into: &output)
        account(transform!.usage)
        switch ending {
        case .stream(let complete):
            if !complete { record.outcome = "upstream_broke" }
            if !output.isEmpty { sendOutput() } else { sendHead() }
            actions.append(.finishStream)
        case .truncate:
            record.outcome = "upstream_broke"
            actions.append(.abortStream)
        case .whole(let body):
            var headers = clientHeaders
            headers.set("Content-Type", "application/json")
            if let cost = record.costUSD { headers.add("x-proxyd-cost-usd", CostFormat.string(cost)) }
            actions.append(.respond(status: clientStatus, headers: headers, body: body))
        case .error(let error, let broke):
            if broke { record.outcome = "upstream_broke" }
            respondError(error, now: now)
            return
        }
        complete(now: now)
    }

    /// The timer fired. `upstreamPaused`: the transfer is paused (its client reads slowly, or
    /// it is yielding to others): it is not idle.
    public mutating func timerFired(now: Double, upstreamPaused: Bool, clientEnded: Bool) {
        switch waiting {
        case .nothing:
            return
        case .head:
            guard transferRunning, transform == nil, !finished else { return }
            waiting = .nothing
            actions.append(.cancelUpstream)
            transferRunning = false
            noteAttempt(.timedOut)
            failures.append((attempt.label, .timedOut))
            nextCandidateOrFail(now: now)
        case .bytes:
            let limit = limits.streamIdleTimeoutSeconds
            if upstreamPaused {
                lastActivity = now
                actions.append(.armTimer(seconds: limit))
                return
            }
            let quiet = now - lastActivity
            guard quiet >= limit else {
                actions.append(.armTimer(seconds: limit - quiet))
                return
            }
            guard transferRunning, !finished else { return }
            actions.append(.cancelUpstream)
            upstreamDone(error: "no bytes for \(Int(limit)) seconds", clientEnded: clientEnded, now: now)
        }
    }

    /// The client took every byte sent so far.
    public mutating func clientDrained() {
        if transferRunning { actions.append(.resumeUpstream) }
    }

    /// The client disconnected.
    public mutating func clientGone(now: Double) {
        clientLeft(now: now)
    }

    /// proxyd cut the exchange off (shutting down); the client was answered 503 if it had no
    /// head yet.
    public mutating func clientCut(now: Double) {
        guard !finished else { return }
        if transferRunning { actions.append(.cancelUpstream); transferRunning = false }
        record.outcome = "cut"
        if !headSent || record.status == 0 { record.status = 503 }
        complete(now: now)
    }

    // MARK: rules

    mutating func startAttempt() {
        record.attempts += 1
        transform = nil
        stoppedTransfer = false
        transferRunning = true
        actions.append(.startAttempt(attempt))
        waiting = .head
        actions.append(.armTimer(seconds: attempt.timeoutSeconds))
    }

    /// Counts an attempt's outcome and decides whether its answer goes to the client. False:
    /// the attempt is given up, and the next starts (or the final error goes out) once its
    /// transfer has ended.
    mutating func accept(_ outcome: AttemptOutcome) -> Bool {
        noteAttempt(outcome)
        switch FailoverPolicy.verdict(outcome, attempt: index, of: plan.attempts.count) {
        case .commit:
            return true
        case .tryNext, .giveUp:
            failures.append((attempt.label, outcome))
            failingOver = true
            return false
        }
    }

    /// The circuit breaker and the record's list of attempts.
    mutating func noteAttempt(_ outcome: AttemptOutcome) {
        if let id = attempt.providerID { actions.append(.noteProvider(id: id, failed: outcome.isFailure)) }
        record.attemptDetails.append((attempt.label, outcome))
    }

    mutating func nextCandidateOrFail(now: Double) {
        guard index + 1 < plan.attempts.count else {
            respondError(FailoverPolicy.finalError(outcomes: failures), now: now)
            return
        }
        actions.append(.failingOver(from: attempt.label, result: failures.last?.outcome.summary ?? "",
                                    next: plan.attempts[index + 1].label))
        record.failovers += 1
        index += 1
        startAttempt()
    }

    mutating func sendHead() {
        guard !headSent else { return }
        headSent = true
        actions.append(.sendHead(status: clientStatus, headers: clientHeaders))
    }

    mutating func sendOutput() {
        sendHead()
        actions.append(.sendOutput)
    }

    mutating func respondError(_ error: ProxyError, now: Double) {
        var reply = LocalResponse.error(error)
        reply.headers.set("x-request-id", requestID)
        if failures.count == 1 || transform != nil { reply.headers.set("x-proxyd-provider", attempt.label) }
        // The provider chosen, even when it never answered (after several, the last one tried).
        if record.provider == nil { record.provider = attempt.label }
        record.status = error.status
        actions.append(.respond(status: reply.status, headers: reply.headers, body: reply.body))
        complete(now: now)
    }

    mutating func clientLeft(now: Double) {
        guard !finished else { return }
        if transferRunning { actions.append(.cancelUpstream); transferRunning = false }
        record.outcome = "client_gone"
        if record.provider == nil { record.provider = attempt.label }
        if record.status == 0 { record.status = 499 }
        complete(now: now)
    }

    /// Puts the answer's usage and its cost into the record.
    mutating func account(_ usage: Usage?) {
        guard let usage else { return }
        record.promptTokens = usage.promptTokens
        record.completionTokens = usage.completionTokens
        record.costUSD = usage.cost(prices: attempt.prices)
    }

    mutating func stopTimer() {
        guard waiting != .nothing else { return }
        waiting = .nothing
        actions.append(.cancelTimer)
    }

    mutating func complete(now: Double) {
        guard !finished else { return }
        finished = true
        stopTimer()
        record.durationSeconds = now - started
        actions.append(.finish(record))
    }
}
