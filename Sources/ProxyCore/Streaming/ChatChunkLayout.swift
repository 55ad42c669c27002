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

    static let knownKeys: [([UInt8], Key)] = ([
        ("choices", .choices), ("error", .error), ("id", .id), ("created", .created), ("model", .model), ("index", .index),
        ("finish_reason", .finishReason), ("delta", .delta), ("message", .message), ("content", .content), ("reasoning_content", .reasoningContent),
        ("reasoning", .reasoning),
    ] as [(String, Key)]).map { (Array($0.0.utf8), $0.1) }

    /// Walks an object at the cursor, calling `member` with the cursor on each value.
    mutating func object(_ member: (inout JSONScanner, Key) throws(JSONParseError) -> Void) throws(JSONParseError) {
        skipWhitespace()
        guard peek == UInt8(ascii: "{") else { throw fail("expected an object") }
        i += 1
        skipWhitespace()
        if peek == UInt8(ascii: "}") { i += 1; return }
        while true {
            skipWhitespace()
            guard peek == UInt8(ascii: "\"") else { throw fail("expected a member name") }
            let start = i + 1
            let escaped = try skipString()
            let name = UnsafeRawBufferPointer(rebasing: bytes[start..<(i - 1)])
            var key = Key.other
            if !escaped {
                for (k, value) in JSONScanner.knownKeys where k.count == name.count && k.elementsEqual(name) {
                    key = value
                    break
                }
            }
            skipWhitespace()
            guard peek == UInt8(ascii: ":") else { throw fail("expected ':'") }
            i += 1
            skipWhitespace()
            try member(&self, key)
            skipWhitespace()
            guard let n = peek else { throw fail("unexpected end of JSON") }
            if n == UInt8(ascii: ",") { i += 1; continue }
            if n == UInt8(ascii: "}") { i += 1; return }
            throw fail("expected ',' or '}'")
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
