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
    /// Whether plain reasoning chunks may take the direct path (tests turn it off to compare).
    var allowsDirectPath = true

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

    var passingThroughAll: Bool { !choices.isEmpty && allPassingThrough }

    /// Whether every `"index"` key in `data` holds the index of a choice already seen. A raw
    /// `"index"` cannot occur inside a JSON string (its quotes would be escaped), so this finds
    /// keys only; tool-call indexes can only cause a false "no", which falls back to a full scan.
    static func onlyKnownIndexes(_ data: UnsafeRawBufferPointer, known: ChoiceStates) -> Bool {
        let n = data.count
        var from = 0
        while let end = QuotedKeySearch.index.next(in: data, from: from), end < n {  // a key with nothing after it says nothing
            var j = QuotedKeySearch.valueStart(in: data, after: end)
            var value = 0
            var digits = 0
            while j < n, data[j] >= 0x30, data[j] <= 0x39, digits < 9 { value = value * 10 + Int(data[j] - 0x30); j += 1; digits += 1 }
            guard digits > 0, known.contains(value) else { return false }
            from = j
        }
        return true
    }

    /// Rewrites one chunk given as JSON text. Returns nil when it needs no change (and its bytes
    /// may go out as they came), else the new JSON text. Changed text fields are spliced into
    /// the original bytes; nothing else is re-encoded.
    public mutating func rewrite(data: UnsafeRawBufferPointer) -> [UInt8]? {
        rewrite(data: data, whole: false)
    }

    mutating func rewrite(data: UnsafeRawBufferPointer, whole: Bool) -> [UInt8]? {
        switch plan(data: data, whole: whole) {
        case .unchanged: return nil
        case .rebuilt(let bytes): return bytes
        case .edits:
            var out: [UInt8] = []
            spliceEdits(data, into: &out)
            return out
        }
    }

    /// The stream path: when the chunk needs a change, appends `data: <new JSON>\n\n` to `out` and
    /// returns true; the edits are spliced straight into `out`, with no intermediate copy.
    public mutating func rewrite(data: UnsafeRawBufferPointer, appendingEventTo out: inout [UInt8]) -> Bool {
        var matched = false
        if allowsDirectPath && capturedIdentity && choices.entries.count == 1 && envelope.match(data, into: &layout) {
            // The answer after the block: the chunk names only the one known choice.
            if passingThroughAll && layout.choices.count == 1 && layout.choices[0].index == choices.entries[0].index { return false }
            if rewritePlainReasoning(data, into: &out) { return true }
            matched = true
        }
        switch plan(data: data, whole: false, layoutReady: matched) {
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

    /// The most common chunk inside a reasoning block, written out directly: one choice, already
    /// in its block with nothing held, whose content is plain text (no escapes, no `<` that could
    /// start a tag, no byte the encoder would escape). Its content becomes `""` and, in `split`,
    /// the original string goes into the reasoning field as it came: exactly what the general
    /// path makes of it, without decoding and encoding the text. `layout` holds the chunk's
    /// layout. False, with nothing written, for any other chunk.
    mutating func rewritePlainReasoning(_ data: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Bool {
        guard layout.choices.count == 1 else { return false }
        let c = layout.choices[0]
        guard let r = c.content, c.contentIsString, !c.contentHasEscapes, !c.finishing, !c.ownReasoning, r.count > 2,
              c.index == choices.entries[0].index, !choices.entries[0].state.leftAlone, !choices.entries[0].state.finished,
              choices.entries[0].state.splitter.isInsideBlockHoldingNothing(firstByte: data[r.lowerBound + 1]) else { return false }
        for i in (r.lowerBound + 1)..<(r.upperBound - 1) {
            let b = data[i]
            if b == UInt8(ascii: "<") || b < 0x20 || b == 0x7F { return false }
        }
        choices.entries[0].state.sawText = true
        choices.entries[0].state.splitter.droppingWhitespace = false  // the text starts with a non-space
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

    /// Works out what a chunk needs, leaving splice edits in `edits` and `editBytes`.
    /// `layoutReady`: `layout` already holds this chunk's layout (its envelope matched).
    mutating func plan(data: UnsafeRawBufferPointer, whole: Bool, layoutReady: Bool = false) -> Plan {
        if !whole && passingThroughAll && ChatChunkRewriter.onlyKnownIndexes(data, known: choices) { return .unchanged }
        var quick = false
        if layoutReady {
            quick = true
        } else if !whole && capturedIdentity {
            if envelope.match(data, into: &layout) {
                quick = true
            } else if ChatChunkLayout.quickScan(data, into: &layout) {
                quick = true
                envelope.remember(data, layout)
            }
        }
        guard quick || ChatChunkLayout.scan(data, whole: whole, into: &layout), !layout.isError, layout.hasChoices else { return .unchanged }
        if whole { for i in layout.choices.indices { layout.choices[i].finishing = true } }
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
    /// The envelope of the last quickly scanned chunk, to recognize the next one by.
    var envelope = ChunkEnvelope()
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
    /// `message.content`. Returns nil when nothing changes.
    public static func rewriteWhole(_ body: UnsafeRawBufferPointer, think: ThinkSettings) -> [UInt8]? {
        guard think.mode != .off else { return nil }
        // Without assumeOpen a block needs an opening tag in the text (or an escaped '<').
        if !think.assumeOpen && !mayHoldOpeningTag(body, tags: think.tags) { return nil }
        var rewriter = ChatChunkRewriter(think: think)
        return rewriter.rewrite(data: body, whole: true)
    }

    /// `rewriteWhole` for a parsed value (tests and callers holding a `JSONValue`).
    public static func rewriteWhole(_ completion: JSONValue, think: ThinkSettings) -> JSONValue? {
        let bytes = completion.encoded()
        guard let out = bytes.withUnsafeBytes({ rewriteWhole($0, think: think) }) else { return nil }
        return try? JSONValue.parse(out)
    }

    /// Whether `body` has `<tag>` for one of `tags`, or a `\u003c` escape (which may hide one).
    /// One pass that stops only at `<` and `\`.
    static func mayHoldOpeningTag(_ body: UnsafeRawBufferPointer, tags: [String]) -> Bool {
        guard let base = body.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
        let n = body.count
        var i = 0
        while i < n {
            let b = base[i]
            if b == UInt8(ascii: "<") {
                for tag in tags where tagOpens(tag, at: i + 1, in: body) { return true }
            } else if b == UInt8(ascii: "\\") {
                // \u003c or \u003C: an escaped '<'.
                if n - i > 5 && base[i + 1] == UInt8(ascii: "u") && base[i + 2] == UInt8(ascii: "0")
                    && base[i + 3] == UInt8(ascii: "0") && base[i + 4] == UInt8(ascii: "3") && base[i + 5] | 0x20 == UInt8(ascii: "c") {
                    return true
                }
                i += 1  // skip the escaped character
            }
            i += 1
        }
        return false
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
