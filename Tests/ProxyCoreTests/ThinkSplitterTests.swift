import ProxyCore
import Testing

/// Feeds `pieces` and finishes; returns (reasoning, content).
func split(_ pieces: [[UInt8]], tags: [String] = ["think"], assumeOpen: Bool = false) -> (String, String) {
    var s = ThinkSplitter(tags: tags, assumeOpen: assumeOpen)
    var out = ThinkSplitter.Output()
    for p in pieces { s.feed(p, into: &out) }
    s.finish(into: &out)
    return (String(decoding: out.reasoning, as: UTF8.self), String(decoding: out.content, as: UTF8.self))
}

/// The `<think>` splitting rules written the plain way, over a whole text: the oracle for the
/// properties.
func referenceSplit(_ text: String, tags: [String], assumeOpen: Bool) -> (String, String) {
    let b = Array(text.utf8)
    func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }
    func dropSpace(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> { s.drop(while: isSpace) }
    func find(_ hay: ArraySlice<UInt8>, _ needles: [[UInt8]]) -> (Int, Int)? {
        var i = hay.startIndex
        while i < hay.endIndex {
            for n in needles where hay[i...].starts(with: n) { return (i, n.count) }
            i += 1
        }
        return nil
    }
    func s(_ bytes: ArraySlice<UInt8>, _: UTF8.Type) -> String { String(decoding: bytes, as: UTF8.self) }
    var t = dropSpace(b[...])
    var closers = tags.map { Array("</\($0)>".utf8) }
    var opened = assumeOpen
    for tag in tags where t.starts(with: Array("<\(tag)>".utf8)) {
        t = dropSpace(t.dropFirst(tag.utf8.count + 2))
        if !assumeOpen { closers = [Array("</\(tag)>".utf8)] }
        opened = true
        break
    }
    guard opened else { return ("", text) }
    guard let (at, len) = find(t, closers) else { return (s(t, UTF8.self), "") }
    return (s(t[..<at], UTF8.self), s(dropSpace(t[(at + len)...]), UTF8.self))
}

@Suite("Think splitter")
struct ThinkSplitterTests {
    static let cases: [(String, String, [String], Bool, String, String)] = [
        ("wholeReasoningThenAnswer", "<think>Let me see.</think>The answer is 4.", ["think"], false, "Let me see.", "The answer is 4."),
        ("reasoningOnly", "<think>only thoughts</think>", ["think"], false, "only thoughts", ""),
        ("thinkNoEnd", "<think>still thinking", ["think"], false, "still thinking", ""),
        ("partialClosingTagAtEnd", "<think>abc</thi", ["think"], false, "abc</thi", ""),
        ("endTagOnlyAssumeOpen", "reasoning here</think>answer", ["think"], true, "reasoning here", "answer"),
        ("assumeOpenNoTagAtAll", "all of it is reasoning", ["think"], true, "all of it is reasoning", ""),
        ("assumeOpenExplicitOpeningConsumed", "<think>\nr</think>\n\na", ["think"], true, "r", "a"),
        ("emptyBlock", "<think>\n</think>answer", ["think"], false, "", "answer"),
        ("shortestReasoning", "<think>a</think>b", ["think"], false, "a", "b"),
        ("newlineBeforeTag", "\n\n  <think>\nhmm\n</think>\n\nHi", ["think"], false, "hmm\n", "Hi"),
        ("whitespaceBeforeClosingStays", "<think>abc \n\t</think>x", ["think"], false, "abc \n\t", "x"),
        ("falseTagPrefix", "<thinking is fun", ["think"], false, "", "<thinking is fun"),
        ("loneLessThanAtEnd", "<", ["think"], false, "", "<"),
        ("secondThinkLaterStaysContent", "<think>a</think>Use `<think>x</think>` in code", ["think"], false, "a", "Use `<think>x</think>` in code"),
        ("noTag", "Just an answer.", ["think"], false, "", "Just an answer."),
        ("answerWithLeadingWhitespaceKept", "  \nHello", ["think"], false, "", "  \nHello"),
        ("tagNotAtStart", "Hi <think>no</think>", ["think"], false, "", "Hi <think>no</think>"),
        ("thinkingTag", "<thinking>deep</thinking>done", ["think", "thinking"], false, "deep", "done"),
        ("closerMustMatchOpener", "<think>a</thinking>b", ["think", "thinking"], false, "a</thinking>b", ""),
        ("multiByteCharacters", "<think>héllo 🤔</think>wörld ✓", ["think"], false, "héllo 🤔", "wörld ✓"),
        ("angleBracketsInsideReasoning", "<think>if a < b and c > d</think>ok", ["think"], false, "if a < b and c > d", "ok"),
        ("onlyWhitespace", " \n", ["think"], false, "", " \n"),
        ("empty", "", ["think"], false, "", ""),
    ]

    @Test("named cases, whole and byte by byte and at every split point", arguments: cases)
    func named(name: String, text: String, tags: [String], assumeOpen: Bool, reasoning: String, content: String) {
        let bytes = Array(text.utf8)
        let whole = split([bytes], tags: tags, assumeOpen: assumeOpen)
        #expect(whole.0 == reasoning, "\(name) reasoning")
        #expect(whole.1 == content, "\(name) content")
        #expect(split(bytes.map { [$0] }, tags: tags, assumeOpen: assumeOpen) == whole, "\(name) byte by byte")
        for cut in 0...bytes.count {
            #expect(split([Array(bytes[..<cut]), Array(bytes[cut...])], tags: tags, assumeOpen: assumeOpen) == whole, "\(name) split at \(cut)")
        }
        #expect(referenceSplit(text, tags: tags, assumeOpen: assumeOpen) == whole, "\(name) agrees with the reference")
    }

    @Test("only a possible partial tag is held back")
    func holdsOnlyPartialTags() {
        var s = ThinkSplitter(tags: ["think"], assumeOpen: false)
        var out = ThinkSplitter.Output()
        s.feed(Array("<think>abc</th".utf8), into: &out)
        #expect(String(decoding: out.reasoning, as: UTF8.self) == "abc")
        out = ThinkSplitter.Output()
        s.feed(Array("x more".utf8), into: &out)
        #expect(String(decoding: out.reasoning, as: UTF8.self) == "</thx more")
        var a = ThinkSplitter(tags: ["think"], assumeOpen: false)
        var o2 = ThinkSplitter.Output()
        a.feed(Array("Hel".utf8), into: &o2)
        #expect(String(decoding: o2.content, as: UTF8.self) == "Hel")
    }

    @Test("property: random texts cut at random points agree with the whole text and the reference")
    func randomTexts() {
        var rng = SplitMix(seed: 42)
        let atoms = ["<think>", "</think>", "<thinking>", "</thinking>", "<", "</", "<th", "think", ">", " ", "\n", "\t", "a", "b", "é", "🤔", "x</thi"]
        for round in 0..<3000 {
            var text = ""
            for _ in 0..<Int(rng.next() % 10) { text += atoms[Int(rng.next() % UInt64(atoms.count))] }
            let tags = round % 3 == 0 ? ["think", "thinking"] : ["think"]
            let assumeOpen = round % 4 == 0
            let bytes = Array(text.utf8)
            var pieces: [[UInt8]] = []
            var i = 0
            while i < bytes.count {
                let n = 1 + Int(rng.next() % 5)
                pieces.append(Array(bytes[i..<min(bytes.count, i + n)]))
                i += n
            }
            let cut = split(pieces, tags: tags, assumeOpen: assumeOpen)
            #expect(cut == split([bytes], tags: tags, assumeOpen: assumeOpen), "\(text.debugDescription)")
            #expect(cut == referenceSplit(text, tags: tags, assumeOpen: assumeOpen), "\(text.debugDescription) tags \(tags) open \(assumeOpen)")
        }
    }
}
