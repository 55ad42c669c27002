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
/// the input, so a consumer can forward untouched parts byte for byte. Work is proportional to
/// the new bytes. Line ends may be LF, CRLF or CR; a leading BOM is skipped for parsing (and
/// kept in the bytes); unknown fields are ignored.
public struct SSEParser: Sendable {
    public enum Item {
        /// A complete event and the bytes that made it (through its terminating blank line).
        case event(SSEEvent, raw: [UInt8])
        /// Bytes that carried no event.
        case other([UInt8])
    }

    var line: [UInt8] = []
    var raw: [UInt8] = []
    var dataLines: [UInt8] = []
    var hasData = false
    var event: String?
    var id: String?
    var lastWasCR = false
    var bomCheck = 0  // bytes of a leading BOM matched so far; -1 once past the start

    public init() {}

    /// Bytes received that are not yet part of a reported item (an event still in progress).
    public var pendingBytes: [UInt8] { raw }

    /// Feeds bytes; calls `emit` for each completed item.
    public mutating func feed(_ bytes: some Sequence<UInt8>, emit: (Item) -> Void) {
        for b in bytes {
            raw.append(b)
            if bomCheck >= 0 {
                let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
                if b == bom[bomCheck] {
                    bomCheck += 1
                    if bomCheck == 3 { bomCheck = -1 }
                    continue
                }
                if bomCheck > 0 { line.append(contentsOf: bom[0..<bomCheck]) }
                bomCheck = -1
            }
            if b == 0x0A {
                if lastWasCR { lastWasCR = false; if !hasData && line.isEmpty && event == nil { flushOther(emit) }; continue }
                endLine(emit)
            } else if b == 0x0D {
                lastWasCR = true
                endLine(emit)
            } else {
                lastWasCR = false
                line.append(b)
            }
        }
    }

    /// Reports the bytes of a partial event still held (at the end of a stream), as `other`.
    public mutating func flushPending(emit: (Item) -> Void) {
        if !raw.isEmpty { emit(.other(raw)) }
        raw.removeAll()
        line.removeAll()
        dataLines.removeAll()
        hasData = false
        event = nil
    }

    mutating func flushOther(_ emit: (Item) -> Void) {
        if !raw.isEmpty { emit(.other(raw)); raw.removeAll(keepingCapacity: true) }
    }

    mutating func endLine(_ emit: (Item) -> Void) {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            if hasData {
                let e = SSEEvent(event: event, id: id, data: String(decoding: dataLines, as: UTF8.self))
                emit(.event(e, raw: raw))
                raw.removeAll(keepingCapacity: true)
            } else {
                flushOther(emit)
            }
            dataLines.removeAll(keepingCapacity: true)
            hasData = false
            event = nil
            return
        }
        if line[0] == UInt8(ascii: ":") {
            // A comment: when no event is in progress, pass it on at once.
            if !hasData && event == nil { flushOther(emit) }
            return
        }
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        let name = line[..<colon]
        var value = colon < line.endIndex ? line[(colon + 1)...] : []
        if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        if name.elementsEqual("data".utf8) {
            if hasData { dataLines.append(0x0A) }
            dataLines.append(contentsOf: value)
            hasData = true
        } else if name.elementsEqual("event".utf8) {
            event = String(decoding: value, as: UTF8.self)
        } else if name.elementsEqual("id".utf8) {
            if !value.contains(0) { id = String(decoding: value, as: UTF8.self) }
        }
    }
}
