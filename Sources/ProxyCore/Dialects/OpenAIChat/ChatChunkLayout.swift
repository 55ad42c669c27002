/// Where the parts of a chat-completion chunk that `<think>` processing reads and writes lie in
/// its JSON text, found by one validating pass that allocates nothing per member.
struct ChatChunkLayout: Equatable {
    struct Choice: Equatable {
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
        layout.reset()
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

    /// Empties the layout for a new chunk, keeping the storage of its choice list.
    mutating func reset() {
        choices.removeAll(keepingCapacity: true)
        isError = false
        hasChoices = false
        id = nil
        created = nil
        model = nil
    }

    /// The deepest nesting `quickScan` follows; it declines anything deeper (scan allows more).
    static let quickScanDepth = 64

    /// Fast path for `scan` on a stream chunk (`whole: false`): one flat loop over the bytes with
    /// a small stack of container kinds, where `scan` nests closures and calls the scanner's
    /// readers. It applies the same rules as those readers (strings: no raw control byte, only
    /// JSON's escapes; numbers; `true`, `false`, `null`; whitespace between tokens).
    ///
    /// Contract: when it returns true, `scan(bytes, whole: false, into:)` would also return true
    /// and would leave exactly this layout. It returns false for every text that `scan`
    /// rejects, and may also return false for valid text it does not follow (nesting deeper than
    /// `quickScanDepth`); the caller then runs `scan`. `layout` holds nothing useful after false.
    static func quickScan(_ bytes: UnsafeRawBufferPointer, into layout: inout ChatChunkLayout) -> Bool {
        layout.reset()
        guard let p = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
        let n = bytes.count
        let quote = UInt8(ascii: "\"")
        var i = 0
        // Bit d-1 is set when the open container at depth d is an object (the chunk is depth 1).
        var objects: UInt64 = 0
        var depth = 0
        var route = QuickRoute()
        // Each turn reads one value, the cursor before it; a container's first member or
        // element starts the next turn, and each value is followed by `,` or closing brackets.
        nextValue: while true {
            i = QuickRoute.space(p, n, i)
            guard i < n else { return false }
            let c = p[i]
            if depth == route.path { route.valueStarts(at: i, depth: depth) }
            var closing = false
            if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                guard depth < quickScanDepth else { return false }
                let isObject = c == UInt8(ascii: "{")
                if depth == route.path { guard route.opens(isObject: isObject, depth: depth, layout: &layout) else { return false } }
                if isObject { objects |= 1 << UInt64(depth) } else { objects &= ~(1 << UInt64(depth)) }
                depth += 1
                i = QuickRoute.space(p, n, i + 1)
                if i < n && p[i] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    i += 1
                    closing = true
                } else {
                    if isObject {
                        i = route.name(bytes, p, n, i, depth: depth)
                        guard i >= 0 else { return false }
                    }
                    continue nextValue
                }
            } else {
                guard depth > 0 else { return false }
                if c == quote {
                    guard let (end, escaped) = JSONScanner.stringEnd(bytes, from: i) else { return false }
                    i = end
                    route.lastStringEscaped = escaped
                } else {
                    i = QuickRoute.scalar(p, n, i)
                    guard i >= 0 else { return false }
                }
                if depth == route.path { route.ended(p, i, depth: depth, ownFrame: false, layout: &layout) }
            }
            // After a value: `,` and the next one, or the end of the container (and perhaps more).
            while true {
                let inObject = (objects >> UInt64(depth - 1)) & 1 == 1
                if !closing {
                    i = QuickRoute.space(p, n, i)
                    guard i < n else { return false }
                    if p[i] == UInt8(ascii: ",") {
                        if inObject {
                            i = route.name(bytes, p, n, i + 1, depth: depth)
                            guard i >= 0 else { return false }
                        } else {
                            i += 1
                        }
                        continue nextValue
                    }
                    guard p[i] == (inObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) else { return false }
                    i += 1
                }
                closing = false
                // The container at `depth` ended just before the cursor.
                let ownFrame = route.path == depth
                if ownFrame { route.path -= 1 }
                depth -= 1
                if depth == 0 { return QuickRoute.space(p, n, i) == n }
                if depth == route.path { route.ended(p, i, depth: depth, ownFrame: ownFrame, layout: &layout) }
            }
        }
    }

    /// The integer a choice's `index` value reads as, as `scan` reads it (`Int` of the raw
    /// text): plain digits directly, anything else through `Int(String)`.
    static func integer(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        var k = range.lowerBound
        let negative = bytes[k] == UInt8(ascii: "-")
        if negative { k += 1 }
        let digits = k
        var value = 0
        while k < range.upperBound, k - digits < 18, bytes[k] >= 0x30, bytes[k] <= 0x39 {
            value = value * 10 + Int(bytes[k] - 0x30)
            k += 1
        }
        if k == range.upperBound && k > digits { return negative ? -value : value }
        return Int(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self))
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

/// What `ChatChunkLayout.quickScan` keeps while it walks a chunk: where on the route to the
/// delta it is, the member being read in each object on that route, and the choice being read;
/// with the small readers it calls. Readers return the index past what they read, or -1 where
/// the text is not valid JSON (exactly where `JSONScanner` would throw).
struct QuickRoute {
    /// How many open containers, counted from the outside, lie on the route `<think>`
    /// processing reads: the chunk (1), its `choices` array (2), a choice (3), its `delta` (4).
    var path = 0
    var topKey = JSONScanner.Key.other, topStart = 0
    var choiceKey = JSONScanner.Key.other, choiceStart = 0
    var deltaKey = JSONScanner.Key.other, deltaStart = 0
    var choice = ChatChunkLayout.Choice(index: 0)
    var position = 0
    var lastStringEscaped = false

    @inline(__always)
    static func space(_ p: UnsafePointer<UInt8>, _ n: Int, _ from: Int) -> Int {
        var i = from
        while i < n {
            let c = p[i]
            guard c <= 0x20, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return i }
            i += 1
        }
        return i
    }

    /// A value of the container at `depth` (on the route) starts at `i`.
    @inline(__always)
    mutating func valueStarts(at i: Int, depth: Int) {
        switch depth {
        case 1: topStart = i
        case 3: choiceStart = i
        case 4: deltaStart = i
        default: break
        }
    }

    /// A container opens as a value of the container at `depth`, which is on the route: extends
    /// the route when it is the next step. False when it cannot start the text (not an object).
    mutating func opens(isObject: Bool, depth: Int, layout: inout ChatChunkLayout) -> Bool {
        if depth == 0 {
            guard isObject else { return false }
            path = 1
        } else if depth == 1 && topKey == .choices && !isObject {
            path = 2
            position = 0
            layout.hasChoices = true
        } else if depth == 2 && isObject {
            path = 3
            choice = ChatChunkLayout.Choice(index: position)
            choice.position = position
        } else if depth == 3 && choiceKey == .delta && isObject {
            path = 4
        }
        return true
    }

    /// Reads a member name and its colon, the cursor before the name, in the object at `depth`.
    mutating func name(_ bytes: UnsafeRawBufferPointer, _ p: UnsafePointer<UInt8>, _ n: Int, _ from: Int, depth: Int) -> Int {
        var i = QuickRoute.space(p, n, from)
        guard i < n, p[i] == UInt8(ascii: "\"") else { return -1 }
        guard let (end, escaped) = JSONScanner.stringEnd(bytes, from: i) else { return -1 }
        if depth == path {
            let key = escaped ? JSONScanner.Key.other : JSONScanner.key(UnsafeRawBufferPointer(start: p + i + 1, count: end - i - 2))
            switch depth {
            case 1: topKey = key
            case 3: choiceKey = key
            default: deltaKey = key
            }
        }
        i = QuickRoute.space(p, n, end)
        guard i < n, p[i] == UInt8(ascii: ":") else { return -1 }
        return i + 1
    }

    /// Reads a number or literal at `from`.
    static func scalar(_ p: UnsafePointer<UInt8>, _ n: Int, _ from: Int) -> Int {
        func word(_ text: StaticString) -> Int {
            let count = text.utf8CodeUnitCount
            guard n - from >= count else { return -1 }
            for k in 0..<count where p[from + k] != text.utf8Start[k] { return -1 }
            return from + count
        }
        switch p[from] {
        case UInt8(ascii: "t"): return word("true")
        case UInt8(ascii: "f"): return word("false")
        case UInt8(ascii: "n"): return word("null")
        default: break
        }
        func isDigit(_ k: Int) -> Bool { k < n && p[k] >= 0x30 && p[k] <= 0x39 }
        var i = from
        if p[i] == UInt8(ascii: "-") { i += 1 }
        guard isDigit(i) else { return -1 }
        if p[i] == UInt8(ascii: "0") { i += 1 } else { while isDigit(i) { i += 1 } }
        if i < n && p[i] == UInt8(ascii: ".") {
            i += 1
            guard isDigit(i) else { return -1 }
            while isDigit(i) { i += 1 }
        }
        if i < n && (p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E")) {
            i += 1
            if i < n && (p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-")) { i += 1 }
            guard isDigit(i) else { return -1 }
            while isDigit(i) { i += 1 }
        }
        return i
    }

    /// A value has ended at `end`, inside the container at `depth`, which is on the route.
    /// `ownFrame`: the value was itself a container on the route. Does what `scan` does there.
    mutating func ended(_ p: UnsafePointer<UInt8>, _ end: Int, depth: Int, ownFrame: Bool, layout: inout ChatChunkLayout) {
        let quote = UInt8(ascii: "\"")
        switch depth {
        case 1:
            switch topKey {
            case .error: layout.isError = true
            case .id: layout.id = topStart..<end
            case .created: layout.created = topStart..<end
            case .model: layout.model = topStart..<end
            default: break
            }
        case 2:
            if ownFrame {
                layout.choices.append(choice)
            } else {
                // Not an object: a choice with nothing but its position, as `scan` makes it.
                var c = ChatChunkLayout.Choice(index: position)
                c.position = position
                layout.choices.append(c)
            }
            position += 1
        case 3:
            switch choiceKey {
            case .index:
                if let v = ChatChunkLayout.integer(UnsafeRawBufferPointer(start: p, count: end), choiceStart..<end) { choice.index = v }
            case .finishReason: choice.finishing = p[choiceStart] != UInt8(ascii: "n")
            case .delta: if ownFrame { choice.delta = choiceStart..<end }
            default: break
            }
        default:
            choice.deltaIsEmpty = false
            switch deltaKey {
            case .content:
                choice.contentIsString = p[deltaStart] == quote
                if choice.contentIsString { choice.contentHasEscapes = lastStringEscaped }
                choice.content = deltaStart..<end
            case .reasoningContent, .reasoning:
                let isNull = p[deltaStart] == UInt8(ascii: "n")
                let isEmptyString = end - deltaStart == 2 && p[deltaStart] == quote
                if !isNull && !isEmptyString { choice.ownReasoning = true }
            default:
                break
            }
        }
    }
}

extension JSONScanner {
    /// The member names chat-chunk scanning looks for; anything else is `other`.
    enum Key {
        case choices, error, id, created, model, index, finishReason, delta, message, content, reasoningContent, reasoning, other
    }

    /// Classifies a member name by its length and first byte, then one comparison: no
    /// allocation, no table walk.
    static func key(_ name: UnsafeRawBufferPointer) -> Key {
        guard let base = name.baseAddress else { return .other }
        @inline(__always) func equals(_ literal: StaticString, _ key: Key) -> Key {
            // The lengths are equal (the switch below): compare the bytes, eight at a time.
            bytesEqual(base, UnsafeRawPointer(literal.utf8Start), name.count) ? key : .other
        }
        let first = base.load(as: UInt8.self)
        switch name.count {
        case 2: return equals("id", .id)
        case 5:
            switch first {
            case UInt8(ascii: "i"): return equals("index", .index)
            case UInt8(ascii: "d"): return equals("delta", .delta)
            case UInt8(ascii: "m"): return equals("model", .model)
            case UInt8(ascii: "e"): return equals("error", .error)
            default: return .other
            }
        case 7:
            switch first {
            case UInt8(ascii: "c"):
                switch name[2] {
                case UInt8(ascii: "n"): return equals("content", .content)
                case UInt8(ascii: "o"): return equals("choices", .choices)
                case UInt8(ascii: "e"): return equals("created", .created)
                default: return .other
                }
            case UInt8(ascii: "m"): return equals("message", .message)
            default: return .other
            }
        case 9: return equals("reasoning", .reasoning)
        case 13: return equals("finish_reason", .finishReason)
        case 17: return equals("reasoning_content", .reasoningContent)
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

/// The bytes around the content string of a chunk already scanned. Streams repeat one envelope
/// (`{"id":…,"choices":[{"index":0,"delta":{"content":` … `},"finish_reason":null}]}`) with only
/// the text changing, so a chunk whose bytes before and after its content string are the
/// envelope's, around a valid string, has the envelope's layout with the ranges past the string
/// moved: no scan needed.
struct ChunkEnvelope {
    /// The bytes before the content string, then the bytes after it.
    private var bytes: [UInt8] = []
    private var prefixCount = 0
    /// The remembered chunk's layout, kept by its parts (a copy of the list would make the
    /// rewriter's own list copy itself on its next change), and where its content string ended.
    private var choice = ChatChunkLayout.Choice(index: 0)
    private var id: Range<Int>?
    private var created: Range<Int>?
    private var model: Range<Int>?
    private var isError = false
    private var contentEnd = 0
    /// The usual shape, settled when remembered: `id`, `created` and `model` lie before the
    /// content string, and the delta holds it. Then only the delta's end moves.
    private var usualShape = false
    private var isSet = false

    /// Remembers `data`'s envelope when `layout`, the one `scan` gives `data` (and `scan`
    /// accepted it), has one choice whose content is a string, and returns true; else false,
    /// keeping what it had.
    mutating func remember(_ data: UnsafeRawBufferPointer, _ layout: ChatChunkLayout) -> Bool {
        guard layout.choices.count == 1, let content = layout.choices[0].content, layout.choices[0].contentIsString else { return false }
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[..<content.lowerBound]))
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[content.upperBound...]))
        prefixCount = content.lowerBound
        contentEnd = content.upperBound
        choice = layout.choices[0]
        id = layout.id
        created = layout.created
        model = layout.model
        isError = layout.isError
        func before(_ r: Range<Int>?) -> Bool { r.map { $0.upperBound <= content.lowerBound } ?? true }
        let delta = choice.delta ?? content
        usualShape = before(id) && before(created) && before(model) && delta.lowerBound < content.lowerBound && delta.upperBound > content.upperBound
        isSet = true
        return true
    }

    /// Fast path for `ChatChunkLayout.scan` on a stream chunk.
    ///
    /// Contract: true only when `data` is the remembered envelope around a content string that
    /// the scanner's own string reader accepts; then `data` is valid wherever the remembered
    /// chunk was (one string token stands where another stood) and `layout` is exactly what
    /// `scan` makes of it: the remembered layout with the new content range and escape flag,
    /// and every bound past the old string moved by the change in length. False for anything
    /// else, with `layout` left in any state; the caller then scans.
    func match(_ data: UnsafeRawBufferPointer, into layout: inout ChatChunkLayout) -> Bool {
        guard isSet, let p = data.baseAddress else { return false }
        let n = data.count
        let suffixCount = bytes.count - prefixCount
        guard n >= bytes.count + 2, data[prefixCount] == UInt8(ascii: "\"") else { return false }
        return bytes.withUnsafeBytes { e in
            guard bytesEqual(p, e.baseAddress!, prefixCount) else { return false }
            // The content string, read and checked as `scan` reads it.
            guard let (end, escaped) = JSONScanner.stringEnd(data, from: prefixCount),
                  n - end == suffixCount, bytesEqual(p + end, e.baseAddress! + prefixCount, suffixCount) else { return false }
            let shift = end - contentEnd
            var c = choice
            c.content = prefixCount..<end
            c.contentHasEscapes = escaped
            layout.isError = isError
            layout.hasChoices = true
            if usualShape {
                c.delta = c.delta!.lowerBound..<(c.delta!.upperBound + shift)
                layout.id = id
                layout.created = created
                layout.model = model
            } else {
                let old = contentEnd
                func moved(_ r: Range<Int>?) -> Range<Int>? {
                    guard let r else { return nil }
                    return (r.lowerBound >= old ? r.lowerBound + shift : r.lowerBound)..<(r.upperBound >= old ? r.upperBound + shift : r.upperBound)
                }
                c.delta = moved(c.delta)
                layout.id = moved(id)
                layout.created = moved(created)
                layout.model = moved(model)
            }
            if layout.choices.count == 1 { layout.choices[0] = c } else {
                layout.choices.removeAll(keepingCapacity: true)
                layout.choices.append(c)
            }
            return true
        }
    }
}
