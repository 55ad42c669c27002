/// Where the parts of a chat-completion chunk that `<think>` processing reads and writes lie in
/// its JSON text, found by one validating pass that allocates nothing per member.
struct ChatChunkLayout {
    struct Choice {
        var index: Int
        /// Position in the `choices` array.
        var position = 0
        /// The `delta` object, braces included.
        var delta: Range<Int>?
        var deltaIsEmpty = true
        /// The value of `delta.content`.
        var content: Range<Int>?
        var contentIsString = false
        var contentHasEscapes = false
        /// `delta` carries a non-empty `reasoning_content` or `reasoning` of its own.
        var ownReasoning = false
        /// `finish_reason` is present and not null.
        var finishing = false
    }

    var isError = false
    var hasChoices = false
    var choices: [Choice] = []
    var id: Range<Int>?
    var created: Range<Int>?
    var model: Range<Int>?

    /// Scans `bytes`; nil when it is not a JSON object. `whole` reads a complete chat completion
    /// (`choices[].message`) instead of a chunk (`choices[].delta`).
    static func scan(_ bytes: UnsafeRawBufferPointer, whole: Bool = false) -> ChatChunkLayout? {
        var layout = ChatChunkLayout()
        return scan(bytes, whole: whole, into: &layout) ? layout : nil
    }

    /// Scans into `layout`, reusing its storage; false when `bytes` is not a JSON object.
    static func scan(_ bytes: UnsafeRawBufferPointer, whole: Bool, into layout: inout ChatChunkLayout) -> Bool {
        var s = JSONScanner(bytes: bytes)
        layout.choices.removeAll(keepingCapacity: true)
        layout.isError = false
        layout.hasChoices = false
        layout.id = nil
        layout.created = nil
        layout.model = nil
        do {
            try s.object { (s: inout JSONScanner, key: JSONScanner.Key) throws(JSONParseError) in
                switch key {
                case .choices:
                    guard s.peek == UInt8(ascii: "[") else { try s.skipValue(depth: 1); return }
                    layout.hasChoices = true
                    var position = 0
                    try s.array { (s: inout JSONScanner) throws(JSONParseError) in
                        layout.choices.append(try scanChoice(&s, position: position, container: whole ? .message : .delta))
                        position += 1
                    }
                case .error: layout.isError = true; try s.skipValue(depth: 1)
                case .id: let a = s.i; try s.skipValue(depth: 1); layout.id = a..<s.i
                case .created: let a = s.i; try s.skipValue(depth: 1); layout.created = a..<s.i
                case .model: let a = s.i; try s.skipValue(depth: 1); layout.model = a..<s.i
                default: try s.skipValue(depth: 1)
                }
            }
            s.skipWhitespace()
            guard s.i == bytes.count else { return false }
        } catch {
            return false
        }
        return true
    }

    /// A flat pass for the common chunk: one choice, at most one `content`, `delta` and `index`
    /// key, no `error`. Visits each string once, no recursion; a raw key cannot occur inside a
    /// JSON string, so keys are recognized by what follows them. Returns false for anything
    /// else (several choices, tool-call indexes, logprobs' own `content`, errors), and the caller
    /// falls back to the full scan. It does not validate: a malformed chunk may pass through.
    static func quickScan(_ b: UnsafeRawBufferPointer, into layout: inout ChatChunkLayout) -> Bool {
        let n = b.count
        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }
        var choice = Choice(index: 0)
        var counts = (index: 0, content: 0, delta: 0, choices: 0)
        var i = 0
        while i < n {
            guard b[i] == 0x22 else { i += 1; continue }
            // A string: find its end.
            let start = i + 1
            var escaped = false
            i = start
            while i < n {
                let d = b[i]
                if d == 0x5C { escaped = true; i += 2; continue }
                if d == 0x22 { break }
                i += 1
            }
            guard i < n else { return false }
            let end = i
            i += 1
            var j = i
            while j < n && isSpace(b[j]) { j += 1 }
            guard j < n, b[j] == UInt8(ascii: ":") else { continue }  // a value, not a key
            if escaped { return false }
            j += 1
            while j < n && isSpace(b[j]) { j += 1 }
            guard j < n else { return false }
            switch JSONScanner.key(UnsafeRawBufferPointer(rebasing: b[start..<end])) {
            case .choices:
                counts.choices += 1
                guard b[j] == UInt8(ascii: "[") else { return false }
            case .index:
                counts.index += 1
                var v = 0, k = j
                while k < n, b[k] >= 0x30, b[k] <= 0x39, k - j < 9 { v = v * 10 + Int(b[k] - 0x30); k += 1 }
                guard k > j else { return false }
                choice.index = v
            case .delta:
                counts.delta += 1
                guard b[j] == UInt8(ascii: "{") else { return false }
                var k = j + 1
                while k < n && isSpace(b[k]) { k += 1 }
                choice.deltaIsEmpty = k < n && b[k] == UInt8(ascii: "}")
                choice.delta = j..<(j + 1)  // only the opening brace is used
            case .content:
                counts.content += 1
                if b[j] == 0x22 {
                    var k = j + 1
                    var esc = false
                    while k < n {
                        if b[k] == 0x5C { esc = true; k += 2; continue }
                        if b[k] == 0x22 { break }
                        k += 1
                    }
                    guard k < n else { return false }
                    choice.content = j..<(k + 1)
                    choice.contentIsString = true
                    choice.contentHasEscapes = esc
                    i = k + 1
                    continue
                } else if n - j >= 4 && b[j] == UInt8(ascii: "n") {
                    choice.content = j..<(j + 4)
                } else {
                    return false
                }
            case .reasoningContent, .reasoning:
                let isNull = b[j] == UInt8(ascii: "n")
                let isEmpty = j + 1 < n && b[j] == 0x22 && b[j + 1] == 0x22
                if !isNull && !isEmpty { choice.ownReasoning = true }
            case .finishReason:
                choice.finishing = b[j] != UInt8(ascii: "n")
            case .error, .message:
                return false
            default:
                break
            }
            i = j
        }
        guard counts.choices == 1, counts.index <= 1, counts.content <= 1, counts.delta <= 1 else { return false }
        // A choice with no index and no delta but something to act on: leave it to the full scan.
        if counts.index == 0 && counts.delta == 0 && (choice.finishing || counts.content > 0) { return false }
        layout.choices.removeAll(keepingCapacity: true)
        layout.isError = false
        layout.hasChoices = true
        // A chunk with no index key has no choice (the usage chunk's empty array), unless it has a delta.
        if counts.index == 1 || counts.delta == 1 { layout.choices.append(choice) }
        return true
    }

    static func scanChoice(_ s: inout JSONScanner, position: Int, container: JSONScanner.Key) throws(JSONParseError) -> Choice {
        var c = Choice(index: position)
        c.position = position
        guard s.peek == UInt8(ascii: "{") else { try s.skipValue(depth: 2); return c }
        try s.object { (s: inout JSONScanner, key: JSONScanner.Key) throws(JSONParseError) in
            switch key {
            case .index:
                let a = s.i
                try s.skipValue(depth: 3)
                if let v = Int(String(decoding: UnsafeRawBufferPointer(rebasing: s.bytes[a..<s.i]), as: UTF8.self)) { c.index = v }
            case .finishReason:
                c.finishing = s.peek != UInt8(ascii: "n")
                try s.skipValue(depth: 3)
            case container:
                let a = s.i
                guard s.peek == UInt8(ascii: "{") else { try s.skipValue(depth: 3); return }
                try s.object { (s: inout JSONScanner, key: JSONScanner.Key) throws(JSONParseError) in
                    c.deltaIsEmpty = false
                    switch key {
                    case .content:
                        let v = s.i
                        c.contentIsString = s.peek == UInt8(ascii: "\"")
                        if c.contentIsString { c.contentHasEscapes = try s.skipString() } else { try s.skipValue(depth: 4) }
                        c.content = v..<s.i
                    case .reasoningContent, .reasoning:
                        let v = s.i
                        try s.skipValue(depth: 4)
                        let isNull = s.bytes[v] == UInt8(ascii: "n")
                        let isEmptyString = s.i - v == 2 && s.bytes[v] == UInt8(ascii: "\"")
                        if !isNull && !isEmptyString { c.ownReasoning = true }
                    default:
                        try s.skipValue(depth: 4)
                    }
                }
                c.delta = a..<s.i
            default:
                try s.skipValue(depth: 3)
            }
        }
        return c
    }
}

extension JSONScanner {
    /// The member names chat-chunk scanning looks for; anything else is `other`.
    enum Key {
        case choices, error, id, created, model, index, finishReason, delta, message, content, reasoningContent, reasoning, other
    }

    /// Classifies a member name by its length, then its bytes: no allocation, no table walk.
    static func key(_ name: UnsafeRawBufferPointer) -> Key {
        func equals(_ literal: StaticString) -> Bool { JSONScanner.text(name, is: literal) }
        switch name.count {
        case 2: return equals("id") ? .id : .other
        case 5:
            if equals("index") { return .index }
            if equals("delta") { return .delta }
            if equals("model") { return .model }
            if equals("error") { return .error }
            return .other
        case 7:
            if equals("content") { return .content }
            if equals("choices") { return .choices }
            if equals("created") { return .created }
            if equals("message") { return .message }
            return .other
        case 9: return equals("reasoning") ? .reasoning : .other
        case 13: return equals("finish_reason") ? .finishReason : .other
        case 17: return equals("reasoning_content") ? .reasoningContent : .other
        default: return .other
        }
    }

    /// Walks an object at the cursor, calling `member` with the cursor on each value.
    mutating func object(_ member: (inout JSONScanner, Key) throws(JSONParseError) -> Void) throws(JSONParseError) {
        try members { (s: inout JSONScanner, name: UnsafeRawBufferPointer, escaped: Bool) throws(JSONParseError) in
            try member(&s, escaped ? Key.other : JSONScanner.key(name))
            return true
        }
    }

    /// Walks an array at the cursor, calling `element` with the cursor on each element.
    mutating func array(_ element: (inout JSONScanner) throws(JSONParseError) -> Void) throws(JSONParseError) {
        guard peek == UInt8(ascii: "[") else { throw fail("expected an array") }
        i += 1
        skipWhitespace()
        if peek == UInt8(ascii: "]") { i += 1; return }
        while true {
            skipWhitespace()
            try element(&self)
            skipWhitespace()
            guard let n = peek else { throw fail("unexpected end of JSON") }
            if n == UInt8(ascii: ",") { i += 1; continue }
            if n == UInt8(ascii: "]") { i += 1; return }
            throw fail("expected ',' or ']'")
        }
    }
}

/// The bytes around the content string of the last chunk `quickScan` read. Streams repeat one
/// envelope (`{"id":…,"choices":[{"index":0,"delta":{"content":` … `},"finish_reason":null}]}`)
/// with only the text changing, so a chunk whose bytes before and after its content string are
/// the envelope's has the same layout, shifted: no scan needed. Anything else falls back to
/// `quickScan`. Like `quickScan` it does not validate.
struct ChunkEnvelope {
    /// The bytes before the content string, then the bytes after it.
    private var bytes: [UInt8] = []
    private var prefixCount = 0
    private var choice = ChatChunkLayout.Choice(index: 0)
    private var isSet = false

    /// Remembers `data`'s envelope when `layout` (just scanned from it) has one choice whose
    /// content is a string; forgets it otherwise.
    mutating func remember(_ data: UnsafeRawBufferPointer, _ layout: ChatChunkLayout) {
        guard layout.choices.count == 1, let content = layout.choices[0].content, layout.choices[0].contentIsString else {
            isSet = false
            return
        }
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[..<content.lowerBound]))
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[content.upperBound...]))
        prefixCount = content.lowerBound
        choice = layout.choices[0]
        isSet = true
    }

    /// Fills `layout` for `data` when `data` has the remembered envelope.
    func match(_ data: UnsafeRawBufferPointer, into layout: inout ChatChunkLayout) -> Bool {
        guard isSet, let p = data.baseAddress else { return false }
        let n = data.count
        let suffixCount = bytes.count - prefixCount
        guard n >= bytes.count + 2, data[prefixCount] == UInt8(ascii: "\"") else { return false }
        return bytes.withUnsafeBytes { e in
            guard ChunkEnvelope.equal(p, e.baseAddress!, prefixCount) else { return false }
            // The content string: up to its unescaped closing quote.
            var i = prefixCount + 1
            var escaped = false
            while i < n {
                let b = data[i]
                if b == 0x5C { escaped = true; i += 2; continue }
                if b == 0x22 { break }
                i += 1
            }
            guard i < n, n - (i + 1) == suffixCount,
                  ChunkEnvelope.equal(p + (i + 1), e.baseAddress! + prefixCount, suffixCount) else { return false }
            var c = choice
            c.content = prefixCount..<(i + 1)
            c.contentHasEscapes = escaped
            layout.isError = false
            layout.hasChoices = true
            if layout.choices.count == 1 { layout.choices[0] = c } else {
                layout.choices.removeAll(keepingCapacity: true)
                layout.choices.append(c)
            }
            return true
        }
    }

    /// Whether `count` bytes at `a` and `b` are equal, eight at a time.
    static func equal(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        var k = 0
        while k + 8 <= count {
            if a.loadUnaligned(fromByteOffset: k, as: UInt64.self) != b.loadUnaligned(fromByteOffset: k, as: UInt64.self) { return false }
            k += 8
        }
        while k < count {
            if a.load(fromByteOffset: k, as: UInt8.self) != b.load(fromByteOffset: k, as: UInt8.self) { return false }
            k += 1
        }
        return true
    }
}
