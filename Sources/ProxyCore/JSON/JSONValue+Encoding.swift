extension JSONValue {
    /// The compact JSON text of this value, as UTF-8 bytes.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        encode(into: &out)
        return out
    }

    /// The compact JSON text of this value.
    public var jsonText: String { String(decoding: encoded(), as: UTF8.self) }

    /// Appends the compact JSON text of this value to `out`.
    public func encode(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: n.utf8)
        case .string(let s): JSONValue.encodeString(s, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, e) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                e.encode(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, (k, v)) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.encodeString(k, into: &out)
                out.append(UInt8(ascii: ":"))
                v.encode(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Appends `s` as a JSON string literal.
    public static func encodeString(_ s: String, into out: inout [UInt8]) {
        encodeString(utf8: s.utf8, into: &out)
    }

    /// Appends UTF-8 text as a JSON string literal.
    public static func encodeString(utf8: some Sequence<UInt8>, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let done: Void? = utf8.withContiguousStorageIfAvailable { appendEscaped(UnsafeRawBufferPointer($0), into: &out) }
        if done == nil {
            for b in utf8 {
                if needsEscape(b) { appendEscape(b, into: &out) } else { out.append(b) }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func needsEscape(_ b: UInt8) -> Bool { b < 0x20 || b == 0x22 || b == 0x5C || b == 0x7F }

    /// Appends `text` escaped: runs of plain bytes in one copy each.
    static func appendEscaped(_ text: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        var run = 0
        for i in 0..<text.count where needsEscape(text[i]) {
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: text[run..<i]))
            appendEscape(text[i], into: &out)
            run = i + 1
        }
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: text[run...]))
    }

    static func appendEscape(_ b: UInt8, into out: inout [UInt8]) {
        switch b {
        case 0x22: out.append(0x5C); out.append(0x22)
        case 0x5C: out.append(0x5C); out.append(0x5C)
        case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
        case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
        case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
        default:
            let hex: StaticString = "0123456789abcdef"
            out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30])
            out.append(hex.utf8Start[Int(b >> 4)])
            out.append(hex.utf8Start[Int(b & 0xF)])
        }
    }
}
