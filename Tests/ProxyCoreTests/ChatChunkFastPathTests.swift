@testable import ProxyCore
import Testing

// Every fast path of the chat-chunk rewriter held to the validating path it stands for, on
// generated chunks and streams: ordinary ones, and hostile ones (escapes, `<`, partial tags,
// unicode, whitespace, unknown and duplicate keys, several choices, no delta, content that is not
// a string, invalid and cut-off JSON). A fast path may decline; when it answers, its answer must
// be the validating path's, byte for byte. Each property also counts how often the fast path
// answered, so that a fast path that stopped answering fails the test instead of passing it.

// MARK: Generators

/// Deterministic random choices, over `SplitMix`.
struct Dice {
    var rng: SplitMix
    init(seed: UInt64) { rng = SplitMix(seed: seed) }
    mutating func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    mutating func percent(_ p: Int) -> Bool { below(100) < p }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    mutating func shuffled<T>(_ items: [T]) -> [T] {
        var a = items
        var i = a.count
        while i > 1 {
            let j = below(i)
            i -= 1
            a.swapAt(i, j)
        }
        return a
    }
}

/// Pieces of text as they stand between a JSON string's quotes.
enum ChunkText {
    static let plain = ["a", "word", " ", "  ", "é", "🤔", "<think>", "</think>", "<", ">", "</th", "ink>", "<thi",
                        "think", "<reasoning>", "</reasoning>", "\u{7F}", "x y", "\u{2028}"]
    static let escapes = [#"\n"#, #"\t"#, #"\""#, #"\\"#, #"\/"#, #"\u003c"#, #"\u003C"#, #"\u003e"#, #"\u0074"#,
                          #"\u00e9"#, #"\ud83e\udd14"#, #"\r"#, #"\b"#, #"\f"#, #"\u0000"#]
    /// Each makes the string invalid: a bad escape, a raw control byte, a lone backslash.
    static let broken = [#"\q"#, #"\u12"#, #"\u12G4"#, "\u{01}", "\n", "\t", #"\"#, #"\x41"#]
}

/// Writes `s` as a JSON string token in one of several styles an upstream might use: the plain
/// encoding, or with `<` and `>`, non-ASCII, the letter t or `/` escaped.
func jsonString(_ s: String, style: Int) -> String {
    func hex4(_ v: UInt32) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(v >> 12 & 0xF)], digits[Int(v >> 8 & 0xF)], digits[Int(v >> 4 & 0xF)], digits[Int(v & 0xF)]])
    }
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += #"\""#
        case "\\": out += #"\\"#
        case "\n": out += #"\n"#
        case "\t": out += #"\t"#
        default:
            if u.value < 0x20 {
                out += "\\u" + hex4(u.value)
            } else if style == 1 && (u == "<" || u == ">") {
                out += "\\u" + hex4(u.value)
            } else if style == 2 && u.value > 0x7F {
                for unit in String(u).utf16 { out += "\\u" + hex4(UInt32(unit)) }
            } else if style == 3 && u == "t" {
                out += #"\u0074"#
            } else if style == 4 && u == "/" {
                out += #"\/"#
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}

extension Dice {
    mutating func space() -> String { percent(75) ? "" : pick([" ", "\n", "\t", "\r\n", "  ", " \n "]) }

    /// A JSON string token, quotes included; `hostile` adds escapes and, rarely, a flaw.
    mutating func stringToken(hostile: Bool = true) -> String {
        var body = ""
        for _ in 0..<below(6) {
            let r = below(100)
            if !hostile || r < 62 { body += pick(ChunkText.plain) } else if r < 96 { body += pick(ChunkText.escapes) } else { body += pick(ChunkText.broken) }
        }
        return "\"" + body + "\""
    }

    /// A member name, now and then written with an escape (the same text; `scan` reads such a
    /// name as no name it knows).
    mutating func name(_ key: String) -> String {
        if percent(3), let first = key.unicodeScalars.first {
            return "\"\\u00" + String(first.value, radix: 16) + String(key.unicodeScalars.dropFirst()) + "\""
        }
        return "\"" + key + "\""
    }

    mutating func member(_ key: String, _ value: String) -> String { name(key) + space() + ":" + space() + value }
    mutating func object(_ members: [String]) -> String {
        members.isEmpty ? "{" + space() + "}" : "{" + space() + members.joined(separator: space() + "," + space()) + space() + "}"
    }
    mutating func array(_ items: [String]) -> String {
        items.isEmpty ? "[" + space() + "]" : "[" + space() + items.joined(separator: space() + "," + space()) + space() + "]"
    }
    mutating func scalar() -> String {
        pick(["null", "true", "false", "0", "-1", "12", "1.5", "2e3", "-0", "0.0e-1", "\"\"", "\"x\"", "123456789012345678901"])
    }

    mutating func anyValue(depth: Int = 0) -> String {
        switch depth > 2 ? 0 : below(6) {
        case 0, 1: return scalar()
        case 2: return stringToken()
        case 3: return array((0..<below(3)).map { _ in anyValue(depth: depth + 1) })
        default:
            let keys = ["content", "index", "a", "delta", "finish_reason", "choices", "error", "reasoning"]
            return object((0..<below(3)).map { _ in member(pick(keys), anyValue(depth: depth + 1)) })
        }
    }

    mutating func contentValue() -> String {
        let r = below(100)
        if r < 78 { return stringToken() }
        if r < 86 { return "null" }
        if r < 92 { return array([object([member("type", "\"text\""), member("text", stringToken())])]) }
        return pick(["1", "true", "{}", "[]", "\"\""])
    }

    mutating func deltaValue() -> String {
        if percent(8) { return pick(["null", "\"x\"", "[]", "5"]) }
        var members: [String] = []
        if percent(20) { members.append(member("role", "\"assistant\"")) }
        if percent(85) { members.append(member("content", contentValue())) }
        if percent(8) { members.append(member(pick(["reasoning_content", "reasoning"]), pick(["null", "\"\"", "\"own\"", "{}"]))) }
        if percent(6) {
            members.append(member("tool_calls", array([object([member("index", pick(["0", "1", "7"])), member("id", "\"call\""),
                                                            member("function", object([member("arguments", "\"{}\"")]))])])))
        }
        if percent(5) { members.append(member("content", contentValue())) }  // a duplicate
        if percent(5) { members.append(member(pick(["x", "refusal", "audio"]), anyValue())) }
        return object(percent(80) ? members : shuffled(members))
    }

    mutating func indexValue(position: Int) -> String? {
        let r = below(100)
        if r < 55 { return String(position) }
        if r < 70 { return String(below(4)) }
        if r < 82 { return nil }
        return pick(["-1", "1.0", "1e0", "\"1\"", "null", "01", "99999999999999999999", "-0", "{}", "[0]"])
    }

    mutating func choiceValue(position: Int) -> String {
        if percent(6) { return pick(["null", "0", "\"c\"", "[]"]) }
        var members: [String] = []
        if let index = indexValue(position: position) { members.append(member("index", index)) }
        if percent(4) { members.append(member("index", String(below(3)))) }  // a duplicate
        if percent(88) { members.append(member(percent(4) ? "message" : "delta", deltaValue())) }
        if percent(4) { members.append(member("delta", deltaValue())) }  // a duplicate
        if percent(40) { members.append(member("logprobs", pick(["null", #"{"content":null}"#, #"{"content":[{"token":"a"}]}"#]))) }
        if percent(70) { members.append(member("finish_reason", pick(["null", "null", "null", "\"stop\"", "\"length\"", "false", "{}"]))) }
        if percent(4) { members.append(member("content", stringToken())) }  // in the wrong place
        return object(percent(75) ? members : shuffled(members))
    }

    /// One stream chunk's JSON text: mostly a well-formed chunk, sometimes an odd one.
    mutating func chunkText() -> String {
        var members: [String] = []
        if percent(80) { members.append(member("id", "\"chatcmpl-\(below(3))\"")) }
        if percent(60) { members.append(member("object", "\"chat.completion.chunk\"")) }
        if percent(70) { members.append(member("created", pick(["1737000000", "7", "\"7\"", "null"]))) }
        if percent(70) { members.append(member("model", pick(["\"m\"", "\"deepseek-r1\"", "{}"]))) }
        if percent(92) {
            if percent(8) {
                members.append(member("choices", pick(["null", "{}", "\"x\"", "3"])))
            } else {
                let count = pick([0, 1, 1, 1, 1, 2, 3])
                members.append(member("choices", array((0..<count).map { choiceValue(position: $0) })))
            }
        }
        if percent(3) { members.append(member("choices", array([choiceValue(position: 0)]))) }  // a duplicate
        if percent(25) { members.append(member("usage", pick(["null", #"{"prompt_tokens":1,"completion_tokens":2}"#]))) }
        if percent(3) { members.append(member("error", pick(["null", #"{"message":"m"}"#]))) }
        if percent(4) { members.append(member("x", object([member("content", stringToken()), member("index", "0")]))) }
        if percent(1) { members.append(member("deep", String(repeating: "[", count: 70) + String(repeating: "]", count: 70))) }
        if percent(6) { members.append(member(pick(["system_fingerprint", "obfuscation", "y"]), anyValue())) }
        return space() + object(percent(85) ? members : shuffled(members)) + space()
    }

    /// `text` as bytes, now and then damaged: cut short, a byte dropped, added or changed, or
    /// something after the object.
    mutating func damaged(_ text: String) -> [UInt8] {
        var b = Array(text.utf8)
        guard percent(15), !b.isEmpty else { return b }
        switch below(5) {
        case 0: b.removeLast(1 + below(b.count))
        case 1: b.remove(at: below(b.count))
        case 2: b.insert(pick(Array("{}[]\",:\\ 0an".utf8) + [0x01, 0x0A]), at: below(b.count + 1))
        case 3: b[below(b.count)] = pick(Array("{}[]\",:\\ x".utf8))
        default: b += Array(pick(["x", "}", "{}", "\u{0}", ",", " \n"]).utf8)
        }
        return b
    }

    mutating func chunk() -> [UInt8] { damaged(chunkText()) }

    /// Settings for a rewriter.
    mutating func thinkSettings() -> ThinkSettings {
        settings(pick([.split, .split, .strip]), field: pick(["reasoning_content", "reasoning"]),
                 tags: pick([["think"], ["think"], ["think", "reasoning"]]), assumeOpen: percent(20)).think
    }

    /// The data of a generated stream's events: one envelope repeated with the text cut into
    /// deltas, for one or more choices in turn, with now and then an odd chunk among them, then
    /// finish and usage chunks. `plainer`: texts with fewer tags and `<`, that open a block.
    mutating func streamEvents(plainer: Bool = false) -> [[UInt8]] {
        let indexes = pick([[0], [0], [0], [0], [0, 1], [1], [2, 0]])
        let envelopes: [(Int, String) -> String] = [
            { #"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":\#($0),"delta":{"content":\#($1)},"logprobs":null,"finish_reason":null}]}"# },
            { #"{"choices":[{"delta":{"content":\#($1)},"index":\#($0)}],"id":"x"}"# },
            { #"{"id": "c", "choices": [ {"index": \#($0), "delta": {"role": "assistant", "content": \#($1)}, "finish_reason": null} ] }"# },
        ]
        let envelope = pick(envelopes)
        let odd = [#""error":{"message":"m"},"#, #""x":{"content":"<think>y"},"#, #""usage":null,"#, #""choices":[],"#,
                   #""choices":{"index":0},"#, #""model":"other","#, #""deep":[[[[1]]]],"#, #""\u0065rror":1,"#]
        func event(_ index: Int, _ content: String) -> [UInt8] {
            var text = envelope(index, content)
            // Now and then the chunk carries one odd member more, ahead of the others.
            if percent(4) { text = "{" + pick(odd) + String(text.dropFirst()) }
            return Array(text.utf8)
        }
        let atoms = ["<think>", "</think>", "<reasoning>", "</reasoning>", "<", "</th", "ink>", " ", "\n", "a", "word", "é",
                     "🤔", "\"", "\\", "\u{7F}", "\t", "x", "<thi", "nk>", "/", "t"]
        let plainAtoms = ["a", "word", " ", "é", "🤔", "x", "t", "/", "a b", "</think>"]
        var pending: [(Int, [String])] = indexes.map { i in
            var deltas = randomDeltas(plainer ? plainAtoms : atoms, upTo: plainer ? 30 : 16, &rng).1
            if plainer || percent(50) { deltas.insert(pick(["<think>", " <think>\n", "<reasoning>", "\n"]), at: 0) }
            return (i, deltas)
        }.filter { !$0.1.isEmpty }
        var events: [[UInt8]] = []
        if percent(50) { for i in indexes { events.append(event(i, "\"\"")) } }
        let style = below(5)
        while !pending.isEmpty {
            let k = below(pending.count)
            let d = pending[k].1.removeFirst()
            events.append(event(pending[k].0, percent(3) ? "null" : jsonString(d, style: percent(80) ? style : below(5))))
            if pending[k].1.isEmpty { pending.remove(at: k) }
            if percent(7) { events.append(chunk()) }
            if percent(2) {
                events.append(Array(#"{"choices":[{"index":\#(pick(indexes)),"delta":{"reasoning_content":"own","content":"c"}}]}"#.utf8))
            }
        }
        for i in indexes where percent(80) {
            events.append(Array(#"{"id":"chatcmpl-1","choices":[{"index":\#(i),"delta":{},"finish_reason":"stop"}]}"#.utf8))
        }
        if percent(50) { events.append(Array(#"{"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":9}}"#.utf8)) }
        return events
    }

    /// A whole (non-streamed) chat completion.
    mutating func wholeText() -> [UInt8] {
        let atoms = ["<think>", "</think>", "<reasoning>", "<", ">", " ", "\n", "a", "word", "é", "think", "<th", "t", "/"]
        var choices: [String] = []
        for position in 0..<pick([1, 1, 1, 2]) {
            var text = ""
            for _ in 0..<below(8) { text += pick(atoms) }
            let content = percent(85) ? jsonString(text, style: below(5)) : contentValue()
            var message = [member("role", "\"assistant\""), member("content", content)]
            if percent(8) { message.append(member("reasoning_content", "\"own\"")) }
            if percent(5) { message = [] }
            choices.append(object([member("index", String(position)), member("message", object(message)),
                                   member("finish_reason", "\"stop\"")]))
        }
        if percent(5) { choices.append(pick(["null", "{}"])) }
        return damaged(object([member("id", "\"chatcmpl-w\""), member("object", "\"chat.completion\""),
                               member("choices", array(choices)), member("usage", #"{"prompt_tokens":1}"#)]))
    }
}

/// A rewriter with some stream history, fed through the validating path alone, and the rest of
/// that stream.
func primedRewriter(_ d: inout Dice, plainer: Bool = false) -> (ChatChunkRewriter, [[UInt8]]) {
    var r = ChatChunkRewriter(think: d.thinkSettings())
    let events = d.streamEvents(plainer: plainer)
    let cut = d.below(events.count + 1)
    var sink: [UInt8] = []
    for e in events[..<cut] { _ = e.withUnsafeBytes { r.rewriteValidating(data: $0, appendingEventTo: &sink) } }
    return (r, Array(events[cut...]))
}

/// What `rewriter` writes for `events` through the validating path, then its flush.
func validatingOutput(_ rewriter: inout ChatChunkRewriter, _ events: [[UInt8]]) -> [UInt8] {
    var out: [UInt8] = []
    for e in events {
        // An unchanged chunk leaves a mark, so that outputs line up chunk by chunk.
        if !e.withUnsafeBytes({ rewriter.rewriteValidating(data: $0, appendingEventTo: &out) }) { out += Array("=\n".utf8) }
    }
    if let f = rewriter.flushChunk() { f.encode(into: &out) }
    return out
}

func shown(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self).debugDescription }

@Suite("Chat chunk fast paths: each gives the validating path's result or declines")
struct ChatChunkFastPathTests {
    @Test("quickScan: where it answers, scan accepts the chunk and gives the same layout; it never accepts what scan rejects")
    func quickScanAgreesWithScan() {
        var d = Dice(seed: 0x5EED_0001)
        var answered = 0, rejected = 0
        for _ in 0..<12000 {
            let bytes = d.chunk()
            var quick = ChatChunkLayout()
            var full = ChatChunkLayout()
            let q = bytes.withUnsafeBytes { ChatChunkLayout.quickScan($0, into: &quick) }
            let s = bytes.withUnsafeBytes { ChatChunkLayout.scan($0, whole: false, into: &full) }
            if q {
                answered += 1
                #expect(s && quick == full, "\(shown(bytes))")
            }
            if !s {
                rejected += 1
                #expect(!q, "quickScan accepted what scan rejects: \(shown(bytes))")
            }
        }
        #expect(answered > 8000)
        #expect(rejected > 1000)
    }

    @Test("quickScan declines a chunk nested deeper than it follows, which scan still reads")
    func quickScanDeclinesDeepNesting() {
        let deep = Array((#"{"choices":[],"x":"# + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "}").utf8)
        var layout = ChatChunkLayout()
        #expect(!deep.withUnsafeBytes { ChatChunkLayout.quickScan($0, into: &layout) })
        #expect(deep.withUnsafeBytes { ChatChunkLayout.scan($0, whole: false, into: &layout) })
        let shallow = Array((#"{"choices":[],"x":"# + String(repeating: "[", count: 60) + String(repeating: "]", count: 60) + "}").utf8)
        #expect(shallow.withUnsafeBytes { ChatChunkLayout.quickScan($0, into: &layout) })
    }

    @Test("the envelope match: where it answers, scan gives the same layout; with a valid string in the envelope it always answers")
    func envelopeMatchAgreesWithScan() {
        var d = Dice(seed: 0x5EED_0002)
        var hits = 0
        var rounds = 0
        while rounds < 600 {
            // A chunk whose layout has one choice with string content, cut around that string.
            let first = d.chunk()
            var layout = ChatChunkLayout()
            guard first.withUnsafeBytes({ ChatChunkLayout.scan($0, whole: false, into: &layout) }) else { continue }
            var envelope = ChunkEnvelope()
            guard first.withUnsafeBytes({ envelope.remember($0, layout) }), let content = layout.choices[0].content else { continue }
            rounds += 1
            let prefix = Array(first[..<content.lowerBound]), suffix = Array(first[content.upperBound...])
            for k in 0..<12 {
                // The same envelope around another string token (valid or not), or another chunk.
                let token = Array(d.stringToken().utf8)
                let second = k < 10 ? prefix + token + suffix : d.chunk()
                var matched = ChatChunkLayout()
                let hit = second.withUnsafeBytes { envelope.match($0, into: &matched) }
                var expected = ChatChunkLayout()
                let scanned = second.withUnsafeBytes { ChatChunkLayout.scan($0, whole: false, into: &expected) }
                if hit {
                    hits += 1
                    #expect(scanned && matched == expected, "\(shown(second))")
                }
                if k < 10 {
                    // A token that is one valid string: scan reads the chunk, so must the envelope.
                    let valid = token.withUnsafeBytes { t in
                        var s = JSONScanner(bytes: t)
                        return (try? s.skipString()) != nil && s.i == t.count
                    }
                    #expect(hit == valid, "\(shown(second))")
                }
            }
        }
        #expect(hits > 3000)
    }

    @Test("leavesEveryChoiceUnchanged: where it answers, the general path writes nothing and behaves the same afterwards")
    func unchangedShortcutAgreesWithGeneralPath() {
        var d = Dice(seed: 0x5EED_0003)
        var answered = 0
        for _ in 0..<4000 {
            var (fast, rest) = primedRewriter(&d)
            let bytes = d.percent(40) || rest.isEmpty ? d.chunk() : rest[0]
            guard bytes.withUnsafeBytes({ ChatChunkLayout.scan($0, whole: false, into: &fast.layout) }) else { continue }
            guard fast.leavesEveryChoiceUnchanged() else { continue }
            answered += 1
            var general = fast
            var out: [UInt8] = []
            let changed = bytes.withUnsafeBytes { general.writeGeneral($0, appendingEventTo: &out) }
            #expect(!changed && out.isEmpty, "\(shown(bytes))")
            let tail = Array(rest.dropFirst())
            #expect(validatingOutput(&fast, tail) == validatingOutput(&general, tail), "\(shown(bytes))")
        }
        #expect(answered > 500)
    }

    @Test("rewritePlainReasoning: where it answers, it writes what the general path writes and leaves the same state")
    func plainReasoningAgreesWithGeneralPath() {
        var d = Dice(seed: 0x5EED_0004)
        var answered = 0
        for _ in 0..<5000 {
            var (fast, rest) = primedRewriter(&d, plainer: d.percent(60))
            // Mostly the chunk the stream sends next, whose text may be plain reasoning.
            let bytes = d.percent(20) || rest.isEmpty ? d.chunk() : rest[0]
            guard bytes.withUnsafeBytes({ ChatChunkLayout.scan($0, whole: false, into: &fast.layout) }) else { continue }
            var general = fast
            var fastOut: [UInt8] = []
            guard bytes.withUnsafeBytes({ fast.rewritePlainReasoning($0, into: &fastOut) }) else {
                #expect(fastOut.isEmpty)
                continue
            }
            answered += 1
            var generalOut: [UInt8] = []
            _ = bytes.withUnsafeBytes { general.writeGeneral($0, appendingEventTo: &generalOut) }
            #expect(fastOut == generalOut, "\(shown(bytes))")
            let tail = Array(rest.dropFirst())
            #expect(validatingOutput(&fast, tail) == validatingOutput(&general, tail), "\(shown(bytes))")
        }
        #expect(answered > 400)
    }

    @Test("the whole-answer tag check: where it says no tag can be there, the validating path changes nothing")
    func wholeAnswerCheckAgreesWithValidatingPath() {
        var d = Dice(seed: 0x5EED_0005)
        var declined = 0, answered = 0
        for _ in 0..<6000 {
            var think = d.thinkSettings()
            think.assumeOpen = false
            let body = d.wholeText()
            let validating = body.withUnsafeBytes { ChatChunkRewriter.rewriteWholeValidating($0, think: think) }
            if body.withUnsafeBytes({ ChatChunkRewriter.mayHoldOpeningTag($0, tags: think.tags) }) {
                declined += 1
            } else {
                answered += 1
                #expect(validating == nil, "\(think.tags) \(shown(body))")
            }
            #expect(body.withUnsafeBytes { ChatChunkRewriter.rewriteWhole($0, think: think) } == validating, "\(shown(body))")
        }
        #expect(answered > 1000 && declined > 1000)
    }

    @Test("a whole stream through the normal entry gives exactly the validating path's bytes, chunk by chunk")
    func streamThroughEntryEqualsValidatingPath() {
        var d = Dice(seed: 0x5EED_0006)
        var fastAnswers = (envelope: 0, quick: 0, unchanged: 0, plain: 0)
        for _ in 0..<2500 {
            let think = d.thinkSettings()
            var fast = ChatChunkRewriter(think: think)
            var validating = ChatChunkRewriter(think: think)
            for e in d.streamEvents() {
                // Which fast paths this chunk takes, seen on a copy.
                var probe = fast
                var sink: [UInt8] = []
                e.withUnsafeBytes { b in
                    if probe.envelopes.0.match(b, into: &probe.layout) || probe.envelopes.1.match(b, into: &probe.layout) {
                        fastAnswers.envelope += 1
                    } else if ChatChunkLayout.quickScan(b, into: &probe.layout) {
                        fastAnswers.quick += 1
                    } else if !ChatChunkLayout.scan(b, whole: false, into: &probe.layout) {
                        return
                    }
                    if probe.leavesEveryChoiceUnchanged() { fastAnswers.unchanged += 1 } else if probe.rewritePlainReasoning(b, into: &sink) { fastAnswers.plain += 1 }
                }
                var a: [UInt8] = [], b: [UInt8] = []
                let changedA = e.withUnsafeBytes { fast.rewrite(data: $0, appendingEventTo: &a) }
                let changedB = e.withUnsafeBytes { validating.rewriteValidating(data: $0, appendingEventTo: &b) }
                #expect(changedA == changedB && a == b, "\(shown(e))")
            }
            #expect(fast.flushChunk()?.encoded() == validating.flushChunk()?.encoded())
        }
        #expect(fastAnswers.envelope > 5000 && fastAnswers.quick > 5000 && fastAnswers.unchanged > 2000 && fastAnswers.plain > 2000,
                "\(fastAnswers)")
    }

    @Test("a whole SSE stream, fed in random pieces, leaves the transform with the same bytes as through the validating path")
    func transformEqualsValidatingTransform() {
        var d = Dice(seed: 0x5EED_0007)
        for _ in 0..<600 {
            let think = d.thinkSettings()
            var text: [UInt8] = []
            for e in d.streamEvents() {
                if d.percent(5), e.count > 2 {
                    // Data in two lines, joined by the parser with a line feed.
                    let cut = 1 + d.below(e.count - 1)
                    text += Array("data: ".utf8) + e[..<cut] + Array("\ndata: ".utf8) + e[cut...] + [0x0A, 0x0A]
                } else {
                    text += Array("data: ".utf8) + e + Array((d.percent(10) ? "\r\n\r\n" : "\n\n").utf8)
                }
            }
            if d.percent(80) { text += Array("data: [DONE]\n\n".utf8) }
            var cuts: [Int] = [0]
            while cuts.last! < text.count { cuts.append(min(text.count, cuts.last! + 1 + d.below(300))) }
            func run(validating: Bool) -> [UInt8] {
                let t = ChatStreamTransform(settings: ChatAnswerSettings(think: think))
                var out: [UInt8] = []
                for k in 0..<(cuts.count - 1) {
                    _ = text[cuts[k]..<cuts[k + 1]].withUnsafeBytes { validating ? t.feedValidating($0, into: &out) : t.feed($0, into: &out) }
                }
                t.finish(upstreamComplete: true, reason: "end", into: &out)
                return out
            }
            #expect(run(validating: false) == run(validating: true), "\(shown(text))")
        }
    }

    // MARK: The readers the fast paths share

    @Test("stringEnd reads a string exactly as skipString does")
    func stringEndAgreesWithSkipString() {
        var d = Dice(seed: 0x5EED_0008)
        for _ in 0..<20000 {
            var text = Array(d.stringToken().utf8)
            if d.percent(20) { text.removeLast(d.below(text.count)) }
            if d.percent(30) { text += Array(d.pick([",", "\"", "}", "        more text"]).utf8) }
            text.withUnsafeBytes { b in
                var s = JSONScanner(bytes: b)
                let reference: (Int, Bool)? = (try? s.skipString()).map { (s.i, $0) }
                let fast = JSONScanner.stringEnd(b, from: 0)
                #expect(fast?.end == reference?.0 && fast?.escaped == reference?.1, "\(shown(text))")
            }
        }
    }

    @Test("the eight-at-a-time checks give the byte-by-byte answers")
    func wordChecksAgreeWithByteChecks() {
        var d = Dice(seed: 0x5EED_0009)
        let bytes: [UInt8] = Array("ab <>\"\\\u{7F}é".utf8) + [0x00, 0x1F, 0x20, 0x3B, 0x3D, 0x7E, 0x80, 0xFF, 0x3C, 0x7F]
        for _ in 0..<20000 {
            let text = (0..<d.below(40)).map { _ in d.percent(85) ? UInt8(ascii: "a") + UInt8(d.below(26)) : d.pick(bytes) }
            let lo = d.below(text.count + 1), hi = lo + d.below(text.count - lo + 1)
            let plain = text[lo..<hi].allSatisfy { $0 != UInt8(ascii: "<") && $0 >= 0x20 && $0 != 0x7F }
            #expect(text.withUnsafeBytes { ChatChunkRewriter.isPlainText($0, lo..<hi) } == plain, "\(text) \(lo) \(hi)")
            let other = (0..<text.count).map { _ in d.percent(90) ? text[d.below(text.count)] : d.pick(bytes) }
            let literal: [StaticString] = ["content", "choices", "finish_reason", "reasoning_content", "id", "", "aaaaaaaa"]
            for l in literal {
                let expected = other.elementsEqual(UnsafeBufferPointer(start: l.utf8Start, count: l.utf8CodeUnitCount))
                #expect(other.withUnsafeBytes { JSONScanner.text($0, is: l) } == expected)
            }
        }
    }

    @Test("member names are classified as the plain table says")
    func keyClassification() {
        let table: [String: JSONScanner.Key] = [
            "choices": .choices, "error": .error, "id": .id, "created": .created, "model": .model, "index": .index,
            "finish_reason": .finishReason, "delta": .delta, "message": .message, "content": .content,
            "reasoning_content": .reasoningContent, "reasoning": .reasoning,
        ]
        var names = Array(table.keys) + ["", "i", "ix", "Id", "indexes", "dElta", "contents", "chooses", "crEated", "messages",
                                         "reasoning_contenT", "finish_reasons", "mode", "errors", "cont", "object", "usage"]
        var d = Dice(seed: 0x5EED_000A)
        for _ in 0..<3000 {
            var n = Array(d.pick(Array(table.keys)).utf8)
            n[d.below(n.count)] = UInt8(ascii: "a") + UInt8(d.below(26))
            names.append(String(decoding: n, as: UTF8.self))
        }
        for name in names {
            let got = Array(name.utf8).withUnsafeBytes { JSONScanner.key($0) }
            #expect(got == (table[name] ?? .other), "\(name)")
        }
    }

    @Test("the index reader reads every number as Int of its text does")
    func integerAgreesWithIntOfText() {
        var d = Dice(seed: 0x5EED_000B)
        var texts = ["0", "-0", "7", "-7", "123456789012345678", "1234567890123456789", "9223372036854775807",
                     "9223372036854775808", "-9223372036854775808", "1.0", "1e2", "-1.5E-3", "\"1\"", "null", "[1]"]
        for _ in 0..<3000 { texts.append((d.percent(30) ? "-" : "") + String((0..<(1 + d.below(22))).map { _ in Character(String(d.below(10))) })) }
        for t in texts {
            let b = Array(t.utf8)
            #expect(b.withUnsafeBytes { ChatChunkLayout.integer($0, 0..<b.count) } == Int(t), "\(t)")
        }
    }
}

/// Runs SSE text through a transform, through the normal entry or the validating path alone.
func transformed(_ text: String, _ s: ChatAnswerSettings, validating: Bool = false) -> String {
    let t = ChatStreamTransform(settings: s)
    var out: [UInt8] = []
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { validating ? t.feedValidating($0, into: &out) : t.feed($0, into: &out) }
    return String(decoding: out, as: UTF8.self)
}

@Suite("Chat chunk fast paths: cases where a fast path and the validating path once disagreed")
struct ChatChunkFastPathRegressionTests {
    @Test("whole answer: an opening tag written with an escaped letter (<\\u0074hink>) is still split")
    func wholeAnswerTagWithEscapedLetter() throws {
        // Found by the property test: the tag check looked only for `<tag>` as written and for
        // `\u003c`, so it passed this answer through while the validating path splits it.
        let body = Array(#"{"choices":[{"index":0,"message":{"role":"assistant","content":"<\u0074hink>plan</\u0074hink>Answer"},"finish_reason":"stop"}]}"#.utf8)
        let think = settings(.split).think
        let out = try #require(body.withUnsafeBytes { ChatChunkRewriter.rewriteWhole($0, think: think) })
        #expect(String(decoding: out, as: UTF8.self)
                == #"{"choices":[{"index":0,"message":{"role":"assistant","content":"Answer","reasoning_content":"plan"},"finish_reason":"stop"}]}"#)
        #expect(out == body.withUnsafeBytes { ChatChunkRewriter.rewriteWholeValidating($0, think: think) })
        let closing = Array(#"{"choices":[{"index":0,"message":{"content":"<think\u003eplan</think>A"}}]}"#.utf8)
        #expect(closing.withUnsafeBytes { ChatChunkRewriter.mayHoldOpeningTag($0, tags: ["think"]) })
        let plain = Array(#"{"choices":[{"index":0,"message":{"content":"line\nnext \"q\" caf\u00e9 <b>"}}]}"#.utf8)
        #expect(!plain.withUnsafeBytes { ChatChunkRewriter.mayHoldOpeningTag($0, tags: ["think"]) })
    }

    @Test("after every block, a new choice without an index key (or with a fractional one) is still processed")
    func newChoiceWithoutIndexAfterBlocks() {
        // The old early exit for "every choice passes through" read only the `index` keys it
        // found, so a choice known by its position, or by an index that is not an integer, went
        // out with its tags.
        let first = #"data: {"choices":[{"index":0,"delta":{"content":"hello"}}]}"# + "\n\n"
        for second in [#"{"choices":[{"index":0,"delta":{"content":" world"}},{"delta":{"content":"<think>plan</think>answer"}}]}"#,
                       #"{"choices":[{"index":0,"delta":{"content":" world"}},{"index":0.5,"delta":{"content":"<think>plan</think>answer"}}]}"#] {
            let text = first + "data: " + second + "\n\n"
            let out = transformed(text, settings(.split))
            #expect(out == first + "data: " + second.replacingFirst(#""<think>plan</think>answer""#, with: #""answer","reasoning_content":"plan""#) + "\n\n")
            #expect(out == transformed(text, settings(.split), validating: true))
        }
    }

    @Test("a content key outside the delta is not taken for the delta's content")
    func contentOutsideDelta() {
        // The old quick scan took any `content` key for the delta's.
        let text = #"data: {"id":"c","choices":[{"index":0,"delta":{"content":"<think>"}}]}"# + "\n\n"
            + #"data: {"id":"c","choices":[{"index":0,"delta":{}}],"x":{"content":"secret"}}"# + "\n\n"
            + #"data: {"id":"c","choices":[{"index":0,"delta":{"content":"r</think>a"}}]}"# + "\n\n"
        let out = transformed(text, settings(.split))
        #expect(out == #"data: {"id":"c","choices":[{"index":0,"delta":{"content":""}}]}"# + "\n\n"
                + #"data: {"id":"c","choices":[{"index":0,"delta":{}}],"x":{"content":"secret"}}"# + "\n\n"
                + #"data: {"id":"c","choices":[{"index":0,"delta":{"content":"a","reasoning_content":"r"}}]}"# + "\n\n")
        #expect(out == transformed(text, settings(.split), validating: true))
    }

    @Test("a chunk that is not valid JSON goes out as it came and feeds nothing to the splitter")
    func invalidChunkInsideBlock() {
        // The old quick scan and envelope match did not validate: a cut-off chunk, or one with a
        // raw control byte in its text, was rewritten and its text taken as reasoning.
        let head = #"data: {"id":"c","choices":[{"index":0,"delta":{"content":"<think>"}}]}"# + "\n\n"
            + #"data: {"id":"c","choices":[{"index":0,"delta":{"content":"one"}}]}"# + "\n\n"
        let tail = #"data: {"id":"c","choices":[{"index":0,"delta":{"content":"</think>A"}}]}"# + "\n\n"
        for bad in [#"{"id":"c","choices":[{"index":0,"delta":{"content":"cut"}}]"#,
                    "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tab\there\"}}]}",
                    #"{"id":"c","choices":[{"index":0,"delta":{"content":"bad \q escape"}}]}"#] {
            let text = head + "data: " + bad + "\n\n" + tail
            let out = transformed(text, settings(.split))
            #expect(out == #"data: {"id":"c","choices":[{"index":0,"delta":{"content":""}}]}"# + "\n\n"
                    + #"data: {"id":"c","choices":[{"index":0,"delta":{"content":"","reasoning_content":"one"}}]}"# + "\n\n"
                    + "data: " + bad + "\n\n"
                    + #"data: {"id":"c","choices":[{"index":0,"delta":{"content":"A"}}]}"# + "\n\n", "\(bad)")
            #expect(out == transformed(text, settings(.split), validating: true))
        }
    }

    @Test("a chunk with an error member is left as it came even when its text is plain reasoning")
    func errorChunkInsideBlock() {
        let head = #"data: {"choices":[{"index":0,"delta":{"content":"<think>"}}]}"# + "\n\n"
        let error = #"data: {"choices":[{"index":0,"delta":{"content":"plain"}}],"error":{"message":"m"}}"# + "\n\n"
        let out = transformed(head + error, settings(.split))
        #expect(out == #"data: {"choices":[{"index":0,"delta":{"content":""}}]}"# + "\n\n" + error)
        #expect(out == transformed(head + error, settings(.split), validating: true))
    }
}

extension String {
    /// `self` with the first occurrence of `target` replaced.
    func replacingFirst(_ target: String, with replacement: String) -> String {
        let text = Array(utf8), t = Array(target.utf8)
        guard !t.isEmpty, text.count >= t.count,
              let at = (0...(text.count - t.count)).first(where: { text[$0..<($0 + t.count)].elementsEqual(t) }) else { return self }
        return String(decoding: text[..<at], as: UTF8.self) + replacement + String(decoding: text[(at + t.count)...], as: UTF8.self)
    }
}
