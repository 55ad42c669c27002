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
public final class ExchangeMachine {
    let plan: ForwardPlan
    let requestID: String
    let limits: ExchangeLimits
    let started: Double
    /// The record as it stands.
    public private(set) var record: ExchangeRecord

    /// The attempt running, or the last one run, and its index in the plan.
    public private(set) var current: UpstreamAttempt
    var index = 0
    /// Attempts that failed before an answer, for the final error.
    var failures: [(index: Int, label: String, outcome: AttemptOutcome)] = []
    var transferRunning = false
    /// The committed answer's transform, from its head on.
    var transform: (any ResponseTransform)?
    /// The transform holds the whole answer (so the client's backlog cannot grow from it).
    var holdsWhole = false
    /// The client's reply: its head once an answer is committed, and its body when whole.
    public private(set) var reply = Reply()
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
    var actions = ActionQueue()

    public init(plan: ForwardPlan, requestID: String, method: String, route: String, bytesIn: Int, limits: ExchangeLimits, now: Double) {
        self.plan = plan
        self.requestID = requestID
        self.limits = limits
        started = now
        current = plan.attempts[0]
        record = ExchangeRecord(requestID: requestID, method: method, route: route)
        record.model = plan.model
        record.bytesIn = bytesIn
    }

    /// The next action to perform, in order; nil when there is none.
    public func nextAction() -> ExchangeAction? { actions.pop() }

    /// Whether the exchange is over on proxyd's side (`.finish` was queued).
    public var isFinished: Bool { finished }

    /// The final record with the bytes the client's socket took.
    public func record(bytesOut: Int) -> ExchangeRecord {
        record.bytesOut = bytesOut
        return record
    }

    /// The client's reply as it stands.
    public struct Reply: Sendable {
        public var status = 0
        public var headers = HTTPHeaders()
        public var body: [UInt8] = []
    }

    /// The label (provider, or upstream host) of the attempt of this index.
    public func label(of i: Int) -> String { i == index ? current.label : plan.attempts[i].label }

    /// The plan's model, when the client named one.
    public var model: String? { plan.model }

    /// How the attempt of this index failed, for the log.
    public func failureSummary(of index: Int) -> String {
        failures.last { $0.index == index }?.outcome.summary ?? ""
    }

    // MARK: inputs

    /// Starts the first attempt.
    public func start(now: Double) {
        startAttempt()
    }

    /// The running attempt's response head arrived. Returns false when the attempt is given
    /// up (the transfer is then abandoned, and `upstreamDone` follows).
    public func upstreamHead(status: Int, headers: HTTPHeaders, now: Double) -> Bool {
        // The head's time limit is over; the timer is re-armed for the idle limit below, or
        // stopped when the attempt is given up.
        record.upstreamStatus = status
        if record.ttfbSeconds == nil { record.ttfbSeconds = now - started }
        let outcome = AttemptOutcome.responded(status: status)
        guard accept(outcome) else {
            stopTimer()
            return false
        }
        if outcome.isAnswer, plan.autoDetected, plan.model != nil, current.providerID != nil {
            actions.append(.remember(attempt: index))
        }
        let head = AnswerHead(status: status, contentType: headers["Content-Type"])
        let t = current.answers.transform(for: head, limits: limits.answers)
        transform = t
        record.provider = current.label
        record.status = status
        reply.status = status
        reply.headers = current.clientHeaders(upstream: headers, eventStream: head.body == .eventStream,
                                              rewritten: t.rewritesBody, requestID: requestID)
        holdsWhole = t.headTiming == .withBody
        if holdsWhole, let length = HTTPResponseRules.announcedLength(headers), length > limits.answers.maxResponseBytes {
            // Refused before a byte of it is read.
            pendingError = .responseTooLarge(limit: limits.answers.maxResponseBytes)
            stopTimer()
            return false
        }
        if t.headTiming == .atCommit { sendHead() }
        waiting = .bytes
        lastActivity = now
        actions.append(.armTimer(seconds: limits.streamIdleTimeoutSeconds))
        return true
    }

    /// The running attempt delivered body bytes. The step says what to send of them now (any
    /// head that must go first is queued as an action, to perform before).
    /// - Parameters:
    ///   - clientBacklog: bytes queued for the client and not yet written.
    ///   - clientEnded: the client can take nothing more (it left, or a write to it failed).
    public func upstreamBytes(_ bytes: UnsafeRawBufferPointer, clientBacklog: Int, clientEnded: Bool, now: Double) -> BodyStep {
        guard let t = transform, !clientEnded, !finished else { return BodyStep(.cancel) }
        lastActivity = now
        if clientBacklog > limits.highWaterBytes && !holdsWhole { return BodyStep(.pause) }
        output.removeAll(keepingCapacity: true)
        switch t.feed(bytes, into: &output) {
        case .output:
            guard !output.isEmpty else { return BodyStep(.accept) }
            sendHead()
            return BodyStep(.accept, send: .output)
        case .passInput:
            sendHead()
            return BodyStep(.accept, send: .input)
        case .stop:
            stoppedTransfer = true
            guard !output.isEmpty else { return BodyStep(.cancel) }
            sendHead()
            return BodyStep(.cancel, send: .output)
        case .failed(let status, let error):
            // Nothing reached the client: the failure is the attempt's answer.
            if accept(.responded(status: status)) { pendingError = error }
            stoppedTransfer = true
            return BodyStep(.cancel)
        }
    }

    /// The running attempt's transfer ended: cleanly when `error` is nil.
    public func upstreamDone(error: String?, clientEnded: Bool, now: Double) {
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
            failures.append((index, current.label, outcome))
            nextCandidateOrFail(now: now)
            return
        }
        if error != nil && !stoppedTransfer { record.outcome = "upstream_broke" }
        output.removeAll(keepingCapacity: true)
        guard let t = transform else { return }
        let ending = t.finish(upstreamComplete: error == nil, reason: error ?? "", into: &output)
        account(t.usage)
        switch ending {
        case .stream(let complete):
            if !complete { record.outcome = "upstream_broke" }
            if !output.isEmpty { sendOutput() } else { sendHead() }
            actions.append(.finishStream)
        case .truncate:
            record.outcome = "upstream_broke"
            actions.append(.abortStream)
        case .whole(let body):
            reply.headers.set("Content-Type", "application/json")
            if let cost = record.costUSD { reply.headers.add("x-proxyd-cost-usd", CostFormat.string(cost)) }
            reply.body = body
            actions.append(.respond)
        case .error(let error, let broke):
            if broke { record.outcome = "upstream_broke" }
            respondError(error, now: now)
            return
        }
        complete(now: now)
    }

    /// The timer fired. `upstreamPaused`: the transfer is paused (its client reads slowly, or
    /// it is yielding to others): it is not idle.
    public func timerFired(now: Double, upstreamPaused: Bool, clientEnded: Bool) {
        switch waiting {
        case .nothing:
            return
        case .head:
            guard transferRunning, transform == nil, !finished else { return }
            waiting = .nothing
            actions.append(.cancelUpstream)
            transferRunning = false
            noteAttempt(.timedOut)
            failures.append((index, current.label, .timedOut))
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

    /// The client took every byte sent so far: a paused upstream may deliver again, and its
    /// idle time counts from now.
    public func clientDrained(now: Double) {
        guard transferRunning else { return }
        lastActivity = now
        actions.append(.resumeUpstream)
    }

    /// The client disconnected.
    public func clientGone(now: Double) {
        clientLeft(now: now)
    }

    /// proxyd cut the exchange off (shutting down); the client was answered 503 if it had no
    /// head yet.
    public func clientCut(now: Double) {
        guard !finished else { return }
        if transferRunning { actions.append(.cancelUpstream); transferRunning = false }
        record.outcome = "cut"
        if !headSent || record.status == 0 { record.status = 503 }
        complete(now: now)
    }

    // MARK: rules

    func startAttempt() {
        record.attempts += 1
        transform = nil
        stoppedTransfer = false
        transferRunning = true
        actions.append(.startAttempt(index))
        waiting = .head
        actions.append(.armTimer(seconds: current.timeoutSeconds))
    }

    /// Counts an attempt's outcome and decides whether its answer goes to the client. False:
    /// the attempt is given up, and the next starts (or the final error goes out) once its
    /// transfer has ended.
    func accept(_ outcome: AttemptOutcome) -> Bool {
        noteAttempt(outcome)
        switch FailoverPolicy.verdict(outcome, attempt: index, of: plan.attempts.count) {
        case .commit:
            return true
        case .tryNext, .giveUp:
            failures.append((index, current.label, outcome))
            failingOver = true
            return false
        }
    }

    /// The circuit breaker and the record's list of attempts.
    func noteAttempt(_ outcome: AttemptOutcome) {
        if current.providerID != nil { actions.append(.noteProvider(attempt: index, failed: outcome.isFailure)) }
        record.attemptDetails.append((current.label, outcome))
    }

    func nextCandidateOrFail(now: Double) {
        guard index + 1 < plan.attempts.count else {
            respondError(FailoverPolicy.finalError(outcomes: failures.map { ($0.label, $0.outcome) }), now: now)
            return
        }
        actions.append(.failingOver(from: index))
        record.failovers += 1
        index += 1
        current = plan.attempts[index]
        startAttempt()
    }

    func sendHead() {
        guard !headSent else { return }
        headSent = true
        actions.append(.sendHead)
    }

    func sendOutput() {
        sendHead()
        actions.append(.sendOutput)
    }

    func respondError(_ error: ProxyError, now: Double) {
        let local = LocalResponse.error(error)
        reply = Reply(status: local.status, headers: local.headers, body: local.body)
        reply.headers.set("x-request-id", requestID)
        if failures.count == 1 || transform != nil { reply.headers.set("x-proxyd-provider", current.label) }
        // The provider chosen, even when it never answered (after several, the last one tried).
        if record.provider == nil { record.provider = current.label }
        record.status = error.status
        actions.append(.respond)
        complete(now: now)
    }

    func clientLeft(now: Double) {
        guard !finished else { return }
        if transferRunning { actions.append(.cancelUpstream); transferRunning = false }
        record.outcome = "client_gone"
        if record.provider == nil { record.provider = current.label }
        if record.status == 0 { record.status = 499 }
        complete(now: now)
    }

    /// Puts the answer's usage and its cost into the record.
    func account(_ usage: Usage?) {
        guard let usage else { return }
        record.promptTokens = usage.promptTokens
        record.completionTokens = usage.completionTokens
        record.costUSD = usage.cost(prices: current.prices)
    }

    func stopTimer() {
        guard waiting != .nothing else { return }
        waiting = .nothing
        actions.append(.cancelTimer)
    }

    func complete(now: Double) {
        guard !finished else { return }
        finished = true
        stopTimer()
        record.durationSeconds = now - started
        actions.append(.finish)
    }
}
