/// A validating, non-allocating pass over a JSON text that finds top-level object members by
/// name and reports where their values lie, so a body can be checked and edited in place
/// without building a `JSONValue`.
public struct JSONScanner {
    /// Where one top-level member's value lies in the text.
    public struct Member: Equatable, Sendable {
        /// The byte range of the value (for a string, including its quotes).
        public var range: Range<Int>
        /// The decoded value when it is a string without escapes (the common case), else nil.
        public var plainString: String?
        /// Whether the value is a string.
        public var isString: Bool
    }

    /// Member names to look for, as bytes, prepared once.
    public struct Keys: Sendable {
        let names: [[UInt8]]
        public init(_ names: [String]) { self.names = names.map { Array($0.utf8) } }
        public var count: Int { names.count }

        /// Which of the names `name` is, if any.
        func index(of name: UnsafeRawBufferPointer) -> Int? {
            for (k, candidate) in names.enumerated() where candidate.count == name.count {
                var j = 0
                while j < name.count && name[j] == candidate[j] { j += 1 }
                if j == name.count { return k }
            }
            return nil
        }
    }

    /// The top-level object's members named in `keys` (by position in `keys`), where its closing
    /// brace is, and whether it has any members at all.
    public struct TopLevel: Sendable {
        public var members: [Member?]
        public var closingBrace: Int
        public var isEmpty: Bool
    }

    /// Scans one JSON object, validating all of it, and reports its shape.
    public static func topLevelObject(_ bytes: UnsafeRawBufferPointer, keys: Keys) throws(JSONParseError) -> TopLevel {
        var s = JSONScanner(bytes: bytes)
        var found = [Member?](repeating: nil, count: keys.count)
        var memberCount = 0
        try s.members { (s: inout JSONScanner, name: UnsafeRawBufferPointer, nameHasEscape: Bool) throws(JSONParseError) in
            memberCount += 1
            let valueStart = s.i
            let valueIsString = s.peek == UInt8(ascii: "\"")
            var valueHasEscape = false
            if valueIsString { valueHasEscape = try s.skipString() } else { try s.skipValue(depth: 1) }
            if !nameHasEscape, let k = keys.index(of: name) {
                var plain: String? = nil
                if valueIsString && !valueHasEscape {
                    plain = String(validating: UnsafeRawBufferPointer(rebasing: bytes[(valueStart + 1)..<(s.i - 1)]), as: UTF8.self)
                }
                found[k] = Member(range: valueStart..<s.i, plainString: plain, isString: valueIsString)
            }
            return true
        }
        let closingBrace = s.i - 1
        s.skipWhitespace()
        guard s.i == bytes.count else { throw s.fail("unexpected data after the JSON value") }
        return TopLevel(members: found, closingBrace: closingBrace, isEmpty: memberCount == 0)
    }

    /// Calls `visit` with each top-level member's raw name (without quotes) and value range,
    /// in order, until it returns false. Allocates nothing; validates what it passes over, so
    /// it throws on malformed JSON before the member `visit` stops at.
    public static func forEachMember(_ bytes: UnsafeRawBufferPointer,
                                     _ visit: (_ name: UnsafeRawBufferPointer, _ value: Range<Int>) -> Bool) throws(JSONParseError) {
        var s = JSONScanner(bytes: bytes)
        try s.members { (s: inout JSONScanner, name: UnsafeRawBufferPointer, _: Bool) throws(JSONParseError) in
            let valueStart = s.i
            try s.skipValue(depth: 1)
            return visit(name, valueStart..<s.i)
        }
    }

    /// Walks an object at the cursor. `member` gets the cursor on each value with the member's
    /// raw name and whether that name has escapes; it must move the cursor past the value, and
    /// returning false stops the walk there. After a whole walk the cursor is past the `}`.
    mutating func members(_ member: (inout JSONScanner, UnsafeRawBufferPointer, Bool) throws(JSONParseError) -> Bool) throws(JSONParseError) {
        skipWhitespace()
        guard peek == UInt8(ascii: "{") else { throw fail("expected a JSON object") }
        i += 1
        skipWhitespace()
        if peek == UInt8(ascii: "}") { i += 1; return }
        while true {
            skipWhitespace()
            guard peek == UInt8(ascii: "\"") else { throw fail("expected a member name") }
            let start = i + 1
            let escaped = try skipString()
            let name = UnsafeRawBufferPointer(rebasing: bytes[start..<(i - 1)])
            skipWhitespace()
            guard peek == UInt8(ascii: ":") else { throw fail("expected ':'") }
            i += 1
            skipWhitespace()
            guard try member(&self, name, escaped) else { return }
            skipWhitespace()
            guard let n = peek else { throw fail("unexpected end of JSON") }
            if n == UInt8(ascii: ",") { i += 1; continue }
            if n == UInt8(ascii: "}") { i += 1; return }
            throw fail("expected ',' or '}'")
        }
    }

    /// Whether raw bytes (a member name, a literal value) are exactly `text`.
    /// Compares eight bytes at a time.
    public static func text(_ raw: UnsafeRawBufferPointer, is text: StaticString) -> Bool {
        let n = text.utf8CodeUnitCount
        guard raw.count == n else { return false }
        guard n > 0 else { return true }
        return bytesEqual(raw.baseAddress!, UnsafeRawPointer(text.utf8Start), n)
    }

    let bytes: UnsafeRawBufferPointer
    var i = 0

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    func fail(_ reason: String) -> JSONParseError { JSONParseError(offset: i, reason: reason) }

    mutating func skipWhitespace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    /// Skips a string starting at its quote; returns whether it had escapes. Checks UTF-8 only
    /// for control bytes and escapes; full validation happens where a value is decoded.
    mutating func skipString() throws(JSONParseError) -> Bool {
        i += 1
        var escaped = false
        let n = bytes.count
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { throw fail("unterminated string") }
        while i < n {
            // Most bytes are plain text: skip them in a tight loop.
            var b = base[i]
            while b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") && b >= 0x20 {
                i += 1
                if i == n { throw fail("unterminated string") }
                b = base[i]
            }
            if b == UInt8(ascii: "\"") { i += 1; return escaped }
            if b < 0x20 { throw fail("control character in string") }
            if b == UInt8(ascii: "\\") {
                escaped = true
                guard i + 1 < bytes.count else { break }
                switch bytes[i + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 2
                case UInt8(ascii: "u"):
                    guard i + 5 < bytes.count, (2...5).allSatisfy({ hexDigitValue(bytes[i + $0]) != nil }) else {
                        throw fail("invalid \\u escape")
                    }
                    i += 6
                default:
                    throw fail("invalid escape")
                }
            }
        }
        throw fail("unterminated string")
    }

    /// `skipString` for the fast paths, eight bytes at a time between escapes: reads the string
    /// whose opening quote is at `start` and returns the index just past its closing quote and
    /// whether it had escapes, or nil exactly where `skipString` throws.
    @inline(__always)
    static func stringEnd(_ bytes: UnsafeRawBufferPointer, from start: Int) -> (end: Int, escaped: Bool)? {
        guard let p = bytes.baseAddress else { return nil }
        let n = bytes.count
        var i = start + 1
        var escaped = false
        while true {
            // Skip plain bytes: anything but a quote, a backslash or a control byte.
            while i + 8 <= n {
                let x = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let special = bytesBelow(x, 0x20) | bytesBelow(x ^ 0x2222_2222_2222_2222, 1)
                    | bytesBelow(x ^ 0x5C5C_5C5C_5C5C_5C5C, 1)
                if special != 0 { i += special.trailingZeroBitCount >> 3; break }
                i += 8
            }
            guard i < n else { return nil }
            let b = bytes[i]
            if b == UInt8(ascii: "\"") { return (i + 1, escaped) }
            if b == UInt8(ascii: "\\") {
                guard i + 1 < n else { return nil }
                switch bytes[i + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 2
                case UInt8(ascii: "u"):
                    guard i + 5 < n, hexDigitValue(bytes[i + 2]) != nil, hexDigitValue(bytes[i + 3]) != nil,
                          hexDigitValue(bytes[i + 4]) != nil, hexDigitValue(bytes[i + 5]) != nil else { return nil }
                    i += 6
                default:
                    return nil
                }
                escaped = true
                continue
            }
            guard b >= 0x20 else { return nil }
            i += 1  // a plain byte in the last, short stretch
        }
    }

    mutating func skipValue(depth: Int) throws(JSONParseError) {
        guard depth <= JSONParser.maxDepth else { throw fail("JSON nested too deeply") }
        guard let b = peek else { throw fail("unexpected end of JSON") }
        switch b {
        case UInt8(ascii: "\""): _ = try skipString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = b == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            let isObject = b == UInt8(ascii: "{")
            i += 1
            skipWhitespace()
            if peek == close { i += 1; return }
            while true {
                skipWhitespace()
                if isObject {
                    guard peek == UInt8(ascii: "\"") else { throw fail("expected a member name") }
                    _ = try skipString()
                    skipWhitespace()
                    guard peek == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    i += 1
                    skipWhitespace()
                }
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard let n = peek else { throw fail("unexpected end of JSON") }
                if n == UInt8(ascii: ",") { i += 1; continue }
                if n == close { i += 1; return }
                throw fail("expected ',' or '\(Character(Unicode.Scalar(close)))'")
            }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default:
            try skipNumber()
        }
    }

    mutating func literal(_ text: StaticString) throws(JSONParseError) {
        let n = text.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw fail("unexpected end of JSON") }
        for k in 0..<n where bytes[i + k] != text.utf8Start[k] { throw fail("invalid literal") }
        i += n
    }

    mutating func skipNumber() throws(JSONParseError) {
        func digit(_ b: UInt8?) -> Bool { b.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
        if peek == UInt8(ascii: "-") { i += 1 }
        guard digit(peek) else { throw fail("invalid number") }
        if peek == UInt8(ascii: "0") { i += 1 } else { while digit(peek) { i += 1 } }
        if peek == UInt8(ascii: ".") {
            i += 1
            guard digit(peek) else { throw fail("invalid number") }
            while digit(peek) { i += 1 }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            i += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { i += 1 }
            guard digit(peek) else { throw fail("invalid number") }
            while digit(peek) { i += 1 }
        }
    }
}

/// Finds a quoted key such as `"usage"` in raw JSON text without reading every byte: a Horspool
/// search that looks at the byte where the key's closing quote would be and skips ahead by up to
/// the key's length, using a table made once per key. A raw (unescaped) quoted name can only be
/// a key or a string value, never text inside a string, so callers check what follows it.
struct QuotedKeySearch: Sendable {
    /// The name with its quotes.
    let key: [UInt8]
    /// How far to move on from each byte value seen where the closing quote would be.
    let shifts: [UInt8]

    init(_ name: StaticString) {
        var key: [UInt8] = [UInt8(ascii: "\"")]
        key.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        key.append(UInt8(ascii: "\""))
        var shifts = [UInt8](repeating: UInt8(key.count), count: 256)
        for (i, b) in key.dropLast().enumerated() { shifts[Int(b)] = UInt8(key.count - 1 - i) }
        self.key = key
        self.shifts = shifts
    }

    static let usage = QuotedKeySearch("usage")

    /// Where the value after a key found at `end` starts: past whitespace and the colon.
    static func valueStart(in text: UnsafeRawBufferPointer, after end: Int) -> Int {
        var j = end
        while j < text.count, text[j] == 0x20 || text[j] == 0x09 || text[j] == 0x0A || text[j] == 0x0D || text[j] == UInt8(ascii: ":") {
            j += 1
        }
        return j
    }

    /// Just past the first occurrence of the quoted key that starts at or after `from`, or nil.
    func next(in text: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard let p = text.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        return key.withUnsafeBufferPointer { k in
            shifts.withUnsafeBufferPointer { shift in
                let m = k.count
                let n = text.count
                var i = from + m - 1
                while i < n {
                    let c = p[i]
                    if c == UInt8(ascii: "\"") {
                        var j = 1
                        while j < m && p[i - j] == k[m - 1 - j] { j += 1 }
                        if j == m { return i + 1 }
                    }
                    i += Int(shift[Int(c)])
                }
                return nil
            }
        }
    }
}
