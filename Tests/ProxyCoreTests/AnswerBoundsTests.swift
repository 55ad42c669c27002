@testable import ProxyCore
import Testing

/// Complete events, then the start of one that never ends.
private let completeEvents = Array("""
    data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

    : a comment between events

    data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"<think>why</think>Hi"},"finish_reason":null}]}


    """.utf8)
private let unfinished = Array(#"data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"NEVER-SENT"#.utf8)

/// The data of every event in `stream`, in order.
private func eventData(_ stream: [UInt8]) -> [String] {
    var parser = SSEParser()
    var out: [String] = []
    parser.feed(stream) { if case .event(let e, _) = $0 { out.append(e.data) } }
    return out
}

@Suite("Answers are bounded and go out event by event")
struct AnswerBoundsTests {
    @Test("a stream that breaks mid-event sends only complete events, then one error event", arguments: [ThinkMode.off, .split, .strip])
    func breakMidEvent(mode: ThinkMode) throws {
        let input = completeEvents + unfinished
        let reference = transform([completeEvents], settings(mode), complete: false)
        for cut in 0...input.count {
            let out = transform([Array(input[..<cut]), Array(input[cut...])], settings(mode), complete: false)
            #expect(out == reference, "\(mode) cut at \(cut)")
        }
        let text = String(decoding: reference, as: UTF8.self)
        #expect(!text.contains("NEVER-SENT"))
        let events = eventData(reference)
        // Every event is whole JSON; the last is proxyd's error.
        for e in events { #expect((try? JSONValue.parse(e)) != nil, "\(e)") }
        let last = try JSONValue.parse(events.last!)
        #expect(last["error"]?["code"]?.stringValue == "stream_interrupted")
        #expect(last["error"]?["type"]?.stringValue == "upstream_error")
        if mode == .off {
            // Byte for byte: the complete events as they came, then the error event.
            #expect(Array(reference.prefix(completeEvents.count)) == completeEvents)
            #expect(text.dropFirst(completeEvents.count).hasPrefix("data: {\"error\""))
        }
    }

    @Test("off mode holds an event until its blank line, then sends it as it came")
    func offHoldsUntilBlankLine() {
        let t = ChatStreamTransform(settings: settings(.off))
        var out: [UInt8] = []
        let event = Array(#"data: {"choices":[{"index":0,"delta":{"content":"x"}}]}"#.utf8)
        (event + [0x0A]).withUnsafeBytes { _ = t.feed($0, into: &out) }
        #expect(out.isEmpty)
        [UInt8(0x0A)].withUnsafeBytes { _ = t.feed($0, into: &out) }
        #expect(out == event + [0x0A, 0x0A])
    }

    @Test("a stream that ends cleanly mid-event says so, without the partial bytes")
    func endsInsideEvent() throws {
        let out = transform([completeEvents + unfinished], settings(.off), complete: true)
        let last = try JSONValue.parse(eventData(out).last!)
        #expect(last["error"]?["code"]?.stringValue == "stream_incomplete")
        #expect(!String(decoding: out, as: UTF8.self).contains("NEVER-SENT"))
    }

    @Test("an event over maxEventBytes ends the stream with event_too_large, holding no more than the limit",
          arguments: [ThinkMode.off, .split])
    func eventTooLarge(mode: ThinkMode) throws {
        let limit = 4096
        let t = ChatStreamTransform(settings: settings(mode), maxEventBytes: limit)
        var out: [UInt8] = []
        completeEvents.withUnsafeBytes { _ = t.feed($0, into: &out) }
        let before = out
        let huge = Array(#"data: {"choices":[{"index":0,"delta":{"content":""#.utf8) + [UInt8](repeating: 0x61, count: 100_000)
        var offset = 0
        while offset < huge.count && !t.overflowed {
            let piece = Array(huge[offset..<min(huge.count, offset + 1000)])
            piece.withUnsafeBytes { _ = t.feed($0, into: &out) }
            #expect(t.parser.heldBytes <= limit)
            offset += piece.count
        }
        #expect(t.overflowed)
        #expect(offset < 2 * limit)  // noticed as soon as the limit was passed
        #expect(out == before)
        t.finish(upstreamComplete: false, reason: "cancelled", into: &out)
        let last = try JSONValue.parse(eventData(out).last!)
        #expect(last["error"]?["code"]?.stringValue == "event_too_large")
    }

    @Test("the SSE parser refuses an item over its limit on every path: one piece, many pieces, a line with no end")
    func parserLimit() {
        let limit = 1024
        let event = Array("data: ".utf8) + [UInt8](repeating: 0x62, count: 2000) + [0x0A, 0x0A]
        for pieceSize in [1, 7, 100, event.count] {
            var p = SSEParser(maxHeldBytes: limit)
            var events = 0
            var offset = 0
            while offset < event.count {
                let piece = Array(event[offset..<min(event.count, offset + pieceSize)])
                piece.withUnsafeBytes { p.feed($0, onEvent: { _ in events += 1 }, onOther: { _ in }) }
                #expect(p.heldBytes <= limit)
                offset += piece.count
            }
            #expect(p.overflowed, "pieces of \(pieceSize)")
            #expect(events == 0)
            // Nothing more comes out after an overflow.
            Array("data: ok\n\n".utf8).withUnsafeBytes { p.feed($0, onEvent: { _ in events += 1 }, onOther: { _ in }) }
            #expect(events == 0)
        }
        // Events at the limit pass, in one piece or many.
        var p = SSEParser(maxHeldBytes: 64)
        var seen: [String] = []
        Array("data: short\n\ndata: also short\n\n".utf8).withUnsafeBytes {
            p.feed($0, onEvent: { seen.append(String(decoding: $0.data, as: UTF8.self)) }, onOther: { _ in })
        }
        #expect(seen == ["short", "also short"] && !p.overflowed)
    }

    @Test("an Anthropic event over maxEventBytes ends the translated stream with event_too_large")
    func anthropicEventTooLarge() throws {
        let t = AnthropicStreamTranslator(AnthropicTranslation(created: 1, includeUsage: false, reasoningField: "reasoning_content",
                                                               keepReasoning: true), maxEventBytes: 2048)
        let start = Array(#"event: message_start\#ndata: {"type":"message_start","message":{"id":"m","model":"claude","usage":{"input_tokens":1,"output_tokens":0}}}\#n\#nevent: content_block_delta\#ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}\#n\#n"#.utf8)
        var out: [UInt8] = []
        _ = start.withUnsafeBytes { t.feed($0, into: &out) }
        let huge = Array(#"event: content_block_delta\#ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""#.utf8)
            + [UInt8](repeating: 0x61, count: 10_000)
        _ = huge.withUnsafeBytes { t.feed($0, into: &out) }
        #expect(t.overflowed)
        _ = t.finish(upstreamComplete: false, reason: "cancelled", into: &out)
        let last = try JSONValue.parse(eventData(out).last!)
        #expect(last["error"]?["code"]?.stringValue == "event_too_large")
    }

    @Test("endless leading whitespace is not held: past the bound it is answer (or dropped reasoning whitespace)")
    func leadingWhitespaceBound() {
        var s = ThinkSplitter(tags: ["think"], assumeOpen: false)
        var out = ThinkSplitter.Output()
        for _ in 0..<100_000 { s.feed(Array(" \n".utf8), into: &out) }
        #expect(s.pending.count <= ThinkSplitter.maxLeadingWhitespace + 2)
        s.feed(Array("<think>late</think>hi".utf8), into: &out)
        s.finish(into: &out)
        #expect(out.reasoning.isEmpty)
        #expect(out.content.count == 200_000 + "<think>late</think>hi".utf8.count)
        var open = ThinkSplitter(tags: ["think"], assumeOpen: true)
        var o2 = ThinkSplitter.Output()
        for _ in 0..<100_000 { open.feed(Array("  ".utf8), into: &o2) }
        #expect(open.pending.count <= ThinkSplitter.maxLeadingWhitespace + 2)
        open.feed(Array("why</think>answer".utf8), into: &o2)
        open.finish(into: &o2)
        #expect(String(decoding: o2.reasoning, as: UTF8.self) == "why" && String(decoding: o2.content, as: UTF8.self) == "answer")
        // Under the bound, whitespace before a tag is still just whitespace before a tag.
        var short = ThinkSplitter(tags: ["think"], assumeOpen: false)
        var o3 = ThinkSplitter.Output()
        for _ in 0..<100 { short.feed(Array(" ".utf8), into: &o3) }
        short.feed(Array("<think>r</think>c".utf8), into: &o3)
        short.finish(into: &o3)
        #expect(String(decoding: o3.reasoning, as: UTF8.self) == "r" && String(decoding: o3.content, as: UTF8.self) == "c")
    }

    @Test("a stream numbering endless choices keeps state for at most 128 of them")
    func choiceBound() {
        let t = ChatStreamTransform(settings: settings(.split))
        var out: [UInt8] = []
        for i in 0..<1000 {
            let e = Array(#"data: {"choices":[{"index":\#(i),"delta":{"content":"<think>r</think>c"}}]}"#.utf8) + [0x0A, 0x0A]
            e.withUnsafeBytes { _ = t.feed($0, into: &out) }
        }
        #expect(t.rewriter.choices.entries.count == ChatChunkRewriter.maxChoices)
        let text = String(decoding: out, as: UTF8.self)
        // The first ones are split, the rest pass as they came.
        #expect(text.contains(#""index":0"#) && text.contains(#""reasoning_content":"r""#))
        #expect(text.contains(#"{"index":999,"delta":{"content":"<think>r</think>c"}}"#))
    }

    @Test("failover.circuitBreaker loads, and 0 failures turns the breaker off")
    func breakerSettings() throws {
        let c = try ConfigurationLoader.load(file: Array(#"{"inheritDefaults": false, "failover": {"circuitBreaker": {"failures": 5, "coolDownSeconds": 2.5}}}"#.utf8), environment: [:])
        #expect(c.circuitBreaker.failures == 5 && c.circuitBreaker.coolDownSeconds == 2.5)
        let d = try ConfigurationLoader.load(file: Array(#"{"inheritDefaults": false}"#.utf8), environment: [:])
        #expect(d.circuitBreaker == CircuitBreakerSettings() && d.circuitBreaker.failures == 3 && d.circuitBreaker.coolDownSeconds == 30)
        do {
            _ = try ConfigurationLoader.load(file: Array(#"{"failover": {"circuitBreaker": {"failures": -1, "cooldown": 1}}}"#.utf8), environment: [:])
            Issue.record("loaded")
        } catch {
            #expect(error.problems.contains("failover.circuitBreaker.failures: must be at least 0"))
            #expect(error.problems.contains { $0.hasPrefix("failover.circuitBreaker.cooldown") })
        }
        var off = CircuitBreaker(threshold: 0, coolDown: 30)
        for _ in 0..<10 { off.record(provider: "p", failed: true, now: 0) }
        #expect(!off.isCoolingDown("p", now: 1))
        var on = CircuitBreaker(threshold: 2, coolDown: 1)
        on.record(provider: "p", failed: true, now: 0)
        #expect(!on.isCoolingDown("p", now: 0.1))
        on.record(provider: "p", failed: true, now: 0.2)
        #expect(on.isCoolingDown("p", now: 0.5) && !on.isCoolingDown("p", now: 1.3))
        on.record(provider: "p", failed: false, now: 1.4)
        on.record(provider: "p", failed: true, now: 1.5)
        #expect(!on.isCoolingDown("p", now: 1.6))
    }

    @Test("an exchange that ended badly is logged at warn")
    func accessLevels() {
        var r = ExchangeRecord(requestID: "r", method: "POST", route: "chat_completions")
        r.status = 200
        #expect(r.logLevel == .info)
        r.outcome = "client_gone"
        #expect(r.logLevel == .info)
        r.outcome = "upstream_broke"
        #expect(r.logLevel == .warn)
        r.outcome = nil
        for status in [502, 503, 504, 500] {
            r.status = status
            #expect(r.logLevel == .warn, "\(status)")
        }
        r.status = 404
        #expect(r.logLevel == .info)
    }

    @Test("warning is read as warn; the answer limits and the idle pool are configurable")
    func configuration() throws {
        #expect(LogLevel(named: "warning") == .warn && LogLevel(named: "warn") == .warn && LogLevel(named: "loud") == nil)
        let c = try ConfigurationLoader.load(file: Array("""
            {"inheritDefaults": false, "log": {"level": "warning"},
             "server": {"maxResponseBytes": 1048576, "maxEventBytes": 262144, "maxIdleUpstreamConnections": 4}}
            """.utf8), environment: [:])
        #expect(c.logLevel == .warn)
        #expect(c.server.maxResponseBytes == 1 << 20 && c.server.maxEventBytes == 256 << 10 && c.server.maxIdleUpstreamConnections == 4)
        let d = try ConfigurationLoader.load(file: Array(#"{"inheritDefaults": false}"#.utf8), environment: [:])
        #expect(d.server.maxResponseBytes == 64 << 20 && d.server.maxEventBytes == 16 << 20 && d.server.maxIdleUpstreamConnections == 32)
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(file: Array(#"{"server": {"maxEventBytes": 10}}"#.utf8), environment: [:])
        }
        do {
            _ = try ConfigurationLoader.load(file: Array(#"{"server": {"maxIdleUpstreamConnections": 0, "maxResponseBytes": "big"}}"#.utf8), environment: [:])
            Issue.record("loaded")
        } catch {
            #expect(error.problems.contains("server.maxIdleUpstreamConnections: must be at least 1"))
            #expect(error.problems.contains("server.maxResponseBytes: must be an integer, not string"))
        }
    }
}

@Suite("SSE edge cases the fuzzer found")
struct SSEFuzzFindingsTests {
    /// Events (data) and the joined reported bytes for `pieces`.
    func parse(_ pieces: [[UInt8]]) -> (events: [String], bytes: [UInt8], held: Int) {
        var p = SSEParser()
        var events: [String] = []
        var bytes: [UInt8] = []
        for piece in pieces {
            piece.withUnsafeBytes {
                p.feed($0, onEvent: { events.append(String(decoding: $0.data, as: UTF8.self)); bytes += $0.raw },
                       onOther: { bytes += $0 })
            }
        }
        return (events, bytes, p.heldBytes)
    }

    @Test("a CRLF cut between its CR and LF leaves nothing held and changes nothing")
    func crlfSplit() {
        let input = Array("data: a\r\n\r\n".utf8)
        let whole = parse([input])
        for cut in 0...input.count {
            let r = parse([Array(input[..<cut]), Array(input[cut...])])
            #expect(r.events == whole.events && r.bytes == whole.bytes && r.held == 0, "cut \(cut)")
        }
    }

    @Test("a rewritten or hidden CRLF event cut between its last CR and LF: the same output as whole")
    func crlfSplitRewritten() {
        let input = Array("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"<think>r</think>ok\"}}]}\r\n\r\n: note\r\n\r\ndata: [DONE]\r\n\r\n".utf8)
        for mode in [ThinkMode.split, .off] {
            let whole = transform([input], settings(mode))
            for cut in 0...input.count {
                #expect(transform([Array(input[..<cut]), Array(input[cut...])], settings(mode)) == whole, "\(mode) cut \(cut)")
            }
        }
    }

    @Test("a BOM cut into pieces is still skipped; a false start of one is kept as text")
    func bomSplit() {
        let input = [0xEF, 0xBB, 0xBF] + Array("data: x\n\n".utf8)
        for cut in 0...input.count {
            let r = parse([Array(input[..<cut]), Array(input[cut...])])
            #expect(r.events == ["x"] && r.bytes == input, "cut \(cut)")
        }
        let notBOM = [0xEF] + Array("data: y\n\n".utf8)
        #expect(parse([Array(notBOM[..<1]), Array(notBOM[1...])]).bytes == notBOM)
        #expect(parse([Array(notBOM[..<1]), Array(notBOM[1...])]).events == parse([notBOM]).events)
    }

    @Test("a rewritten chunk whose data came in several lines goes out as one valid data line")
    func multiLineData() throws {
        let input = Array("data: {\"choices\":[{\"index\":0,\ndata: \"delta\":{\"content\":\"<think>r</think>ok\"}}]}\n\ndata: [DONE]\n\n".utf8)
        let out = transform([input], settings(.split))
        var p = SSEParser()
        var datas: [String] = []
        p.feed(out) { if case .event(let e, _) = $0 { datas.append(e.data) } }
        let first = try JSONValue.parse(datas[0])
        #expect(first["choices"]?.arrayValue?.first?["delta"]?["reasoning_content"]?.stringValue == "r")
        #expect(datas.last == "[DONE]")
    }
}
