import FakeUpstream
import Glibc
import ProxyCore
import Testing

@Suite("Failover, auto-detect and the circuit breaker end to end")
struct FailoverEndToEndTests {
    /// Two providers serve `m`: `first` (priority 1) and `second` (priority 2).
    static let two = """
    {"inheritDefaults": false,
     "providers": {
       "first": {"baseUrl": "http://FAKE0", "models": ["m"], "priority": 1, "timeoutSeconds": 0.5},
       "second": {"baseUrl": "http://FAKE1", "models": ["m"], "priority": 2}
     }}
    """

    static let triggers: [(String, [(String, String)])] = [
        ("429", [("x-fake-status", "429")]),
        ("500", [("x-fake-status", "500")]),
        ("503", [("x-fake-status", "503")]),
        ("timeout before the head", [("x-fake-head-delay-ms", "3000")]),
    ]

    @Test("each trigger moves on to the next candidate", arguments: triggers)
    func failsOver(name: String, headers: [(String, String)]) throws {
        let h = try Harness(config: Self.two, fakes: 2)
        h.fakes[0].setScript(headers)  // only the first provider misbehaves
        let (head, body) = try httpRequest(port: h.port, "POST", "/v1/chat/completions", body: #"{"model":"m"}"#)
        #expect(head.status == 200, "\(body)")
        #expect(head.headers["x-proxyd-provider"] == "second")
        #expect(h.fakes[0].requests.count == 1 && h.fakes[1].requests.count == 1)
        #expect(waitUntil(5) { h.log.contains(#""msg":"attempt""#) && h.log.contains(#""attempt_results""#) })
    }

    @Test("a connection error moves on to the next candidate")
    func connectionRefused() throws {
        let dead = closedPort()
        let h = try Harness(config: Self.two.replacing("http://FAKE0", with: "http://127.0.0.1:\(dead)"), fakes: 2)
        let (head, _) = try httpRequest(port: h.port, "POST", "/v1/chat/completions", body: #"{"model":"m"}"#)
        #expect(head.status == 200 && head.headers["x-proxyd-provider"] == "second")
    }

    @Test("with several candidates and none left: 503 naming each and what it got")
    func noneLeft() throws {
        let h = try Harness(config: Self.two, fakes: 2)
        let (head, body) = try httpRequest(port: h.port, "POST", "/v1/chat/completions", headers: [("x-fake-status", "503")],
                                           body: #"{"model":"m"}"#)
        #expect(head.status == 503)
        let message = try JSONValue.parse(body)["error"]?["message"]?.stringValue ?? ""
        #expect(message.contains("first: HTTP 503") && message.contains("second: HTTP 503"))
    }

    @Test("a single candidate's own answer is passed through as it is")
    func singleCandidate() throws {
        let h = try Harness(config: Self.two.replacing(#""models": ["m"], "priority": 2"#, with: #""priority": 2"#), fakes: 2)
        let (head, body) = try httpRequest(port: h.port, "POST", "/v1/chat/completions", headers: [("x-fake-status", "429")],
                                           body: #"{"model":"m"}"#)
        #expect(head.status == 429 && body.contains("fake upstream answered 429"))
    }

    @Test("no failover once bytes reached the client: the stream ends with an error event")
    func notAfterFirstByte() throws {
        let h = try Harness(config: Self.two, fakes: 2)
        let (head, body) = try httpRequest(port: h.port, "POST", "/v1/chat/completions", headers: [("x-fake-break-after", "2")],
                                           body: #"{"model":"m","stream":true}"#)
        #expect(head.status == 200 && head.headers["x-proxyd-provider"] == "first")
        #expect(body.contains("stream_interrupted") && !body.contains("data: [DONE]"))
        #expect(h.fakes[1].requests.isEmpty)
    }

    @Test("auto-detect remembers the provider that answered")
    func autoDetect() throws {
        let config = """
        {"inheritDefaults": false,
         "providers": {
           "a": {"baseUrl": "http://FAKE0", "autoDetect": true, "priority": 1},
           "b": {"baseUrl": "http://FAKE1", "autoDetect": true, "priority": 2}
         }}
        """
        let h = try Harness(config: config, fakes: 2)
        h.fakes[0].failAll(status: 503)
        let (first, _) = try httpRequest(port: h.port, "POST", "/v1/chat/completions", body: #"{"model":"mystery"}"#)
        #expect(first.status == 200 && first.headers["x-proxyd-provider"] == "b")
        let before = h.fakes[0].requests.count
        let (second, _) = try httpRequest(port: h.port, "POST", "/v1/chat/completions", body: #"{"model":"mystery"}"#)
        #expect(second.status == 200 && second.headers["x-proxyd-provider"] == "b")
        #expect(h.fakes[0].requests.count == before)
    }

    @Test("the circuit breaker tries a provider that keeps failing last")
    func circuitBreaker() throws {
        let h = try Harness(config: Self.two, fakes: 2)
        h.fakes[0].failAll(status: 500)
        for _ in 0..<3 {
            let (head, _) = try httpRequest(port: h.port, "POST", "/v1/chat/completions", body: #"{"model":"m"}"#)
            #expect(head.status == 200)
        }
        #expect(h.fakes[0].requests.count == 3)
        for _ in 0..<3 {
            let (head, _) = try httpRequest(port: h.port, "POST", "/v1/chat/completions", body: #"{"model":"m"}"#)
            #expect(head.status == 200 && head.headers["x-proxyd-provider"] == "second")
        }
        // While it cools down, the failing provider is not tried first: it saw nothing new.
        #expect(h.fakes[0].requests.count == 3)
    }

    static func withBreaker(_ breaker: String) -> String {
        two.replacing(#"{"inheritDefaults": false,"#, with: #"{"inheritDefaults": false, "failover": {"circuitBreaker": \#(breaker)},"#)
    }

    @Test("failover.circuitBreaker.failures 0 turns the breaker off: the first provider is always tried first")
    func breakerOff() throws {
        let h = try Harness(config: Self.withBreaker(#"{"failures": 0}"#), fakes: 2)
        h.fakes[0].failAll(status: 500)
        for _ in 0..<6 {
            let (head, _) = try httpRequest(port: h.port, "POST", "/v1/chat/completions", body: #"{"model":"m"}"#)
            #expect(head.status == 200 && head.headers["x-proxyd-provider"] == "second")
        }
        #expect(h.fakes[0].requests.count == 6)
    }

    @Test("a short cool-down: the failing provider is tried first again once it has passed")
    func shortCoolDown() throws {
        let h = try Harness(config: Self.withBreaker(#"{"failures": 2, "coolDownSeconds": 0.3}"#), fakes: 2)
        h.fakes[0].failAll(status: 500)
        for _ in 0..<2 { _ = try httpRequest(port: h.port, "POST", "/v1/chat/completions", body: #"{"model":"m"}"#) }
        #expect(h.fakes[0].requests.count == 2)
        // Open: the failing provider is tried last, so the second answers without it.
        _ = try httpRequest(port: h.port, "POST", "/v1/chat/completions", body: #"{"model":"m"}"#)
        #expect(h.fakes[0].requests.count == 2)
        // Once the cool-down has passed it is tried first again (and fails over again).
        let started = monotonic()
        #expect(waitUntil(5) {
            _ = try? httpRequest(port: h.port, "POST", "/v1/chat/completions", body: #"{"model":"m"}"#)
            return h.fakes[0].requests.count == 3
        })
        #expect(monotonic() - started >= 0.2)
    }
}
