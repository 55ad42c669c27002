import ProxyCore
import Testing

/// Chat-completion streams as Messages API event streams: the same events at any split, and the
/// order every Messages client relies on.
@Suite("Chat streams as Messages event streams")
struct MessagesStreamTranslatorTests {
    static func sse(_ chunks: [String]) -> [UInt8] {
        Array((chunks.map { "data: \($0)\n\n" }.joined() + "data: [DONE]\n\n").utf8)
    }

    static func delta(_ d: String, finish: String? = nil) -> String {
        #"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":\#(d),"finish_reason":\#(finish.map { "\"\($0)\"" } ?? "null")}]}"#
    }

    static let usage = #"{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":9,"prompt_tokens_details":{"cached_tokens":10}}}"#

    static let streams: [(String, [UInt8])] = [
        ("text", sse([delta(#"{"role":"assistant","content":""}"#), delta(#"{"content":"Hel"}"#), delta(#"{"content":"lo ✓"}"#),
                      delta("{}", finish: "stop"), usage])),
        ("reasoning field then text", sse([delta(#"{"reasoning_content":"Think"}"#), delta(#"{"reasoning_content":"ing."}"#),
                                           delta(#"{"content":"Answer"}"#), delta("{}", finish: "stop"), usage])),
        ("<think> in the content", sse([delta(#"{"content":"<thi"}"#), delta(#"{"content":"nk>why</th"}"#), delta(#"{"content":"ink>\n\nbecause"}"#),
                                         delta("{}", finish: "stop")])),
        ("two tool calls with interleaved fragments", sse([
            delta(#"{"content":"Checking."}"#),
            delta(#"{"tool_calls":[{"index":0,"id":"t1","type":"function","function":{"name":"weather","arguments":""}}]}"#),
            delta(#"{"tool_calls":[{"index":1,"id":"t2","type":"function","function":{"name":"time","arguments":"{\"tz\":"}}]}"#),
            delta(#"{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":\"Paris\"}"}}]}"#),
            delta(#"{"tool_calls":[{"index":1,"function":{"arguments":"\"CET\"}"}}]}"#),
            delta("{}", finish: "tool_calls"), usage])),
        ("no usage from the upstream", sse([delta(#"{"content":"x"}"#), delta("{}", finish: "length")])),
    ]

    static func run(_ pieces: [[UInt8]], complete: Bool = true) -> String {
        var think = ThinkSettings()
        think.mode = .split
        let t = MessagesStreamTranslator(model: "claude-client", think: think, inputEstimate: 25)
        var out: [UInt8] = []
        for p in pieces { _ = p.withUnsafeBytes { t.feed($0, into: &out) } }
        _ = t.finish(upstreamComplete: complete, reason: "reset", into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The (event, data) pairs of a Messages stream.
    static func events(_ text: String) throws -> [(String, JSONValue)] {
        try text.split(separator: "\n\n").map { e in
            let lines = e.split(separator: "\n", omittingEmptySubsequences: false)
            return (String(lines[0].dropFirst(7)), try JSONValue.parse(Array(lines[1].dropFirst(6).utf8)))
        }
    }

    /// message_start first; blocks numbered from 0, each started, given deltas of its kind and
    /// stopped before the next; message_delta then message_stop last; nothing after.
    static func checkOrder(_ evs: [(String, JSONValue)]) -> String? {
        guard evs.first?.0 == "message_start" else { return "no message_start first" }
        guard evs.suffix(2).map(\.0) == ["message_delta", "message_stop"] else { return "no message_delta, message_stop at the end" }
        var openIndex: Int?
        var next = 0
        for (name, data) in evs.dropFirst().dropLast(2) {
            let index = data["index"]?.intValue
            switch name {
            case "content_block_start":
                guard openIndex == nil, index == next else { return "block \(index ?? -1) started out of order" }
                openIndex = index
            case "content_block_delta":
                guard index == openIndex else { return "delta outside its block" }
            case "content_block_stop":
                guard index == openIndex else { return "stop of a block not open" }
                openIndex = nil
                next += 1
            default:
                return "unexpected \(name) inside the message"
            }
        }
        return openIndex == nil ? nil : "a block left open"
    }

    @Test("every stream gives the same events whole, byte by byte and at every split, in the Messages order", arguments: streams.map(\.0))
    func splits(_ name: String) throws {
        let input = Self.streams.first { $0.0 == name }!.1
        let whole = Self.run([input])
        let problem = Self.checkOrder(try Self.events(whole))
        #expect(problem == nil, "\(name): \(problem ?? "")\n\(whole)")
        #expect(Self.run(input.map { [$0] }) == whole, "\(name) byte by byte")
        for cut in 0...input.count {
            #expect(Self.run([Array(input[..<cut]), Array(input[cut...])]) == whole, "\(name) cut at \(cut)")
        }
    }

    @Test("text: one text block; usage in message_delta is the real count, less cached tokens")
    func text() throws {
        let evs = try Self.events(Self.run([Self.streams[0].1]))
        #expect(evs[0].1["message"]?["usage"]?["input_tokens"]?.intValue == 25, "the estimate first")
        #expect(evs[0].1["message"]?["model"]?.stringValue == "claude-client")
        let deltas = evs.filter { $0.0 == "content_block_delta" }.compactMap { $0.1["delta"]?["text"]?.stringValue }
        #expect(deltas.joined() == "Hello ✓")
        let md = try #require(evs.first { $0.0 == "message_delta" }?.1)
        #expect(md["delta"]?["stop_reason"]?.stringValue == "end_turn")
        #expect(md["usage"]?.jsonText == #"{"input_tokens":20,"output_tokens":9,"cache_read_input_tokens":10}"#)
    }

    @Test("reasoning becomes a thinking block before the text block, with thinking deltas only inside it")
    func thinking() throws {
        for stream in [Self.streams[1].1, Self.streams[2].1] {
            let evs = try Self.events(Self.run([stream]))
            let starts = evs.filter { $0.0 == "content_block_start" }.compactMap { $0.1["content_block"]?["type"]?.stringValue }
            #expect(starts == ["thinking", "text"])
            let thinking = evs.filter { $0.1["delta"]?["type"]?.stringValue == "thinking_delta" }
            #expect(thinking.allSatisfy { $0.1["index"]?.intValue == 0 })
            let reasoning = thinking.compactMap { $0.1["delta"]?["thinking"]?.stringValue }.joined()
            let expected = stream == Self.streams[1].1 ? "Thinking." : "why"
            #expect(reasoning == expected)
        }
    }

    @Test("tool calls: one tool_use block each after the text, whole arguments, stop reason tool_use")
    func tools() throws {
        let evs = try Self.events(Self.run([Self.streams[3].1]))
        let starts = evs.filter { $0.0 == "content_block_start" }.map { $0.1["content_block"] }
        #expect(starts.map { $0?["type"]?.stringValue } == ["text", "tool_use", "tool_use"])
        #expect(starts[1]?["id"]?.stringValue == "t1" && starts[2]?["name"]?.stringValue == "time")
        let args = evs.filter { $0.1["delta"]?["type"]?.stringValue == "input_json_delta" }.compactMap { $0.1["delta"]?["partial_json"]?.stringValue }
        #expect(args == [#"{"city":"Paris"}"#, #"{"tz":"CET"}"#])
        #expect(evs.first { $0.0 == "message_delta" }?.1["delta"]?["stop_reason"]?.stringValue == "tool_use")
    }

    @Test("without a usage chunk the estimate stands in; length is max_tokens")
    func noUsage() throws {
        let md = try #require(try Self.events(Self.run([Self.streams[4].1])).first { $0.0 == "message_delta" }?.1)
        #expect(md["usage"]?["input_tokens"]?.intValue == 25 && md["delta"]?["stop_reason"]?.stringValue == "max_tokens")
    }

    @Test("a break after message_start ends with event: error, never message_stop; before any output it is an error answer")
    func breaks() throws {
        let input = Array(Self.streams[0].1.prefix(200))
        let out = Self.run([input], complete: false)
        let evs = try Self.events(out)
        #expect(evs.first?.0 == "message_start" && evs.last?.0 == "error" && !out.contains("message_stop"), "\(out)")
        #expect(evs.last?.1["error"]?["type"]?.stringValue == "api_error")
        let t = MessagesStreamTranslator(model: "m", think: ThinkSettings(), inputEstimate: 1)
        var nothing: [UInt8] = []
        guard case .error(let e, _) = t.finish(upstreamComplete: false, reason: "reset", into: &nothing) else {
            Issue.record("expected an error answer"); return
        }
        #expect(e.status == 502 && nothing.isEmpty)
    }
}
