import Glibc
@testable import ProxyCore
import Testing

func fixture(_ name: String) -> [UInt8] {
    var path = #filePath
    path = String(path[..<path.lastIndex(of: "/")!]) + "/Fixtures/" + name
    guard let f = fopen(path, "rb") else { fatalError("missing fixture \(path)") }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return out
}

func settings(_ mode: ThinkMode, field: String = "reasoning_content", tags: [String] = ["think"], assumeOpen: Bool = false) -> ChatAnswerSettings {
    var t = ThinkSettings()
    t.mode = mode
    t.field = field
    t.tags = tags
    t.assumeOpen = assumeOpen
    return ChatAnswerSettings(think: t)
}

/// Runs a stream through the transform in the given pieces, then ends it cleanly.
/// A text of fewer than `upTo` random atoms, and the same text cut into deltas on character boundaries.
func randomDeltas(_ atoms: [String], upTo: UInt64, _ rng: inout SplitMix) -> (String, [String]) {
    var text = ""
    for _ in 0..<Int(rng.next() % upTo) { text += atoms[Int(rng.next() % UInt64(atoms.count))] }
    var deltas: [String] = []
    var current = ""
    for ch in text {
        current.append(ch)
        if rng.next() % 3 == 0 { deltas.append(current); current = "" }
    }
    if !current.isEmpty { deltas.append(current) }
    return (text, deltas)
}

func transform(_ pieces: [[UInt8]], _ s: ChatAnswerSettings, complete: Bool = true) -> [UInt8] {
    let t = ChatStreamTransform(settings: s)
    var out: [UInt8] = []
    for p in pieces { p.withUnsafeBytes { _ = t.feed($0, into: &out) } }
    t.finish(upstreamComplete: complete, reason: "cut", into: &out)
    return out
}

/// Per choice index: joined content and joined reasoning field, from an output stream.
func accumulate(_ stream: [UInt8], field: String = "reasoning_content") -> [Int: (content: String, reasoning: String)] {
    var parser = SSEParser()
    var result: [Int: (content: String, reasoning: String)] = [:]
    parser.feed(stream) { item in
        guard case .event(let e, _) = item, let v = try? JSONValue.parse(e.data), let choices = v["choices"]?.arrayValue else { return }
        for c in choices {
            let i = c["index"]?.intValue ?? 0
            var r = result[i] ?? ("", "")
            r.content += c["delta"]?["content"]?.stringValue ?? ""
            r.reasoning += c["delta"]?[field]?.stringValue ?? ""
            result[i] = r
        }
    }
    return result
}

@Suite("Chat stream transform")
struct ChatStreamTransformTests {
    static let fixtures = ["deepseek-r1-think.sse", "n2-interleaved.sse", "provider-reasoning.sse", "partial-at-finish.sse", "tool-calls.sse"]

    @Test("feeding whole, byte by byte and at every split point gives the same output", arguments: fixtures)
    func splitInvariance(name: String) {
        let input = fixture(name)
        for mode in [ThinkMode.split, .strip, .off] {
            let whole = transform([input], settings(mode))
            #expect(transform(input.map { [$0] }, settings(mode)) == whole, "\(name) \(mode) byte by byte")
            for cut in stride(from: 0, through: input.count, by: 1) {
                #expect(transform([Array(input[..<cut]), Array(input[cut...])], settings(mode)) == whole, "\(name) \(mode) cut \(cut)")
            }
        }
    }

    @Test("off is byte-identical to the input", arguments: fixtures)
    func offIsIdentity(name: String) {
        let input = fixture(name)
        #expect(transform([input], settings(.off)) == input)
    }

    @Test("a DeepSeek-R1 stream: reasoning moves out of content, tags split across chunks")
    func deepseek() {
        let out = transform([fixture("deepseek-r1-think.sse")], settings(.split))
        let acc = accumulate(out)
        #expect(acc[0]?.reasoning == "The user asks for 2+2. Simple arithmetic: 4.\n")
        #expect(acc[0]?.content == "2 + 2 = **4**.")
        let text = String(decoding: out, as: UTF8.self)
        #expect(!text.contains("think>"))
        #expect(text.hasSuffix("data: [DONE]\n\n"))
        // The usage chunk and every other field pass unchanged.
        #expect(text.contains(#"{"prompt_tokens":12,"completion_tokens":31,"total_tokens":43}"#))
        #expect(text.contains(#""system_fingerprint":"fp_r1""#))
    }

    @Test("the output field can be `reasoning`; strip removes reasoning")
    func fieldAndStrip() {
        let input = fixture("deepseek-r1-think.sse")
        let r = accumulate(transform([input], settings(.split, field: "reasoning")), field: "reasoning")
        #expect(r[0]?.reasoning.hasPrefix("The user asks") == true)
        let stripped = transform([input], settings(.strip))
        #expect(accumulate(stripped)[0]?.content == "2 + 2 = **4**.")
        let text = String(decoding: stripped, as: UTF8.self)
        #expect(!text.contains("reasoning") && !text.contains("user asks"))
    }

    @Test("n=2 choices interleaved keep their own state")
    func twoChoices() {
        let acc = accumulate(transform([fixture("n2-interleaved.sse")], settings(.split)))
        #expect(acc[0]?.reasoning == "A thinks" && acc[0]?.content == "Answer A")
        #expect(acc[1]?.reasoning == "B thinks é" && acc[1]?.content == "Answer B ✓")
    }

    @Test("a choice whose upstream sends its own reasoning field is left alone")
    func providerReasoning() {
        let input = fixture("provider-reasoning.sse")
        #expect(transform([input], settings(.split)) == input)
    }

    @Test("held text is flushed no later than the chunk with finish_reason")
    func flushAtFinish() {
        let out = String(decoding: transform([fixture("partial-at-finish.sse")], settings(.split)), as: UTF8.self)
        let events = out.split(separator: "\n\n").map(String.init).filter { $0.hasPrefix("data: {") }
        #expect(events.count == 3)
        // A possible opening tag is held back, then released as answer with the finishing chunk.
        #expect(events[0].contains(#""content":"""#) && events[1].contains(#""content":"""#))
        #expect(events[2].contains(#""finish_reason":"stop""#) && events[2].contains(#""content":"\n<thi""#))
        #expect(accumulate(Array(out.utf8))[0]?.content == "\n<thi")
    }

    @Test("tool calls and unknown fields are preserved")
    func toolCalls() {
        let out = String(decoding: transform([fixture("tool-calls.sse")], settings(.split)), as: UTF8.self)
        #expect(out.contains(#""tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":""}}]"#))
        #expect(out.contains(#""x_vendor":{"k":1}"#) && out.contains(#""reasoning_content":"need a tool""#))
    }

    @Test("an upstream error event passes through; the broken stream ends with proxyd's error, no [DONE]")
    func errorEvent() {
        let out = String(decoding: transform([fixture("error-event.sse")], settings(.split), complete: false), as: UTF8.self)
        #expect(out.contains(#"{"error":{"message":"upstream overloaded","type":"server_error","code":"overloaded"}}"#))
        #expect(out.contains(#""reasoning_content":"partial""#))
        #expect(out.hasSuffix(#""code":"stream_interrupted"}}"# + "\n\n"))
        #expect(!out.contains("[DONE]"))
    }

    @Test("[DONE] and the usage chunk are never delayed")
    func notDelayed() {
        let input = fixture("deepseek-r1-think.sse")
        let t = ChatStreamTransform(settings: settings(.split))
        var out: [UInt8] = []
        input.withUnsafeBytes { _ = t.feed($0, into: &out) }
        #expect(String(decoding: out, as: UTF8.self).hasSuffix("data: [DONE]\n\n"))
    }

    @Test("CRLF line ends and a leading BOM parse the same")
    func crlf() {
        let lf = fixture("deepseek-r1-think.sse")
        var crlf: [UInt8] = [0xEF, 0xBB, 0xBF]
        for b in lf { if b == 0x0A { crlf += [0x0D, 0x0A] } else { crlf.append(b) } }
        let a = accumulate(transform([lf], settings(.split)))
        let b = accumulate(transform(crlf.map { [$0] }, settings(.split)))
        #expect(a[0]?.content == b[0]?.content && a[0]?.reasoning == b[0]?.reasoning)
    }

    @Test("streamed output joined equals the whole-response transform")
    func streamedEqualsWhole() throws {
        for name in ["deepseek-r1-think.sse", "n2-interleaved.sse"] {
            let input = fixture(name)
            let original = accumulate(input)
            let streamed = accumulate(transform([input], settings(.split)))
            for (index, choice) in original {
                let whole = JSONValue.object([("choices", .array([.object([("index", .int(index)),
                    ("message", .object([("role", .string("assistant")), ("content", .string(choice.content))]))])]))])
                let rewritten = ChatChunkRewriter.rewriteWhole(whole, think: settings(.split).think)
                let message = rewritten?["choices"]?.arrayValue?.first?["message"]
                #expect(message?["content"]?.stringValue == streamed[index]?.content, "\(name) \(index)")
                #expect(message?["reasoning_content"]?.stringValue == streamed[index]?.reasoning, "\(name) \(index)")
            }
        }
    }

    @Test("a whole completion: every choice's message, other fields untouched")
    func wholeCompletion() throws {
        let body = fixture("whole-completion.json")
        let out = try JSONValue.parse(settings(.split).rewriteWhole(body))
        let choices = try #require(out["choices"]?.arrayValue)
        #expect(choices[0]["message"]?["content"]?.stringValue == "It is 4.")
        #expect(choices[0]["message"]?["reasoning_content"]?.stringValue == "Add them.\n")
        #expect(choices[1]["message"]?["content"]?.stringValue == "No reasoning here.")
        #expect(choices[1]["message"]?["reasoning_content"] == nil)
        #expect(out["usage"]?["total_tokens"]?.intValue == 19)
        #expect(settings(.off).rewriteWhole(body) == body)
    }

    @Test("SSE parsing in random pieces, with its in-place path for simple events, matches the general path fed whole")
    func ssePiecesMatchGeneralPath() {
        struct Seen: Equatable { var data: [UInt8]; var name: String?; var id: String?; var raw: [UInt8]; var other: Bool }
        func collect(_ run: (inout SSEParser, (SSEParser.RawEvent) -> Void, (UnsafeRawBufferPointer) -> Void) -> Void) -> [Seen] {
            var parser = SSEParser()
            var seen: [Seen] = []
            run(&parser, { e in seen.append(Seen(data: Array(e.data), name: e.eventName, id: e.id, raw: Array(e.raw), other: false)) },
                { seen.append(Seen(data: [], name: nil, id: nil, raw: Array($0), other: true)) })
            parser.flushPending { seen.append(Seen(data: [], name: nil, id: nil, raw: Array($0), other: true)) }
            return seen
        }
        // Reported bytes joined: whole events and other runs may be cut differently, so compare
        // events one by one and the concatenation of everything.
        let parts = ["data: {\"a\":1}\n\n", "data:{\"b\":2}\n\n", "data: x\ndata: y\n\n", ": keep-alive\n\n", "event: ping\ndata: p\n\n",
                     "id: 7\ndata: q\n\n", "data: r\r\n\r\n", "data: s\r\r", "\n", "data: [DONE]\n\n", "retry: 10\n\n", "data: \n\n"]
        var rng = SplitMix(seed: 23)
        for _ in 0..<2000 {
            var text = ""
            for _ in 0..<(1 + Int(rng.next() % 8)) { text += parts[Int(rng.next() % UInt64(parts.count))] }
            let bytes = Array(text.utf8)
            let reference = collect { p, onEvent, onOther in bytes.withUnsafeBytes { p.feedLines($0, onEvent: onEvent, onOther: onOther) } }
            var cuts = [0, bytes.count]
            for _ in 0..<Int(rng.next() % 4) { cuts.append(Int(rng.next() % UInt64(bytes.count + 1))) }
            cuts.sort()
            let pieces = collect { p, onEvent, onOther in
                for k in 0..<(cuts.count - 1) where cuts[k] < cuts[k + 1] {
                    bytes.withUnsafeBytes { p.feed(UnsafeRawBufferPointer(rebasing: $0[cuts[k]..<cuts[k + 1]]), onEvent: onEvent, onOther: onOther) }
                }
            }
            // After a CR at the end of a piece the parser cannot know whether an LF follows, so
            // with CRs the bytes an event reports may differ by where the pieces were cut.
            func events(_ s: [Seen]) -> [Seen] {
                s.filter { !$0.other }.map { text.utf8.contains(0x0D) ? Seen(data: $0.data, name: $0.name, id: $0.id, raw: [], other: false) : $0 }
            }
            #expect(events(pieces) == events(reference), "\(text.debugDescription) cut at \(cuts)")
            #expect(pieces.flatMap(\.raw) == reference.flatMap(\.raw), "\(text.debugDescription) cut at \(cuts)")
        }
    }

    @Test("a chunk recognized by the previous chunk's envelope gets the layout a scan would give it")
    func envelopeMatchesScan() {
        let envelopes = [
            (#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"#,
             #"},"finish_reason":null}]}"#),
            (#"{"choices":[{"delta":{"content":"#, #"},"index":3,"finish_reason":null}],"id":"x"}"#),
            (#"{"id":"c","choices":[{"index":1,"delta":{"role":"assistant","content":"#, #"},"finish_reason":"stop"}]}"#),
        ]
        let texts = [#""""#, #""a""#, #""<think>\n""#, #""say \"hi\"""#, #""back\\\\""#, #""\u003cthink>""#, #""x\\""#, "null"]
        func fields(_ l: ChatChunkLayout) -> [String] {
            l.choices.map { "\($0.index) \($0.position) \(String(describing: $0.delta)) \($0.deltaIsEmpty) \(String(describing: $0.content)) \($0.contentIsString) \($0.contentHasEscapes) \($0.ownReasoning) \($0.finishing)" }
                + ["\(l.isError) \(l.hasChoices)"]
        }
        for (prefix, suffix) in envelopes {
            for first in texts {
                var envelope = ChunkEnvelope()
                let a = Array((prefix + first + suffix).utf8)
                var scanned = ChatChunkLayout()
                guard a.withUnsafeBytes({ ChatChunkLayout.scan($0, whole: false, into: &scanned) }) else { continue }
                _ = a.withUnsafeBytes { envelope.remember($0, scanned) }
                for second in texts + [#""a"},"x":{"content":"b""#] {
                    for (p2, s2) in envelopes {
                        let b = Array((p2 + second + s2).utf8)
                        var matched = scanned
                        let hit = b.withUnsafeBytes { envelope.match($0, into: &matched) }
                        var expected = ChatChunkLayout()
                        let scannable = b.withUnsafeBytes { ChatChunkLayout.scan($0, whole: false, into: &expected) }
                        if hit {
                            #expect(scannable && fields(matched) == fields(expected), "\(String(decoding: b, as: UTF8.self))")
                        }
                        if p2 == prefix && s2 == suffix && second.hasPrefix("\"") && !second.contains("},") && first.hasPrefix("\"") {
                            #expect(hit, "\(String(decoding: b, as: UTF8.self))")
                        }
                    }
                }
            }
        }
    }

    @Test("the direct path for plain reasoning chunks writes exactly what the general path writes")
    func directPathMatchesGeneralPath() {
        var rng = SplitMix(seed: 29)
        let atoms = ["<think>", "</think>", "<", " ", "\n", "a", "é", "\"q\"", "\\", "\t", "\u{7F}", "word", "</th", "ink>"]
        let envelopes = [(#"{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"content":"#,
                          #"},"logprobs":null,"finish_reason":null}]}"#),
                         (#"{"choices":[{"delta":{"content":"#, #"},"index":0}]}"#)]
        for round in 0..<400 {
            let (text, generated) = randomDeltas(atoms, upTo: 14, &rng)
            var deltas = generated
            if round < 2 { deltas = ["<think>", "plain", "a\u{7F}b", "</think>", "x"] }  // a raw DEL inside the block
            let (prefix, suffix) = envelopes[round % 2]
            var stream = "data: " + prefix + #""""# + suffix + "\n\n"
            for d in deltas {
                // Raw where JSON allows it (a DEL byte stays raw), else as the encoder writes it.
                let raw = !d.unicodeScalars.contains { $0 == "\"" || $0 == "\\" || $0.value < 0x20 } && (round < 2 || rng.next() % 2 == 0)
                stream += "data: " + prefix + (raw ? "\"" + d + "\"" : JSONValue.string(d).jsonText) + suffix + "\n\n"
            }
            stream += #"data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"# + "\n\n" + "data: [DONE]\n\n"
            let input = Array(stream.utf8)
            for (mode, field) in [(ThinkMode.split, "reasoning_content"), (.strip, "reasoning_content"), (.split, "reasoning")] {
                func run(direct: Bool) -> [UInt8] {
                    let t = ChatStreamTransform(settings: settings(mode, field: field))
                    var out: [UInt8] = []
                    _ = input.withUnsafeBytes { direct ? t.feed($0, into: &out) : t.feedValidating($0, into: &out) }
                    t.finish(upstreamComplete: true, reason: "", into: &out)
                    return out
                }
                #expect(run(direct: true) == run(direct: false), "\(mode) \(text.debugDescription)")
            }
        }
    }

    @Test("property: generated streams — split invariance, off identity, reasoning + content = text minus tags")
    func generatedStreams() {
        var rng = SplitMix(seed: 7)
        let atoms = ["<think>", "</think>", "<", "</th", "ink>", " ", "\n", "a", "é", "🤔", "x"]
        for _ in 0..<300 {
            let (text, deltas) = randomDeltas(atoms, upTo: 12, &rng)
            var stream = ""
            for d in deltas {
                stream += "data: " + JSONValue.object([("choices", .array([.object([("index", .int(0)), ("delta", .object([("content", .string(d))])), ("finish_reason", .null)])]))]).jsonText + "\n\n"
            }
            stream += #"data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"# + "\n\n" + "data: [DONE]\n\n"
            let input = Array(stream.utf8)
            let whole = transform([input], settings(.split))
            var pieces: [[UInt8]] = []
            var i = 0
            while i < input.count { let n = 1 + Int(rng.next() % 40); pieces.append(Array(input[i..<min(input.count, i + n)])); i += n }
            #expect(transform(pieces, settings(.split)) == whole, "\(text.debugDescription)")
            #expect(transform(pieces, settings(.off)) == input)
            let acc = accumulate(whole)[0] ?? ("", "")
            let expected = referenceSplit(text, tags: ["think"], assumeOpen: false)
            #expect(acc.reasoning == expected.0 && acc.content == expected.1, "\(text.debugDescription)")
        }
    }
}
