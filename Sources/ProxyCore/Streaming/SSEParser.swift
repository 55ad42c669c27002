/// One server-sent event.
public struct SSEEvent: Sendable, Equatable {
    public var event: String?
    public var id: String?
    /// The `data:` lines joined with `\n`.
    public var data: String
}

/// An incremental SSE parser: fed bytes in any pieces, it returns the events completed by them.
/// Work is proportional to the new bytes. Line ends may be LF, CRLF or CR; a leading BOM is
/// skipped; comments and unknown fields are ignored.
public struct SSEParser: Sendable {
    var line: [UInt8] = []
    var dataLines: [UInt8] = []
    var hasData = false
    var event: String?
    var id: String?
    var lastWasCR = false
    var atStart = true

    public init() {}

    /// Feeds bytes; calls `emit` for each completed event.
    public mutating func feed(_ bytes: some Sequence<UInt8>, emit: (SSEEvent) -> Void) {
        for b in bytes {
            if atStart {
                // Skip a UTF-8 BOM at the very start.
                if line.count < 3 && [0xEF, 0xBB, 0xBF][line.count] == b && line.allSatisfy({ $0 >= 0xBB }) {
                    line.append(b)
                    if line.count == 3 { line.removeAll(); atStart = false }
                    continue
                }
                atStart = false
            }
            if b == 0x0A {
                if lastWasCR { lastWasCR = false; continue }
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

    mutating func endLine(_ emit: (SSEEvent) -> Void) {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            if hasData {
                emit(SSEEvent(event: event, id: id, data: String(decoding: dataLines, as: UTF8.self)))
            }
            dataLines.removeAll(keepingCapacity: true)
            hasData = false
            event = nil
            return
        }
        if line[0] == UInt8(ascii: ":") { return }
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
