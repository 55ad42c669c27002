/// Applies `<think>` processing to chat-completion chunks, keeping a `ThinkSplitter` per choice
/// index. A chunk that needs no change is reported as unchanged so its bytes can be forwarded
/// as they came; everything in a changed chunk other than the delta's text fields is kept.
public struct ChatChunkRewriter: Sendable {
    public let think: ThinkSettings

    struct Choice: Sendable {
        var splitter: ThinkSplitter
        /// The upstream sends its own reasoning field for this choice: leave it alone.
        var leftAlone = false
        var sawText = false
        var finished = false
    }

    /// Per-choice state by choice index: a short list searched in order (one or two entries in
    /// practice), cheaper than hashing the index on every chunk.
    struct ChoiceStates: Sendable {
        var entries: [(index: Int, state: Choice)] = []
        var isEmpty: Bool { entries.isEmpty }

        func position(of index: Int) -> Int? {
            var p = 0
            while p < entries.count {
                if entries[p].index == index { return p }
                p += 1
            }
            return nil
        }

        func contains(_ index: Int) -> Bool { position(of: index) != nil }
    }

    var choices = ChoiceStates()
    /// The most choices one stream gets `<think>` processing for (OpenAI allows `n` up to 128);
    /// an upstream that numbers more cannot grow the state without bound.
    static let maxChoices = 128
    /// Fields copied into a chunk proxyd has to make itself (a final flush).
    /// Kept as the JSON text they came as, and parsed only when a chunk has to be made.
    var idText: [UInt8]?
    var createdText: [UInt8]?
    var modelText: [UInt8]?
    var lastID: JSONValue { Self.parsed(idText) ?? .string("chatcmpl-proxyd") }
    var lastCreated: JSONValue { Self.parsed(createdText) ?? .int(0) }
    var lastModel: JSONValue { Self.parsed(modelText) ?? .string("") }
    static func parsed(_ text: [UInt8]?) -> JSONValue? { text.flatMap { try? JSONValue.parse($0) } }

    /// `,"<field>":`, encoded once.
    let reasoningKey: [UInt8]

    public init(think: ThinkSettings) {
        self.think = think
        var key: [UInt8] = [UInt8(ascii: ",")]
        JSONValue.encodeString(think.field, into: &key)
        key.append(UInt8(ascii: ":"))
        reasoningKey = key
    }

    /// Whether every choice seen so far passes its text through untouched.
    public var allPassingThrough: Bool {
        choices.entries.allSatisfy { $0.state.leftAlone || $0.state.finished || $0.state.splitter.isPassingThrough }
    }

    // MARK: Entries
    //
    // Every chunk takes one route: its layout is read (fast paths `ChunkEnvelope.match`, then
    // `ChatChunkLayout.quickScan`, else the validating `ChatChunkLayout.scan`), then two fast
    // paths that work from the layout (`leavesEveryChoiceUnchanged`, `rewritePlainReasoning`)
    // may answer, else the general path (`plan`) does. Each fast path either gives exactly what
    // the validating path gives or declines, and then the next step runs. `rewriteValidating`
    // is the validating path alone: the reference tests hold every fast path to.

    /// The stream path: when the chunk needs a change, appends `data: <new JSON>\n\n` to `out` and
    /// returns true; the edits are spliced straight into `out`, with no intermediate copy.
    @inline(never)  // inlined into the transform's event closure, the rewriter's state is copied around
    public mutating func rewrite(data: UnsafeRawBufferPointer, appendingEventTo out: inout [UInt8]) -> Bool {
        guard readLayout(data) else { return false }
        if leavesEveryChoiceUnchanged() { return false }
        if rewritePlainReasoning(data, into: &out) { return true }
        return writeGeneral(data, appendingEventTo: &out)
    }

    /// Rewrites one chunk given as JSON text. Returns nil when it needs no change (and its bytes
    /// may go out as they came), else the new JSON text. Changed text fields are spliced into
    /// the original bytes; nothing else is re-encoded.
    public mutating func rewrite(data: UnsafeRawBufferPointer) -> [UInt8]? {
        var event: [UInt8] = []
        guard rewrite(data: data, appendingEventTo: &event) else { return nil }
        return Array(event[6..<(event.count - 2)])  // without `data: ` and the blank line
    }

    /// The validating path alone, for one stream chunk: `scan`, then the general path. What
    /// `rewrite(data:appendingEventTo:)` must match byte for byte, chunk after chunk.
    @inline(never)
    mutating func rewriteValidating(data: UnsafeRawBufferPointer, appendingEventTo out: inout [UInt8]) -> Bool {
        guard ChatChunkLayout.scan(data, whole: false, into: &layout) else { return false }
        return writeGeneral(data, appendingEventTo: &out)
    }

    /// Puts `data`'s layout in `layout`: the fast paths for `scan` first (the envelope matched or
    /// remembered last, then the other one, then `quickScan`), `scan` itself when they all
    /// decline. False when `data` is not a JSON object `scan` accepts (the chunk goes out as it
    /// came).
    mutating func readLayout(_ data: UnsafeRawBufferPointer) -> Bool {
        if recentEnvelope == 0 {
            if envelopes.0.match(data, into: &layout) { return true }
            if envelopes.1.match(data, into: &layout) { recentEnvelope = 1; return true }
        } else {
            if envelopes.1.match(data, into: &layout) { return true }
            if envelopes.0.match(data, into: &layout) { recentEnvelope = 0; return true }
        }
        if ChatChunkLayout.quickScan(data, into: &layout) {
            // Into the envelope used less recently: two choices streamed in turn keep one each.
            if recentEnvelope == 0 {
                if envelopes.1.remember(data, layout) { recentEnvelope = 1 }
            } else {
                if envelopes.0.remember(data, layout) { recentEnvelope = 0 }
            }
            return true
        }
        return ChatChunkLayout.scan(data, whole: false, into: &layout)
    }

    // MARK: Fast paths that work from the layout

    /// Fast path for a chunk none of whose choices can change: the answer after every block.
    ///
    /// Contract: `layout` holds this chunk's layout. True only when the general path would write
    /// nothing for it: every choice it names is one already seen, and every seen choice is left
    /// alone, finished or past its block. The general path would at most mark such a choice
    /// finished or left alone, which changes nothing it writes later (each of those states
    /// passes its text through and holds nothing to flush). False, changing nothing, otherwise.
    func leavesEveryChoiceUnchanged() -> Bool {
        guard !choices.isEmpty else { return false }
        for entry in choices.entries {
            guard entry.state.leftAlone || entry.state.finished || entry.state.splitter.isPassingThrough else { return false }
        }
        for c in layout.choices where !choices.contains(c.index) { return false }
        return true
    }

    /// Fast path for the most common chunk inside a reasoning block, written out directly: one
    /// choice, already seen and in its block with nothing held, whose content is plain text (no
    /// escapes, no `<` that could start a tag, no byte the encoder would escape).
    ///
    /// Contract: `layout` holds this chunk's layout. When true, it has appended exactly the
    /// event the general path would write (content `""` and, in `split`, the original string
    /// as the reasoning field: encoding that text again gives the same bytes) and updated the
    /// choice's state as the general path would. False, with nothing written or changed, for
    /// any other chunk.
    mutating func rewritePlainReasoning(_ data: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Bool {
        guard !layout.isError, layout.hasChoices, layout.choices.count == 1 else { return false }
        let c = layout.choices[0]
        guard let r = c.content, c.contentIsString, !c.contentHasEscapes, !c.finishing, !c.ownReasoning, r.count > 2,
              let k = choices.position(of: c.index), !choices.entries[k].state.leftAlone, !choices.entries[k].state.finished,
              choices.entries[k].state.splitter.isInsideBlockHoldingNothing(firstByte: data[r.lowerBound + 1]),
              Self.isPlainText(data, (r.lowerBound + 1)..<(r.upperBound - 1)) else { return false }
        choices.entries[k].state.sawText = true
        choices.entries[k].state.splitter.droppingWhitespace = false  // the text starts with a non-space
        out.append(contentsOf: "data: ".utf8)
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[..<r.lowerBound]))
        out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: "\"")])
        if think.mode == .split {
            out.append(contentsOf: reasoningKey)
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[r]))
        }
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[r.upperBound...]))
        out.append(contentsOf: [0x0A, 0x0A])
        return true
    }

    /// Whether `range` of `data` holds no `<`, no control byte and no DEL: text a splitter inside
    /// its block takes whole as reasoning, and that the encoder writes as it is. Eight bytes at
    /// a time.
    static func isPlainText(_ data: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var i = range.lowerBound
        if let p = data.baseAddress {
            while i + 8 <= range.upperBound {
                let x = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let odd = bytesBelow(x, 0x20) | bytesBelow(x ^ 0x3C3C_3C3C_3C3C_3C3C, 1)
                    | bytesBelow(x ^ 0x7F7F_7F7F_7F7F_7F7F, 1)
                if odd != 0 { return false }
                i += 8
            }
        }
        while i < range.upperBound {
            let b = data[i]
            if b == UInt8(ascii: "<") || b < 0x20 || b == 0x7F { return false }
            i += 1
        }
        return true
    }

    // MARK: The general path

    /// The general path for a stream chunk whose layout is in `layout`: appends the event when
    /// the chunk changes.
    mutating func writeGeneral(_ data: UnsafeRawBufferPointer, appendingEventTo out: inout [UInt8]) -> Bool {
        switch plan(data) {
        case .unchanged: return false
        case .rebuilt(let bytes):
            out.append(contentsOf: "data: ".utf8)
            out.append(contentsOf: bytes)
        case .edits:
            out.append(contentsOf: "data: ".utf8)
            spliceEdits(data, into: &out)
        }
        out.append(contentsOf: [0x0A, 0x0A])
        return true
    }

    enum Plan {
        case unchanged
        /// `edits` (ranges of the data, replacements in `editBytes`) say what changes.
        case edits
        /// The chunk had to be rebuilt (a choice without a delta object).
        case rebuilt([UInt8])
    }

    /// Works out what a chunk whose layout is in `layout` needs, feeding each choice's text to
    /// its splitter and leaving splice edits in `edits` and `editBytes`.
    mutating func plan(_ data: UnsafeRawBufferPointer) -> Plan {
        guard !layout.isError, layout.hasChoices else { return .unchanged }
        if !capturedIdentity { captureIdentity(layout, data) }
        edits.removeAll(keepingCapacity: true)
        editBytes.removeAll(keepingCapacity: true)
        var structural: [(Int, JSONValue)] = []  // choices without a delta object, rewritten the slow way
        for c in layout.choices {
            let position: Int
            if let p = choices.position(of: c.index) {
                position = p
            } else if choices.entries.count < ChatChunkRewriter.maxChoices {
                position = choices.entries.count
                choices.entries.append((c.index, Choice(splitter: ThinkSplitter(tags: think.tags, assumeOpen: think.assumeOpen))))
            } else {
                continue  // past the bound: this choice's text goes out as it came
            }
            // Mutated in place in the list: a copy would copy its buffers on every change.
            let start = editBytes.count
            switch Self.rewriteChoice(&choices.entries[position].state, c, data, think: think, scratch: &scratch, into: &editBytes) {
            case .unchanged: break
            case .edit(let range): edits.append((range, start..<editBytes.count))
            case .newDelta(let delta): structural.append((c.position, delta))
            }
        }
        if !structural.isEmpty {
            // Rare: a choice with text to release but no delta object. Rebuild the chunk.
            guard case .object(var members)? = try? JSONValue.parse(data),
                  let ci = members.firstIndex(where: { $0.0 == "choices" }), case .array(var list) = members[ci].1 else { return .unchanged }
            for (position, delta) in structural where position < list.count { list[position] = list[position].setting("delta", to: delta) }
            members[ci].1 = .array(list)
            return .rebuilt(JSONValue.object(members).encoded())
        }
        return edits.isEmpty ? .unchanged : .edits
    }

    /// Appends `data` with `edits` applied.
    func spliceEdits(_ data: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        ByteSplice.append(data, edits: edits, replacements: editBytes, into: &out)
    }

    enum ChoiceEdit {
        case unchanged
        /// Replace this range of the data with what was appended to the edit bytes.
        case edit(Range<Int>)
        /// The choice has no delta object: one must be added (rare).
        case newDelta(JSONValue)
    }

    /// The change one choice of a chunk needs, updating its state.
    static func rewriteChoice(_ state: inout Choice, _ c: ChatChunkLayout.Choice, _ data: UnsafeRawBufferPointer,
                              think: ThinkSettings, scratch out: inout ThinkSplitter.Output,
                              into editBytes: inout [UInt8]) -> ChoiceEdit {
        if state.leftAlone || state.finished { return .unchanged }
        if !state.sawText && c.ownReasoning { state.leftAlone = true; return .unchanged }
        let hasText = c.content.map { c.contentIsString && $0.count > 2 } ?? false
        if hasText { state.sawText = true }
        if state.splitter.isPassingThrough && !c.finishing { return .unchanged }
        var decoded: [UInt8]? = nil
        var text = UnsafeRawBufferPointer(start: nil, count: 0)
        if let r = c.content, hasText {
            if c.contentHasEscapes {
                decoded = JSONParser.stringBytes(UnsafeRawBufferPointer(rebasing: data[r])) ?? []
            } else {
                text = UnsafeRawBufferPointer(rebasing: data[(r.lowerBound + 1)..<(r.upperBound - 1)])
            }
        }
        out.reasoning.removeAll(keepingCapacity: true)
        out.content.removeAll(keepingCapacity: true)
        if let decoded {
            decoded.withUnsafeBytes { state.splitter.feed($0, into: &out) }
        } else if !text.isEmpty {
            state.splitter.feed(text, into: &out)
        }
        if c.finishing {
            state.splitter.finish(into: &out)
            state.finished = true
        }
        if out.reasoning.isEmpty && (decoded.map { out.content == $0 } ?? out.content.elementsEqual(text)) { return .unchanged }
        let withReasoning = think.mode == .split && !out.reasoning.isEmpty
        func appendReasoning(to bytes: inout [UInt8]) {
            guard withReasoning else { return }
            bytes.append(UInt8(ascii: ","))
            JSONValue.encodeString(think.field, into: &bytes)
            bytes.append(UInt8(ascii: ":"))
            JSONValue.encodeString(utf8: out.reasoning, into: &bytes)
        }
        if let r = c.content {
            JSONValue.encodeString(utf8: out.content, into: &editBytes)
            appendReasoning(to: &editBytes)
            return .edit(r)
        }
        var reasoningPart: [UInt8] = []
        appendReasoning(to: &reasoningPart)
        guard let d = c.delta else { return .newDelta(apply(out, to: .object([]), think: think)) }
        let insertionStart = editBytes.count
        if !out.content.isEmpty {
            editBytes += Array(#""content":"#.utf8)
            JSONValue.encodeString(utf8: out.content, into: &editBytes)
            editBytes += reasoningPart
        } else {
            editBytes += reasoningPart.dropFirst()
        }
        guard editBytes.count > insertionStart else { return .unchanged }
        if !c.deltaIsEmpty { editBytes.append(UInt8(ascii: ",")) }
        return .edit((d.lowerBound + 1)..<(d.lowerBound + 1))
    }

    var capturedIdentity = false
    /// Reused from chunk to chunk.
    var layout = ChatChunkLayout()
    /// The envelopes of the last two quickly scanned chunks that had one, to recognize the next
    /// chunks by, and which of them matched or was remembered last.
    var envelopes = (ChunkEnvelope(), ChunkEnvelope())
    var recentEnvelope = 0
    var edits: [(Range<Int>, Range<Int>)] = []
    var editBytes: [UInt8] = []
    var scratch = ThinkSplitter.Output()

    mutating func captureIdentity(_ layout: ChatChunkLayout, _ data: UnsafeRawBufferPointer) {
        capturedIdentity = true
        func text(_ r: Range<Int>?) -> [UInt8]? { r.map { Array(UnsafeRawBufferPointer(rebasing: data[$0])) } }
        if let t = text(layout.id) { idText = t }
        if let t = text(layout.created) { createdText = t }
        if let t = text(layout.model) { modelText = t }
    }

    /// The delta with its content replaced by the answer part and the reasoning field added.
    func apply(_ out: ThinkSplitter.Output, to delta: JSONValue) -> JSONValue {
        Self.apply(out, to: delta, think: think)
    }

    static func apply(_ out: ThinkSplitter.Output, to delta: JSONValue, think: ThinkSettings) -> JSONValue {
        var d = delta
        if d["content"] != nil || !out.content.isEmpty {
            d = d.setting("content", to: .string(String(decoding: out.content, as: UTF8.self)))
        }
        if think.mode == .split && !out.reasoning.isEmpty {
            d = d.setting(think.field, to: .string(String(decoding: out.reasoning, as: UTF8.self)))
        }
        return d
    }

    /// Releases text still held for choices that never finished (end of stream), as one chunk
    /// proxyd makes itself; nil when nothing is held.
    public mutating func flushChunk() -> JSONValue? {
        var flushed: [JSONValue] = []
        for position in choices.entries.indices.sorted(by: { choices.entries[$0].index < choices.entries[$1].index }) {
            let index = choices.entries[position].index
            var state = choices.entries[position].state
            guard !state.leftAlone, !state.finished else { continue }
            var out = ThinkSplitter.Output()
            state.splitter.finish(into: &out)
            state.finished = true
            choices.entries[position].state = state
            if out.isEmpty { continue }
            flushed.append(.object([("index", .int(index)), ("delta", apply(out, to: .object([]))), ("finish_reason", .null)]))
        }
        guard !flushed.isEmpty else { return nil }
        return .object([("id", lastID), ("object", .string("chat.completion.chunk")), ("created", lastCreated),
                        ("model", lastModel), ("choices", .array(flushed))])
    }

    /// Applies the same rules to a whole (non-streamed) chat completion: every choice's
    /// `message.content`. Returns nil when nothing changes. The whole-answer entry: one fast
    /// path (`mayHoldOpeningTag`), then the validating path.
    public static func rewriteWhole(_ body: UnsafeRawBufferPointer, think: ThinkSettings) -> [UInt8]? {
        guard think.mode != .off else { return nil }
        if !think.assumeOpen && !mayHoldOpeningTag(body, tags: think.tags) { return nil }
        return rewriteWholeValidating(body, think: think)
    }

    /// The validating path alone for a whole answer: `scan` of `choices[].message`, every choice
    /// taken as finishing, then the general path. What `rewriteWhole` must match.
    static func rewriteWholeValidating(_ body: UnsafeRawBufferPointer, think: ThinkSettings) -> [UInt8]? {
        guard think.mode != .off else { return nil }
        var rewriter = ChatChunkRewriter(think: think)
        guard ChatChunkLayout.scan(body, whole: true, into: &rewriter.layout) else { return nil }
        for i in rewriter.layout.choices.indices { rewriter.layout.choices[i].finishing = true }
        switch rewriter.plan(body) {
        case .unchanged: return nil
        case .rebuilt(let bytes): return bytes
        case .edits:
            var out: [UInt8] = []
            rewriter.spliceEdits(body, into: &out)
            return out
        }
    }

    /// `rewriteWhole` for a parsed value (tests and callers holding a `JSONValue`).
    public static func rewriteWhole(_ completion: JSONValue, think: ThinkSettings) -> JSONValue? {
        let bytes = completion.encoded()
        guard let out = bytes.withUnsafeBytes({ rewriteWhole($0, think: think) }) else { return nil }
        return try? JSONValue.parse(out)
    }

    /// Fast path for a whole answer without `assumeOpen`, where a block needs an opening tag in
    /// the text: whether `body` may hold `<tag>` for one of `tags` in a decoded string. True when
    /// it has one as it is, or an escape that decodes to a byte some `<tag>` has (`\u003c`, or
    /// `\u0074` inside `<\u0074hink>`). One pass that stops only at `<` and `\`, and skips
    /// eight bytes at a time between them.
    ///
    /// Contract: false only when `rewriteWholeValidating` would return nil: a tag in a decoded
    /// string is made of bytes written as they are, which the pass finds together, or of at
    /// least one escape it answers true for. True means "maybe", and the validating path runs.
    static func mayHoldOpeningTag(_ body: UnsafeRawBufferPointer, tags: [String]) -> Bool {
        guard let base = body.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
        // The bytes of every `<tag>`, made at the first escape that needs them: a bit per ASCII
        // byte, and whether any is not ASCII.
        var tagBytes: (low: UInt64, high: UInt64, other: Bool)? = nil
        func inTags(_ v: UInt32) -> Bool {
            if tagBytes == nil {
                var set: (low: UInt64, high: UInt64, other: Bool) = (1 << 0x3C | 1 << 0x3E, 0, false)  // `<` and `>`
                for tag in tags {
                    for b in tag.utf8 {
                        if b < 64 { set.low |= 1 << UInt64(b) } else if b < 128 { set.high |= 1 << UInt64(b - 64) } else { set.other = true }
                    }
                }
                tagBytes = set
            }
            let set = tagBytes!
            return v < 64 ? (set.low >> UInt64(v)) & 1 == 1 : v < 128 ? (set.high >> UInt64(v - 64)) & 1 == 1 : set.other
        }
        let n = body.count
        var i = 0
        while true {
            // On to the next `<` or backslash, eight bytes at a time.
            while i + 8 <= n {
                let x = UnsafeRawPointer(base).loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let t = bytesBelow(x ^ 0x3C3C_3C3C_3C3C_3C3C, 1) | bytesBelow(x ^ 0x5C5C_5C5C_5C5C_5C5C, 1)
                if t != 0 { i += t.trailingZeroBitCount >> 3; break }
                i += 8
            }
            while i < n && base[i] != UInt8(ascii: "<") && base[i] != UInt8(ascii: "\\") { i += 1 }
            guard i < n else { return false }
            let b = base[i]
            if b == UInt8(ascii: "<") {
                for tag in tags where tagOpens(tag, at: i + 1, in: body) { return true }
            } else if b == UInt8(ascii: "\\"), i + 1 < n {
                let e = base[i + 1]
                let decoded: UInt32
                switch e {
                case UInt8(ascii: "u"):
                    var v: UInt32 = 0
                    var k = i + 2
                    while k < n, k < i + 6, let h = hexDigitValue(base[k]) { v = v << 4 | UInt32(h); k += 1 }
                    decoded = k == i + 6 ? v : 0x3C  // a broken escape: "maybe" (the validating path rejects it)
                case UInt8(ascii: "b"): decoded = 0x08
                case UInt8(ascii: "f"): decoded = 0x0C
                case UInt8(ascii: "n"): decoded = 0x0A
                case UInt8(ascii: "r"): decoded = 0x0D
                case UInt8(ascii: "t"): decoded = 0x09
                default: decoded = UInt32(e)  // `\"`, `\\`, `\/`: the byte itself
                }
                if decoded == 0x3C || inTags(decoded) { return true }
                i += 1  // past the escaped character
            }
            i += 1
        }
    }

    /// Whether `tag` followed by `>` starts at `start` in `body`.
    private static func tagOpens(_ tag: String, at start: Int, in body: UnsafeRawBufferPointer) -> Bool {
        var j = start
        for c in tag.utf8 {
            guard j < body.count, body[j] == c else { return false }
            j += 1
        }
        return j < body.count && body[j] == UInt8(ascii: ">")
    }

}
