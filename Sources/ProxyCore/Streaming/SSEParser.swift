/// One server-sent event.
public struct SSEEvent: Sendable, Equatable {
    public var event: String?
    public var id: String?
    /// The `data:` lines joined with `\n`.
    public var data: String
}

/// An incremental SSE parser: fed bytes in any pieces, it reports each event once complete,
/// together with the exact bytes it was made of, and hands back bytes that form no event
/// (comments, stray blank lines) as they are. The concatenation of everything reported equals
/// the input, so a consumer can forward untouched parts byte for byte. Lines are found in bulk,
/// and work is proportional to the new bytes. Line ends may be LF, CRLF or CR; a leading BOM is
/// skipped for parsing (and kept in the bytes); unknown fields are ignored.
public struct SSEParser: Sendable {
    public enum Item {
        /// A complete event and the bytes that made it (through its terminating blank line).
        case event(SSEEvent, raw: [UInt8])
        /// Bytes that carried no event.
        case other([UInt8])
    }

    /// A complete event as the fast interface reports it; the buffers are valid during the call.
    public struct RawEvent {
        public var data: UnsafeRawBufferPointer
        public var eventName: String?
        public var id: String?
        public var raw: UnsafeRawBufferPointer
        /// The data came in several `data:` lines (so it holds the LFs that joined them).
        public var isMultiLine = false
    }

    var line: [UInt8] = []
    /// Bytes not yet reported, from the start of the current item.
    var raw: [UInt8] = []
    var dataLines: [UInt8] = []
    var hasData = false
    var multiLine = false
    var event: String?
    var id: String?
    var lastWasCR = false
    var atStart = true
    /// The most bytes of one item the parser holds (`maxEventBytes`), counting an item's last
    /// line end as one byte (CR, LF or CRLF alike); past it the parser drops what it holds, sets
    /// `overflowed` and ignores everything fed after.
    public var maxHeldBytes: Int
    public private(set) var overflowed = false

    public init(maxHeldBytes: Int = .max) {
        self.maxHeldBytes = maxHeldBytes
    }

    /// Bytes of an unfinished item held for the next feed.
    public var heldBytes: Int { raw.count }

    /// Whether `bytes` begin with the LF of a CRLF whose CR ended the last item, in the feed
    /// before. Fed on, that LF is reported as a byte of its own (`onOther`); a consumer that
    /// replaced the item it belongs to can take it instead (`skipLineEndTail`) and drop it.
    public func startsWithLineEndTail(_ bytes: UnsafeRawBufferPointer) -> Bool {
        lastWasCR && raw.isEmpty && !overflowed && bytes.first == 0x0A
    }

    /// Takes the LF `startsWithLineEndTail` found: feed the bytes after it.
    public mutating func skipLineEndTail() { lastWasCR = false }

    /// The fast interface: `onEvent` for each complete event, `onOther` for bytes carrying none.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, onEvent: (RawEvent) -> Void,
                              onOther: (UnsafeRawBufferPointer) -> Void) {
        guard bytes.count > 0, !overflowed else { return }
        if !atStart && !isClean, let cut = SSEParser.firstBlankLineEnd(bytes, afterLineEnd: line.isEmpty) {
            // Finish the event held from earlier bytes on the general path, then go on from a
            // clean state. (Where to cut changes only speed: the parser is incremental.)
            feedLines(UnsafeRawBufferPointer(rebasing: bytes[..<cut]), onEvent: onEvent, onOther: onOther)
            if cut < bytes.count { feed(UnsafeRawBufferPointer(rebasing: bytes[cut...]), onEvent: onEvent, onOther: onOther) }
            return
        }
        // The common shape, read in place while nothing is held from earlier bytes: events that
        // are one `data:` line and a blank line, LF-ended, wholly inside `bytes`.
        if !atStart && isClean {
            var i = 0
            while let (value, end) = SSEParser.simpleEvent(bytes, from: i) {
                if end - i > maxHeldBytes { overflow(); return }
                onEvent(RawEvent(data: UnsafeRawBufferPointer(rebasing: bytes[value]), eventName: nil, id: id,
                                 raw: UnsafeRawBufferPointer(rebasing: bytes[i..<end])))
                i = end
            }
            if i < bytes.count { feedLines(UnsafeRawBufferPointer(rebasing: bytes[i...]), onEvent: onEvent, onOther: onOther) }
            return
        }
        feedLines(bytes, onEvent: onEvent, onOther: onOther)
    }

    static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// Nothing held from earlier bytes: the next byte starts a new line of a new item.
    var isClean: Bool { !lastWasCR && raw.isEmpty && line.isEmpty && !hasData && event == nil }

    /// Just past the first blank line in `b` (an LF after an LF), counting a line end before `b`
    /// when `afterLineEnd`; nil when there is none or a CR comes first.
    static func firstBlankLineEnd(_ b: UnsafeRawBufferPointer, afterLineEnd: Bool) -> Int? {
        var previousWasLF = afterLineEnd
        for p in 0..<b.count {
            let c = b[p]
            if c == 0x0A {
                if previousWasLF { return p + 1 }
                previousWasLF = true
            } else if c == 0x0D {
                return nil
            } else {
                previousWasLF = false
            }
        }
        return nil
    }

    /// Where the value of a one-line `data:` event starting at `i` lies and where the event ends,
    /// when one lies wholly in `b` with LF line ends; nil for anything else.
    static func simpleEvent(_ b: UnsafeRawBufferPointer, from i: Int) -> (Range<Int>, Int)? {
        let n = b.count
        guard n - i >= 7, b[i] == UInt8(ascii: "d"), b[i + 1] == UInt8(ascii: "a"), b[i + 2] == UInt8(ascii: "t"),
              b[i + 3] == UInt8(ascii: "a"), b[i + 4] == UInt8(ascii: ":") else { return nil }
        var v = i + 5
        if b[v] == 0x20 { v += 1 }
        let j = lineEnd(b, from: v)
        guard j + 1 < n, b[j] == 0x0A, b[j + 1] == 0x0A else { return nil }
        return (v..<j, j + 2)
    }

    /// The index of the first LF or CR in `b` at or after `from`, or `b.count`. Looks at eight
    /// bytes at a time: a zero byte in `x ^ pattern` marks a match, and
    /// `(y - 0x01…01) & ~y & 0x80…80` is non-zero exactly when `y` has a zero byte.
    static func lineEnd(_ b: UnsafeRawBufferPointer, from: Int) -> Int {
        guard let base = b.baseAddress else { return b.count }
        let n = b.count
        var j = from
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        while j + 8 <= n {
            let x = base.loadUnaligned(fromByteOffset: j, as: UInt64.self)
            let lf = x ^ (ones &* 0x0A)
            let cr = x ^ (ones &* 0x0D)
            if ((lf &- ones) & ~lf & highs) | ((cr &- ones) & ~cr & highs) != 0 { break }
            j += 8
        }
        while j < n {
            let c = base.load(fromByteOffset: j, as: UInt8.self)
            if c == 0x0A || c == 0x0D { return j }
            j += 1
        }
        return n
    }

    /// The general path: any line ends, fields and pieces, through the held buffers.
    mutating func feedLines(_ bytes: UnsafeRawBufferPointer, onEvent: (RawEvent) -> Void,
                            onOther: (UnsafeRawBufferPointer) -> Void) {
        let n = bytes.count
        guard n > 0 else { return }
        var reported = 0  // bytes of `raw` already reported
        let base = raw.count
        raw.append(contentsOf: bytes)
        var i = 0
        if atStart {
            // A leading BOM is skipped for parsing; it may come split over feeds, so a proper
            // prefix of it is held (in `raw`) until the third byte decides.
            let k = min(3, raw.count)
            if raw[0..<k].elementsEqual(SSEParser.bom[0..<k]) {
                if k < 3 { return }
                i = 3 - base
            } else if base > 0 {
                // What was held as a possible BOM is the start of the first line.
                line.append(contentsOf: raw[0..<base])
            }
            atStart = false
        }
        if lastWasCR && i < n && bytes[i] == 0x0A {
            i += 1
            if base == 0 {
                // The LF of a CRLF whose CR ended the last item in the previous feed: it belongs
                // to that item, which went out already, so it goes out now on its own instead
                // of starting the next item.
                onOther(UnsafeRawBufferPointer(rebasing: bytes[0..<1]))
                reported = 1
            }
        }
        lastWasCR = false
        while i < n {
            var j = i
            while j < n {
                let b = bytes[j]
                if b == 0x0A || b == 0x0D { break }
                j += 1
            }
            if j > i { line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<j])) }
            if j == n { break }
            // A line ended at j.
            var next = j + 1
            if bytes[j] == 0x0D {
                if next < n { if bytes[next] == 0x0A { next += 1 } } else { lastWasCR = true }
            }
            let end = base + next
            // Counted through the line end's first byte: the LF of a CRLF may come in the next
            // feed, and whether an item is over the limit must not depend on where bytes were cut.
            if base + j + 1 - reported > maxHeldBytes { overflow(); return }
            endLine(until: end, reported: &reported, onEvent: onEvent, onOther: onOther)
            i = next
        }
        if reported > 0 { raw.removeFirst(reported) }
        if raw.count > maxHeldBytes { overflow() }
    }

    /// One item grew past `maxHeldBytes`: nothing more is parsed, and what was held is let go.
    mutating func overflow() {
        overflowed = true
        raw = []
        line = []
        dataLines = []
        hasData = false
        multiLine = false
        event = nil
    }

    mutating func endLine(until end: Int, reported: inout Int, onEvent: (RawEvent) -> Void,
                          onOther: (UnsafeRawBufferPointer) -> Void) {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            if hasData {
                let name = event
                let lastID = id
                raw.withUnsafeBytes { r in
                    dataLines.withUnsafeBytes { d in
                        onEvent(RawEvent(data: d, eventName: name, id: lastID, raw: UnsafeRawBufferPointer(rebasing: r[reported..<end]),
                                         isMultiLine: multiLine))
                    }
                }
            } else if end > reported {
                raw.withUnsafeBytes { onOther(UnsafeRawBufferPointer(rebasing: $0[reported..<end])) }
            }
            reported = end
            dataLines.removeAll(keepingCapacity: true)
            hasData = false
            multiLine = false
            event = nil
            return
        }
        if line[0] == UInt8(ascii: ":") {
            // A comment: when no event is in progress, pass it on at once.
            if !hasData && event == nil {
                raw.withUnsafeBytes { onOther(UnsafeRawBufferPointer(rebasing: $0[reported..<end])) }
                reported = end
            }
            return
        }
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        let name = line[..<colon]
        var value = colon < line.endIndex ? line[(colon + 1)...] : []
        if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        if SSEParser.field(name, is: "data") {
            if hasData { dataLines.append(0x0A); multiLine = true }
            dataLines.append(contentsOf: value)
            hasData = true
        } else if SSEParser.field(name, is: "event") {
            event = String(decoding: value, as: UTF8.self)
        } else if SSEParser.field(name, is: "id") {
            if !value.contains(0) { id = String(decoding: value, as: UTF8.self) }
        }
    }

    /// Whether a field name is `expected` (compared byte by byte, no generic sequence walk).
    static func field(_ name: ArraySlice<UInt8>, is expected: StaticString) -> Bool {
        name.withUnsafeBytes { JSONScanner.text($0, is: expected) }
    }

    /// Feeds bytes; calls `emit` for each completed item (the convenient, allocating interface).
    public mutating func feed(_ bytes: some Sequence<UInt8>, emit: (Item) -> Void) {
        let copy = Array(bytes)
        copy.withUnsafeBytes { buf in
            feed(buf, onEvent: { e in
                emit(.event(SSEEvent(event: e.eventName, id: e.id, data: String(decoding: e.data, as: UTF8.self)), raw: Array(e.raw)))
            }, onOther: { emit(.other(Array($0))) })
        }
    }

    /// Reports the bytes of a partial event still held (at the end of a stream), as other bytes.
    public mutating func flushPending(onOther: (UnsafeRawBufferPointer) -> Void) {
        if !raw.isEmpty { raw.withUnsafeBytes { onOther($0) } }
        raw.removeAll()
        line.removeAll()
        dataLines.removeAll()
        hasData = false
        multiLine = false
        event = nil
    }
}
