@testable import ProxyCore
import Testing

/// The exchange's rules, run without sockets: a plan, inputs at times of a manual clock, and the
/// actions the machine asks for, written as short lines a reader can scan.
@Suite("Exchange machine: failover, deadlines, commit and ending rules")
struct ExchangeMachineTests {
    /// One input, at a time on the manual clock.
    enum Step {
        case head(Int, type: String = "application/json", headers: [(String, String)] = [])
        case body(String)
        case done(String?)
        case timer(paused: Bool = false)
        case gone
        case cut
        case drained
        /// The next bodies see this many bytes queued for the client.
        case backlog(Int)
    }

    static func attempt(_ id: String, answers: any AnswerMapping = ChatAnswers(ChatAnswerSettings(think: ThinkSettings())),
                        timeout: Double = 10, prices: Usage.Prices = Usage.Prices()) -> UpstreamAttempt {
        var a = UpstreamAttempt(providerID: id, url: try! UpstreamURL.parse("http://\(id).example/v1/chat/completions"), method: "POST",
                                headers: HTTPHeaders(), body: Array("{}".utf8), timeoutSeconds: timeout)
        a.answers = answers
        a.decodesAnswer = true
        a.prices = prices
        return a
    }

    static let limits = ExchangeLimits(answers: AnswerLimits(maxResponseBytes: 1000, maxEventBytes: 500), streamIdleTimeoutSeconds: 30,
                                       highWaterBytes: 100)

    /// Runs `steps` (each at its time) and returns the action lines and the machine.
    static func run(_ attempts: [UpstreamAttempt], autoDetected: Bool = false, _ steps: [(Double, Step)]) -> ([String], ExchangeMachine) {
        let plan = ForwardPlan(attempts: attempts, isChatCompletion: true, model: "m", autoDetected: autoDetected)
        let m = ExchangeMachine(plan: plan, requestID: "rid", method: "POST", route: "chat", bytesIn: 2, limits: limits, now: 0)
        var lines: [String] = []
        var backlog = 0
        func drain() {
            while let a = m.nextAction() {
                switch a {
                case .startAttempt(let i): lines.append("start \(m.label(of: i))")
                case .cancelUpstream: lines.append("cancel upstream")
                case .resumeUpstream: lines.append("resume upstream")
                case .armTimer(let s): lines.append("timer \(s)")
                case .cancelTimer: break
                case .sendHead: lines.append("head \(m.reply.status)")
                case .sendOutput: lines.append("send \(String(decoding: m.output, as: UTF8.self))")
                case .finishStream: lines.append("end stream")
                case .abortStream: lines.append("abort stream")
                case .respond:
                    let cost = m.reply.headers["x-proxyd-cost-usd"].map { " cost \($0)" } ?? ""
                    lines.append("respond \(m.reply.status) \(String(decoding: m.reply.body, as: UTF8.self))\(cost)")
                case .noteProvider(let i, let failed): lines.append("breaker \(m.label(of: i)) \(failed ? "failed" : "ok")")
                case .remember(let i): lines.append("remember \(m.label(of: i))")
                case .failingOver(let i): lines.append("failover \(m.label(of: i)): \(m.failureSummary(of: i))")
                case .finish: lines.append("finish \(m.record.status)" + (m.record.outcome.map { " " + $0 } ?? ""))
                }
            }
        }
        m.start(now: 0)
        drain()
        for (now, step) in steps {
            switch step {
            case .head(let status, let type, let headers):
                let keep = m.upstreamHead(status: status, headers: HTTPHeaders([("Content-Type", type)] + headers), now: now)
                if !keep { lines.append("abandon") }
            case .body(let text):
                let step = Array(text.utf8).withUnsafeBytes { m.upstreamBytes($0, clientBacklog: backlog, clientEnded: false, now: now) }
                drain()  // a head queued meanwhile goes first
                switch step.send {
                case .output: lines.append("send \(String(decoding: m.output, as: UTF8.self))")
                case .input: lines.append("send \(text)")
                case .nothing: break
                }
                if step.verdict != .accept { lines.append("\(step.verdict)") }
            case .done(let error): m.upstreamDone(error: error, clientEnded: false, now: now)
            case .timer(let paused): m.timerFired(now: now, upstreamPaused: paused, clientEnded: false)
            case .gone: m.clientGone(now: now)
            case .cut: m.clientCut(now: now)
            case .drained: m.clientDrained(now: now)
            case .backlog(let n): backlog = n
            }
            drain()
        }
        return (lines, m)
    }

    /// Whether `expected` appear in `lines` in this order (other lines may come between).
    static func inOrder(_ lines: [String], _ expected: [String]) -> Bool {
        var i = 0
        for line in lines where i < expected.count && line.hasPrefix(expected[i]) { i += 1 }
        return i == expected.count
    }

    static let completion = #"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"<think>why</think>hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":2000,"total_tokens":3000}}"#

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let attempts: [String]
        let steps: [(Double, Step)]
        let expected: [String]
        let status: Int
        let outcome: String?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "a whole answer is read to its end, rewritten and sent once with its head", attempts: ["a"],
             steps: [(1, .head(200)), (2, .body(String(completion.prefix(40)))), (3, .body(String(completion.dropFirst(40)))), (4, .done(nil))],
             expected: ["start a", "timer 10.0", "breaker a ok", "timer 30.0", #"respond 200 {"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi","reasoning_content":"why"}"#, "finish 200"],
             status: 200, outcome: nil),
        Case(name: "a 503 before anything was sent gives way to the next candidate", attempts: ["a", "b"],
             steps: [(1, .head(503)), (1, .done("aborted")), (2, .head(200)), (3, .body(completion)), (4, .done(nil))],
             expected: ["start a", "abandon", "breaker a failed", "failover a: HTTP 503", "start b", "timer 10.0", "breaker b ok", "respond 200", "finish 200"],
             status: 200, outcome: nil),
        Case(name: "when every candidate fails the client gets a 503 naming each", attempts: ["a", "b"],
             steps: [(1, .head(500)), (1, .done("aborted")), (2, .done("Connection refused"))],
             expected: ["start a", "failover a: HTTP 500", "start b", "breaker b failed",
                        #"respond 503 {"error":{"message":"every candidate failed: a: HTTP 500; b: connection failed (Connection refused)""#, "finish 503"],
             status: 503, outcome: nil),
        Case(name: "a single candidate's own failure is its answer, passed through", attempts: ["a"],
             steps: [(1, .head(500)), (2, .body(#"{"error":"x"}"#)), (3, .done(nil))],
             expected: ["breaker a failed", "head 500", #"send {"error":"x"}"#, "end stream", "finish 500"], status: 500, outcome: nil),
        Case(name: "no head before the attempt's time limit: cancelled, then a 504", attempts: ["a"],
             steps: [(10, .timer())],
             expected: ["start a", "timer 10.0", "cancel upstream", "breaker a failed", "respond 504", "finish 504"], status: 504, outcome: nil),
        Case(name: "a head time-out moves on to the next candidate", attempts: ["a", "b"],
             steps: [(10, .timer()), (11, .head(200)), (12, .body(completion)), (13, .done(nil))],
             expected: ["cancel upstream", "failover a: timed out", "start b", "timer 10.0", "respond 200", "finish 200"], status: 200, outcome: nil),
        Case(name: "a stream quiet for the idle limit ends with an error event, not [DONE]", attempts: ["a"],
             steps: [(1, .head(200, type: "text/event-stream")), (2, .body("data: {\"choices\":[]}\n\n")), (20, .timer()), (32, .timer())],
             expected: ["head 200", "send data:", "timer 12.0", "cancel upstream", #"send data: {"error":{"message":"upstream stream broke off: no bytes for 30 seconds""#, "end stream", "finish 200 upstream_broke"],
             status: 200, outcome: "upstream_broke"),
        Case(name: "a paused upstream is not idle: the timer starts again", attempts: ["a"],
             steps: [(1, .head(200, type: "text/event-stream")), (31, .timer(paused: true)), (40, .body("data: [DONE]\n\n")), (41, .done(nil))],
             expected: ["head 200", "timer 30.0", "timer 30.0", "send data: [DONE]", "end stream", "finish 200"], status: 200, outcome: nil),
        Case(name: "above the high-water mark the upstream pauses, and resumes when the client drains", attempts: ["a"],
             steps: [(1, .head(200, type: "text/event-stream")), (2, .backlog(101)), (2, .body("data: {}\n\n")), (3, .drained), (3, .backlog(0)),
                     (3, .body("data: {}\n\n")), (4, .body("data: [DONE]\n\n")), (5, .done(nil))],
             expected: ["head 200", "pause", "resume upstream", "send data: {}", "send data: [DONE]", "end stream", "finish 200"], status: 200, outcome: nil),
        Case(name: "a client that leaves mid-stream cancels the upstream; the status it saw is kept", attempts: ["a"],
             steps: [(1, .head(200, type: "text/event-stream")), (2, .gone)],
             expected: ["head 200", "cancel upstream", "finish 200 client_gone"], status: 200, outcome: "client_gone"),
        Case(name: "a client that leaves before any head is a 499", attempts: ["a"],
             steps: [(1, .gone)], expected: ["start a", "cancel upstream", "finish 499 client_gone"], status: 499, outcome: "client_gone"),
        Case(name: "shutting down cuts the exchange: 503 when no head went out", attempts: ["a"],
             steps: [(1, .cut)], expected: ["cancel upstream", "finish 503 cut"], status: 503, outcome: "cut"),
        Case(name: "a whole answer announced over the limit is refused before a byte of it is read", attempts: ["a"],
             steps: [(1, .head(200, headers: [("Content-Length", "5000")])), (1, .done("aborted"))],
             expected: ["abandon", #"respond 502 {"error":{"message":"upstream answer is larger than maxResponseBytes (1000 bytes)""#, "finish 502"],
             status: 502, outcome: nil),
        Case(name: "a whole answer that grows over the limit is dropped at once", attempts: ["a"],
             steps: [(1, .head(200)), (2, .body(String(repeating: "x", count: 1001))), (2, .done("cancelled"))],
             expected: ["cancel", #"respond 502 {"error":{"message":"upstream answer is larger than maxResponseBytes"#, "finish 502"], status: 502, outcome: nil),
        Case(name: "a whole answer that breaks off is never sent as whole", attempts: ["a"],
             steps: [(1, .head(200)), (2, .body("{\"id\":")), (3, .done("connection reset"))],
             expected: [#"respond 502 {"error":{"message":"upstream answer broke off: connection reset""#, "finish 502 upstream_broke"],
             status: 502, outcome: "upstream_broke"),
        Case(name: "a chat stream without [DONE] ends with an error event after its complete events", attempts: ["a"],
             steps: [(1, .head(200, type: "text/event-stream")), (2, .body("data: {\"choices\":[]}\n\ndata: {\"cho")), (3, .done(nil))],
             expected: [#"send data: {"choices":[]}"#, #"send data: {"error":{"message":"upstream stream ended inside an event, without [DONE]""#, "end stream", "finish 200 upstream_broke"],
             status: 200, outcome: "upstream_broke"),
    ]

    @Test("table", arguments: cases)
    func table(_ c: Case) {
        let (lines, m) = Self.run(c.attempts.map { Self.attempt($0) }, c.steps)
        #expect(Self.inOrder(lines, c.expected), "\(lines.joined(separator: "\n"))")
        #expect(m.isFinished)
        #expect(m.record.status == c.status)
        #expect(m.record.outcome == c.outcome)
        #expect(lines.filter { $0.hasPrefix("finish") }.count == 1, "one record")
    }

    @Test("a pass-through answer that breaks off is cut short, so the client can tell")
    func passThroughBreak() {
        let (lines, m) = Self.run([Self.attempt("a", answers: UntouchedAnswers())],
                                  [(1, .head(200, type: "application/octet-stream")), (2, .body("part")), (3, .done("reset"))])
        #expect(Self.inOrder(lines, ["head 200", "send part", "abort stream", "finish 200 upstream_broke"]), "\(lines)")
        #expect(m.record.outcome == "upstream_broke")
    }

    @Test("usage and cost come from the whole answer; the cost header goes with it")
    func cost() {
        let (lines, m) = Self.run([Self.attempt("a", prices: Usage.Prices(prompt1K: 0.001, completion1K: 0.002))],
                                  [(1, .head(200)), (2, .body(Self.completion)), (3, .done(nil))])
        #expect(m.record.promptTokens == 1000 && m.record.completionTokens == 2000)
        #expect(m.record.costUSD == 0.005)
        #expect(lines.contains { $0.hasPrefix("respond 200") && $0.hasSuffix("cost 0.005") }, "\(lines)")
    }

    @Test("an auto-detected model is remembered for the provider that answers; failures are not")
    func remember() {
        let (lines, _) = Self.run([Self.attempt("a"), Self.attempt("b")], autoDetected: true,
                                  [(1, .head(404)), (2, .body("{}")), (3, .done(nil))])
        #expect(!lines.contains { $0.hasPrefix("remember") }, "a 404 is not an answer: \(lines)")
        let (ok, _) = Self.run([Self.attempt("a"), Self.attempt("b")], autoDetected: true,
                               [(1, .head(502)), (1, .done("aborted")), (2, .head(200)), (3, .body(Self.completion)), (4, .done(nil))])
        #expect(Self.inOrder(ok, ["failover a", "start b", "breaker b ok", "remember b", "finish 200"]), "\(ok)")
    }

    @Test("timings come from the manual clock: time to first byte and duration")
    func timings() {
        let (_, m) = Self.run([Self.attempt("a")], [(1.5, .head(200)), (2, .body(Self.completion)), (4.25, .done(nil))])
        #expect(m.record.ttfbSeconds == 1.5)
        #expect(m.record.durationSeconds == 4.25)
        #expect(m.record.attempts == 1 && m.record.provider == "a" && m.record.upstreamStatus == 200)
    }

    @Test("a stream error before any output (a translated stream) is the attempt's answer: failover acts on it")
    func translatedErrorFailsOver() {
        let anthropic = AnthropicAnswers(AnthropicTranslation(created: 1, includeUsage: false))
        let error = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"busy\"}}\n\n"
        let (lines, m) = Self.run([Self.attempt("a", answers: anthropic), Self.attempt("b")],
                                  [(1, .head(200, type: "text/event-stream")), (2, .body(error)), (2, .done("cancelled")),
                                   (3, .head(200)), (4, .body(Self.completion)), (5, .done(nil))])
        #expect(!lines.contains("head 200") || lines.firstIndex(of: "start b")! < lines.firstIndex(of: "head 200")!, "no head from a")
        #expect(Self.inOrder(lines, ["start a", "breaker a ok", "breaker a failed", "cancel", "failover a: HTTP 529", "start b", "respond 200"]), "\(lines)")
        #expect(m.record.failovers == 1 && m.record.status == 200)
        // With one candidate the error is answered in the OpenAI shape with its status.
        let (alone, m2) = Self.run([Self.attempt("a", answers: anthropic)], [(1, .head(200, type: "text/event-stream")), (2, .body(error)), (2, .done("cancelled"))])
        #expect(alone.contains { $0.hasPrefix(#"respond 529 {"error":{"message":"busy","type":"overloaded_error""#) }, "\(alone)")
        #expect(m2.record.status == 529)
    }
}
