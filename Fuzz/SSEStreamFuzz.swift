// A libFuzzer target for SSEParser and ChatStreamTransform, built by scripts/fuzz.sh the same
// way as HTTPRequestParserFuzz.swift: compiled into one module with every ProxyCore source file,
// so it reaches ProxyCore's internal names (the parser's buffers, the rewriter's state) without
// an import.
//
// Input layout (the first two bytes choose the settings and how the rest is cut into pieces):
//   byte 0       bits 0-3: how many cut bytes follow (0...15)
//                bit 4:    also feed the stream one byte per call
//                bits 5-7: s; each cut byte counts in steps of 2^s bytes (1...128)
//   byte 1       bits 0-1: think mode: 0 off, 1 split, 2 strip, 3 split with assumeOpen, two tags
//                          and the reasoning field named `reasoning`
//                bit 2:    hideUsage
//                bit 3:    the upstream completes its transfer (else it breaks off)
//                bits 4-7: maxEventBytes, one of `eventLimits` (64...4096)
//   next bytes   one per cut: the gap from the previous cut, times 2^s (a gap of 0 makes an empty piece)
//   the rest     the stream: the bytes an upstream sent as its response body
//
// The parser is checked against a small reference reading of the SSE format (the events, where
// each item ends, which item is over the limit), then fed in the pieces (and byte by byte)
// through its other interfaces; every feeding must report the same events and the same bytes.
// The transform is run whole, in the pieces, byte by byte and one item per call (that last one
// through the rewriter's validating path alone); all must write the same bytes, and what each item
// turned into, and the error event `finish` adds, are checked one by one. Every broken rule traps.

#if canImport(Glibc)
import Glibc
#endif

/// The choices for maxEventBytes: small, so that overflows are within reach of short inputs.
private let eventLimits = [64, 80, 96, 128, 160, 192, 256, 320, 384, 512, 768, 1024, 1536, 2048, 3072, 4096]


private let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

// MARK: Reporting

private func shown(_ bytes: some Collection<UInt8>, limit: Int = 300) -> String {
    let head = "\"" + escaped(bytes.prefix(limit)) + "\""
    return bytes.count > limit ? head + "… (\(bytes.count) bytes)" : head
}

/// The stream of the input being run, shown with every failure.
private var currentStream: [UInt8] = []

private func violated(_ what: String) -> Never {
    fatalError("SSE stream fuzz invariant: \(what)\n  stream: \(shown(currentStream, limit: 600))")
}

// MARK: Feeding

/// Calls `body` with a copy of `bytes` in an allocation of exactly their size, so that
/// AddressSanitizer catches a read past the last byte handed over.
private func withExactCopy(_ bytes: ArraySlice<UInt8>, _ body: (UnsafeRawBufferPointer) -> Void) {
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
    defer { copy.deallocate() }
    if !bytes.isEmpty { _ = copy.initializeMemory(as: UInt8.self, from: bytes) }
    body(UnsafeRawBufferPointer(copy))
}

private func describe(_ pieces: [Range<Int>]) -> String {
    let listed = pieces.prefix(12).map { "\($0.lowerBound)..<\($0.upperBound)" }.joined(separator: ", ")
    return "[" + listed + (pieces.count > 12 ? ", … (\(pieces.count) pieces)]" : "]")
}

// MARK: The reference reading

/// An event as the feedings are compared in.
private struct Event: Equatable {
    var data: [UInt8]
    var name: String?
    var id: String?
}

/// One item of a stream: an event with the bytes through its blank line, or bytes carrying none.
private struct Item {
    var range: Range<Int>
    var event: Event?
}

/// A plain reading of the format (lines end at LF, CRLF or CR; a leading BOM is skipped; `data`,
/// `event` and `id` are read, other fields ignored) that splits the whole stream into the items
/// SSEParser promises to report: an item ends at a blank line, or at a comment line when no event
/// is under way. The bytes after the last item form no complete item.
private func referenceItems(_ s: [UInt8]) -> (items: [Item], rest: Int) {
    var items: [Item] = []
    var start = 0
    var i = s.starts(with: bom) ? 3 : 0
    var data: [UInt8] = []
    var hasData = false
    var name: String?
    var id: String?
    while true {
        guard let end = s[i...].firstIndex(where: { $0 == 0x0A || $0 == 0x0D }) else { break }
        var next = end + 1
        if s[end] == 0x0D && next < s.count && s[next] == 0x0A { next += 1 }
        let line = s[i..<end]
        if line.isEmpty {
            items.append(Item(range: start..<next, event: hasData ? Event(data: data, name: name, id: id) : nil))
            start = next
            data = []
            hasData = false
            name = nil
        } else if line.first == UInt8(ascii: ":") {
            if !hasData && name == nil {
                items.append(Item(range: start..<next, event: nil))
                start = next
            }
        } else {
            let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
            let field = line[..<colon]
            var value = colon == line.endIndex ? line[line.endIndex...] : line[(colon + 1)...]
            if value.first == 0x20 { value = value.dropFirst() }
            if field.elementsEqual("data".utf8) {
                if hasData { data.append(0x0A) }
                data += value
                hasData = true
            } else if field.elementsEqual("event".utf8) {
                name = String(decoding: value, as: UTF8.self)
            } else if field.elementsEqual("id".utf8) && !value.contains(0) {
                id = String(decoding: value, as: UTF8.self)
            }
        }
        i = next
        if i == s.count { break }
    }
    return (items, start)
}

// MARK: SSEParser

private struct ParserRun {
    var events: [Event] = []
    /// Everything reported, events and other bytes, in order.
    var reported: [UInt8] = []
    /// Where each reported item ends in the stream.
    var itemEnds: [Int] = []
    var overflowed = false
    /// The bytes held at the end (before `flushPending`).
    var held: [UInt8] = []
}

/// An item's size as the limit counts it: its last line end is one byte, CRLF too (its LF may
/// arrive in a later feed than the rest).
private func limitedSize(_ raw: some Collection<UInt8>) -> Int {
    let crlf = raw.count >= 2 && raw.dropFirst(raw.count - 2).elementsEqual([0x0D, 0x0A])
    return raw.count - (crlf ? 1 : 0)
}

private func checkItem(_ raw: UnsafeRawBufferPointer, limit: Int, _ what: String) {
    guard let last = raw.last else { violated("an empty \(what) was reported") }
    if last != 0x0A && last != 0x0D { violated("a reported \(what) does not end with a line end: \(shown(raw))") }
    if limitedSize(raw) > limit { violated("a reported \(what) of \(raw.count) bytes is over maxHeldBytes \(limit): \(shown(raw))") }
}

/// Feeds `pieces` of the stream to a fresh parser, through the fast interface or the convenient
/// one, and checks what it promises after every feed.
private func runParser(_ stream: [UInt8], pieces: [Range<Int>], limit: Int, convenient: Bool) -> ParserRun {
    var parser = SSEParser(maxHeldBytes: limit)
    var run = ParserRun()
    for piece in pieces {
        let wasOverflowed = parser.overflowed
        let reportedBefore = run.reported.count
        // `reported` is a prefix of the stream, so its length is where the item just reported ends.
        if convenient {
            parser.feed(stream[piece]) { item in
                switch item {
                case .event(let e, let raw):
                    raw.withUnsafeBytes { checkItem($0, limit: limit, "event") }
                    run.events.append(Event(data: Array(e.data.utf8), name: e.event, id: e.id))
                    run.reported += raw
                case .other(let bytes):
                    bytes.withUnsafeBytes { checkItem($0, limit: limit, "run of other bytes") }
                    run.reported += bytes
                }
                run.itemEnds.append(run.reported.count)
            }
        } else {
            withExactCopy(stream[piece]) { bytes in
                parser.feed(bytes, onEvent: { e in
                    checkItem(e.raw, limit: limit, "event")
                    run.events.append(Event(data: Array(e.data), name: e.eventName, id: e.id))
                    run.reported += e.raw
                    run.itemEnds.append(run.reported.count)
                }, onOther: { bytes in
                    checkItem(bytes, limit: limit, "run of other bytes")
                    run.reported += bytes
                    run.itemEnds.append(run.reported.count)
                })
            }
        }
        func context() -> String { "after feeding \(piece) of \(describe(pieces))" }
        if wasOverflowed && run.reported.count != reportedBefore {
            violated("\(run.reported.count - reportedBefore) bytes were reported after the parser overflowed, \(context())")
        }
        if parser.heldBytes > limit {
            violated("the parser holds \(parser.heldBytes) bytes, over maxHeldBytes \(limit), \(context())")
        }
        // What was reported is the stream's next bytes (those reported before were checked after the last feed).
        let reportedNow = run.reported.count
        if reportedNow > piece.upperBound || !run.reported[reportedBefore...].elementsEqual(stream[reportedBefore..<reportedNow]) {
            violated("the bytes reported are not a prefix of the stream, \(context())")
        }
        if parser.overflowed {
            if parser.heldBytes != 0 { violated("an overflowed parser still holds \(parser.heldBytes) bytes, \(context())") }
        } else {
            if reportedNow + parser.raw.count != piece.upperBound || !parser.raw.elementsEqual(stream[reportedNow..<piece.upperBound]) {
                violated("the bytes reported (\(run.reported.count)) and held (\(shown(parser.raw, limit: 80))) "
                         + "are not the \(piece.upperBound) bytes fed, \(context())")
            }
            if parser.line.count > parser.raw.count || parser.dataLines.count > parser.raw.count {
                violated("the parser's line (\(parser.line.count)) or data (\(parser.dataLines.count)) is larger than "
                         + "the \(parser.raw.count) bytes it holds, \(context())")
            }
        }
    }
    run.overflowed = parser.overflowed
    run.held = parser.raw
    var flushed: [UInt8] = []
    parser.flushPending { flushed += $0 }
    if flushed != run.held { violated("flushPending reported \(shown(flushed)), not the \(run.held.count) bytes held") }
    if parser.heldBytes != 0 { violated("the parser holds \(parser.heldBytes) bytes after flushPending") }
    for e in run.events {
        if e.data.contains(0x0D) { violated("event data holds a CR: \(shown(e.data))") }
        for field in [e.name, e.id].compactMap({ $0 }) where field.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) {
            violated("an event name or id holds a line end: \(shown(field.utf8))")
        }
        if let id = e.id, id.utf8.contains(0) { violated("an event id holds a NUL: \(shown(id.utf8))") }
    }
    return run
}

private func describe(_ events: [Event]) -> String {
    let listed = events.prefix(8).map { e in
        "{data \(shown(e.data, limit: 60))" + (e.name.map { " event \(shown($0.utf8, limit: 20))" } ?? "")
            + (e.id.map { " id \(shown($0.utf8, limit: 20))" } ?? "") + "}"
    }
    return "\(events.count) events: " + listed.joined(separator: ", ") + (events.count > 8 ? ", …" : "")
}

/// Checks the parser against the reference reading and across feedings; returns the items it
/// reports (those before the first item over the limit) and where that item starts, if there is one.
private func checkParser(_ stream: [UInt8], reference: [Item], rest: Int, pieces: [Range<Int>], singleBytes: [Range<Int>]?,
                         limit: Int) -> (items: [Item], overflowAt: Int?) {
    // The first item over the limit (the unfinished rest counts as one) is where the parser stops.
    var items = reference
    var overflowAt: Int?
    if let k = reference.firstIndex(where: { limitedSize(stream[$0.range]) > limit }) {
        items = Array(reference[..<k])
        overflowAt = reference[k].range.lowerBound
    } else if stream.count - rest > limit {
        overflowAt = rest
    }
    let expectedEnd = overflowAt ?? rest

    let whole = runParser(stream, pieces: [0..<stream.count], limit: limit, convenient: false)
    if whole.overflowed != (overflowAt != nil) {
        violated("fed whole, the parser \(whole.overflowed ? "overflowed" : "did not overflow") at maxHeldBytes \(limit); "
                 + (overflowAt.map { "the item from byte \($0) is over it" } ?? "no item is over it"))
    }
    if whole.events != items.compactMap(\.event) {
        violated("fed whole, the events are not the reference's:\n  parser:    \(describe(whole.events))\n"
                 + "  reference: \(describe(items.compactMap(\.event)))")
    }
    if whole.itemEnds != items.map(\.range.upperBound) {
        violated("fed whole, the items end at \(whole.itemEnds.prefix(20)), not at \(items.map(\.range.upperBound).prefix(20))")
    }
    if !whole.reported.elementsEqual(stream[..<(items.last?.range.upperBound ?? 0)]) {
        violated("fed whole, the bytes reported are not the stream up to the end of the last item")
    }
    if !whole.overflowed && !whole.held.elementsEqual(stream[expectedEnd...]) {
        violated("fed whole, the parser holds \(shown(whole.held)), not the \(stream.count - expectedEnd) bytes after the last item")
    }

    var feedings: [(String, [Range<Int>], Bool)] = []
    if pieces.count > 1 {
        feedings.append(("in pieces \(describe(pieces))", pieces, false))
        feedings.append(("in pieces \(describe(pieces)) (convenient interface)", pieces, true))
    }
    if let singleBytes { feedings.append(("byte by byte", singleBytes, false)) }
    // One item per call: every feed starts in a clean state, where the in-place fast path applies.
    if items.count > 1 {
        feedings.append(("one item per call", itemPieces(items, count: stream.count), false))
    }
    for (how, cut, convenient) in feedings {
        let run = runParser(stream, pieces: cut, limit: limit, convenient: convenient)
        if run.overflowed != whole.overflowed {
            violated("fed \(how), the parser \(run.overflowed ? "overflowed" : "did not overflow"), fed whole it "
                     + (whole.overflowed ? "did" : "did not"))
        }
        // The convenient interface gives data as a String, with invalid UTF-8 replaced.
        let expected = convenient ? whole.events.map { e in
            Event(data: Array(String(decoding: e.data, as: UTF8.self).utf8), name: e.name, id: e.id)
        } : whole.events
        if run.events != expected {
            violated("fed \(how), the events differ:\n  whole:  \(describe(expected))\n  pieces: \(describe(run.events))")
        }
        if run.reported != whole.reported {
            violated("fed \(how), \(run.reported.count) bytes were reported, not the \(whole.reported.count) reported fed whole")
        }
    }
    return (items, overflowAt)
}

/// The stream cut at every item's end, the rest in the last piece.
private func itemPieces(_ items: [Item], count: Int) -> [Range<Int>] {
    var pieces = items.map(\.range)
    pieces.append((items.last?.range.upperBound ?? 0)..<count)
    return pieces
}

// MARK: ChatStreamTransform

private struct TransformRun {
    /// What each feed wrote.
    var deltas: [[UInt8]] = []
    /// Everything written before `finish`.
    var beforeFinish: [UInt8] = []
    /// Everything written, `finish` included.
    var output: [UInt8] = []
    var sawDone = false
    var overflowed = false
    /// What the parser held when the stream ended.
    var held = 0
}

private func runTransform(_ stream: [UInt8], pieces: [Range<Int>], settings: ChatAnswerSettings, limit: Int,
                          complete: Bool, fastPaths: Bool = true) -> TransformRun {
    let t = ChatStreamTransform(settings: settings, maxEventBytes: limit)
    // A splitter holds leading whitespace (up to its bound) and a partial tag, or a partial closing tag.
    let longestTag = settings.think.tags.map { $0.utf8.count + 3 }.max() ?? 0
    let splitterBound = ThinkSplitter.maxLeadingWhitespace + longestTag
    var run = TransformRun()
    var out: [UInt8] = []
    for piece in pieces {
        let before = out.count
        let wasOverflowed = t.overflowed
        withExactCopy(stream[piece]) { _ = fastPaths ? t.feed($0, into: &out) : t.feedValidating($0, into: &out) }
        func context() -> String { "after feeding \(piece) of \(describe(pieces))" }
        if wasOverflowed && out.count != before {
            violated("the transform wrote \(shown(out[before...])) after it overflowed, \(context())")
        }
        if t.parser.heldBytes > limit {
            violated("the transform holds \(t.parser.heldBytes) bytes of an event, over maxEventBytes \(limit), \(context())")
        }
        for entry in t.rewriter.choices.entries where entry.state.splitter.pending.count > splitterBound {
            violated("the splitter of choice \(entry.index) holds \(entry.state.splitter.pending.count) bytes, \(context())")
        }
        run.deltas.append(Array(out[before...]))
    }
    run.beforeFinish = out
    run.held = t.parser.heldBytes
    run.sawDone = t.sawDone
    run.overflowed = t.overflowed
    _ = t.finish(upstreamComplete: complete, reason: "cut by the fuzzer", into: &out)
    run.output = out
    return run
}

/// Every event and run of other bytes in `bytes`, read by a fresh parser with no limit, and what it holds at the end.
private func items(of bytes: some Collection<UInt8>) -> (events: [(Event, [UInt8])], others: [[UInt8]], reported: [[UInt8]], held: Int) {
    var parser = SSEParser()
    var events: [(Event, [UInt8])] = []
    var others: [[UInt8]] = []
    var reported: [[UInt8]] = []
    let copy = Array(bytes)
    copy.withUnsafeBytes { buffer in
        parser.feed(buffer, onEvent: { e in
            events.append((Event(data: Array(e.data), name: e.eventName, id: e.id), Array(e.raw)))
            reported.append(Array(e.raw))
        }, onOther: {
            others.append(Array($0))
            reported.append(Array($0))
        })
    }
    return (events, others, reported, parser.heldBytes)
}

private func parsesAsJSON(_ bytes: [UInt8]) -> Bool { (try? JSONValue.parse(bytes)) != nil }

private func isDone(_ data: [UInt8]) -> Bool { data.elementsEqual("[DONE]".utf8) }

/// Whether the transform keeps this event from the client (the usage chunk, under hideUsage).
private func isHiddenUsage(_ data: [UInt8], settings: ChatAnswerSettings) -> Bool {
    guard settings.hideUsage else { return false }
    return data.withUnsafeBytes { Usage.ofChunk($0) != nil && ChatStreamTransform.isUsageOnly($0) }
}

/// Whether `bytes` is one event of a single `data:` line proxyd wrote, whose data is JSON
/// (when `json`); returns its data.
private func proxydEvent(_ bytes: [UInt8], what: String, json: Bool) -> [UInt8] {
    let read = items(of: bytes)
    guard read.events.count == 1, read.others.isEmpty, read.held == 0, read.events[0].1 == bytes else {
        violated("\(what) is not one whole event: \(shown(bytes))")
    }
    let data = read.events[0].0.data
    if json && !parsesAsJSON(data) { violated("\(what) has data that is not JSON: \(shown(data))") }
    return data
}

/// Checks what the transform made of each item (fed one item per call).
private func checkItemDeltas(_ run: TransformRun, items: [Item], stream: [UInt8], settings: ChatAnswerSettings) {
    let rewriting = settings.think.mode != .off
    for (k, item) in items.enumerated() {
        let raw = Array(stream[item.range])
        let delta = run.deltas[k]
        let what = "item \(k) \(shown(raw, limit: 120)) became \(shown(delta, limit: 200)), which"
        guard let event = item.event else {
            if delta != raw { violated("\(what) is not the bytes as they came (no event in them)") }
            continue
        }
        if isDone(event.data) {
            // Text the rewriter held back goes out (as one chunk of proxyd's) before [DONE].
            guard delta.count >= raw.count, delta.suffix(raw.count).elementsEqual(raw) else {
                violated("\(what) does not end with the [DONE] event as it came")
            }
            let flushed = Array(delta.dropLast(raw.count))
            if !flushed.isEmpty {
                if !rewriting { violated("\(what) adds bytes in think mode off") }
                let data = proxydEvent(flushed, what: "the chunk flushed before [DONE] in \(what)", json: true)
                if case .array? = (try? JSONValue.parse(data))?["choices"] {} else {
                    violated("the chunk flushed before [DONE] has no choices: \(shown(data))")
                }
            }
            continue
        }
        if isHiddenUsage(event.data, settings: settings) {
            if !delta.isEmpty { violated("\(what) is not empty: the usage chunk is to be hidden") }
            continue
        }
        if delta == raw { continue }
        if !rewriting { violated("\(what) is not the event as it came, in think mode off") }
        // A rewritten chunk: one event of proxyd's, JSON when the chunk was (also when its data
        // came in several lines).
        let json = parsesAsJSON(event.data)
        _ = proxydEvent(delta, what: "the rewritten chunk in \(what)", json: json)
    }
    // The rest holds no complete item: nothing comes of it.
    if run.deltas.count > items.count, let last = run.deltas.last, !last.isEmpty {
        violated("the bytes after the last item became \(shown(last)), not nothing")
    }
}

/// Checks what `finish` added to a stream that did not see [DONE]: text the rewriter held back
/// (as one chunk) and the error event; and that the output, read afresh, ends with that event.
private func checkFinish(_ run: TransformRun, settings: ChatAnswerSettings, complete: Bool) {
    let tail = Array(run.output[run.beforeFinish.count...])
    if run.sawDone {
        if !tail.isEmpty { violated("finish wrote \(shown(tail)) after [DONE]") }
        return
    }
    let read = items(of: tail)
    guard read.others.isEmpty, read.held == 0, read.reported.joined().elementsEqual(tail),
          let last = read.events.last else {
        violated("what finish wrote is not whole events: \(shown(tail))")
    }
    let (error, errorRaw) = last
    let maxEvents = settings.think.mode == .off ? 1 : 2
    if read.events.count > maxEvents { violated("finish wrote \(read.events.count) events: \(shown(tail))") }
    if read.events.count == 2 {
        let flushed = read.events[0].0.data
        guard case .array? = (try? JSONValue.parse(flushed))?["choices"] else {
            violated("the chunk finish flushed is not JSON with choices: \(shown(flushed))")
        }
    }
    if !errorRaw.starts(with: "data: ".utf8) || !errorRaw.suffix(2).elementsEqual([0x0A, 0x0A])
        || errorRaw.dropLast(2).contains(0x0A) {
        violated("the error event is not one `data:` line and a blank line: \(shown(errorRaw))")
    }
    guard let value = try? JSONValue.parse(error.data), let code = value["error"]?["code"]?.stringValue,
          value["error"]?["message"]?.stringValue != nil else {
        violated("the error event's data is not a JSON error: \(shown(error.data))")
    }
    let expected = run.overflowed ? "event_too_large" : complete ? "stream_incomplete" : "stream_interrupted"
    if code != expected { violated("the error event's code is \(code), not \(expected)") }
    // Everything before it ended at an item's end, so read afresh the output ends with the same event.
    let all = items(of: run.output)
    if all.held != 0 || all.reported.last != errorRaw {
        violated("read afresh, the output does not end with the error event (\(all.held) bytes held, last item "
                 + "\(all.reported.last.map { shown($0, limit: 120) } ?? "none"))")
    }
}

private func checkTransform(_ stream: [UInt8], pieces: [Range<Int>], singleBytes: [Range<Int>]?, settings: ChatAnswerSettings,
                            limit: Int, complete: Bool, items: [Item], overflowAt: Int?) {
    let whole = runTransform(stream, pieces: [0..<stream.count], settings: settings, limit: limit, complete: complete)
    if whole.overflowed != (overflowAt != nil) {
        violated("the transform \(whole.overflowed ? "overflowed" : "did not overflow"), its parser alone "
                 + (overflowAt == nil ? "did not" : "did"))
    }
    let sawDone = items.contains { $0.event.map { isDone($0.data) } ?? false }
    if whole.sawDone != sawDone { violated("the transform says sawDone \(whole.sawDone), the stream \(sawDone ? "has" : "has no") [DONE]") }
    let end = items.last?.range.upperBound ?? 0
    if !whole.overflowed && whole.held != stream.count - end {
        violated("the transform holds \(whole.held) bytes at the end, not the \(stream.count - end) after the last item")
    }
    if settings.think.mode == .off && !settings.hideUsage && !whole.beforeFinish.elementsEqual(stream[..<end]) {
        violated("in think mode off the output \(shown(whole.beforeFinish)) is not the stream up to the end of its last item")
    }
    checkFinish(whole, settings: settings, complete: complete)

    var feedings: [(String, [Range<Int>], Bool)] = []
    if pieces.count > 1 { feedings.append(("in pieces \(describe(pieces))", pieces, true)) }
    if let singleBytes { feedings.append(("byte by byte", singleBytes, true)) }
    let perItem = itemPieces(items, count: stream.count)
    feedings.append(("one item per call, by the validating path alone", perItem, false))
    for (how, cut, fast) in feedings {
        let run = runTransform(stream, pieces: cut, settings: settings, limit: limit, complete: complete, fastPaths: fast)
        if !fast { checkItemDeltas(run, items: items, stream: stream, settings: settings) }
        if run.output != whole.output || run.beforeFinish != whole.beforeFinish {
            var blame = ""
            if !fast {
                let withFast = runTransform(stream, pieces: cut, settings: settings, limit: limit, complete: complete)
                blame = withFast.output == whole.output ? " (the fast paths differ from the validating path)" : " (the cuts)"
            }
            violated("fed \(how), the transform's output differs\(blame):\n  whole:  \(shown(whole.output, limit: 600))\n"
                     + "  pieces: \(shown(run.output, limit: 600))")
        }
    }
}

// MARK: The entry point

private func chatSettings(_ byte: UInt8) -> ChatAnswerSettings {
    var think = ThinkSettings()
    switch byte & 0x03 {
    case 0: think.mode = .off
    case 1: think.mode = .split
    case 2: think.mode = .strip
    default:
        think.mode = .split
        think.assumeOpen = true
        think.tags = ["think", "thought"]
        think.field = "reasoning"
    }
    return ChatAnswerSettings(think: think, hideUsage: byte & 0x04 != 0)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func sseStreamFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let control = input[0]
    let layout = CutLayout(control)
    let cuts = layout.cuts
    let byteByByte = layout.byteByByte
    let setup = input[1]
    let settings = chatSettings(setup)
    let complete = setup & 0x08 != 0
    let limit = eventLimits[Int(setup >> 4)]
    guard size >= 2 + cuts else { return 0 }
    let gaps = UnsafeRawBufferPointer(rebasing: input[2..<(2 + cuts)])
    let stream = Array(input[(2 + cuts)...])
    currentStream = stream
    let (reference, rest) = referenceItems(stream)
    let pieces = layout.pieces(count: stream.count, gaps: gaps)
    let singleBytes = byteByByte && stream.count > 1
        ? (0..<stream.count).map { $0..<($0 + 1) } : nil

    let (items, overflowAt) = checkParser(stream, reference: reference, rest: rest, pieces: pieces, singleBytes: singleBytes,
                                          limit: limit)
    checkTransform(stream, pieces: pieces, singleBytes: singleBytes, settings: settings, limit: limit,
                   complete: complete, items: items, overflowAt: overflowAt)
    return 0
}
