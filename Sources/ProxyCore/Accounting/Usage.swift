/// Token usage an upstream reported, and what it cost.
public struct Usage: Sendable, Equatable {
    public var promptTokens: Int?
    public var completionTokens: Int?
    /// `usage.cost` as the upstream reported it (OpenRouter and others), in US dollars.
    public var reportedCost: Double?

    public init(promptTokens: Int? = nil, completionTokens: Int? = nil, reportedCost: Double? = nil) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.reportedCost = reportedCost
    }

    /// The `usage` of a whole chat completion body, if it has one. Reads the numbers in place,
    /// without allocating; stops reading at the `usage` member.
    public static func ofCompletion(_ body: UnsafeRawBufferPointer) -> Usage? {
        ofCompletion(body, fromEnd: true)
    }

    /// `fromEnd`: try the quick look for a trailing `usage` member first.
    static func ofCompletion(_ body: UnsafeRawBufferPointer, fromEnd: Bool) -> Usage? {
        var found: Range<Int>? = fromEnd ? trailingUsageObject(body) : nil
        if found == nil {
            do {
                try JSONScanner.forEachMember(body) { name, value in
                    if JSONScanner.text(name, is: "usage") { found = value; return false }
                    return true
                }
            } catch { return nil }
        }
        guard let u = found, body[u.lowerBound] == UInt8(ascii: "{") else { return nil }
        let object = UnsafeRawBufferPointer(rebasing: body[u])
        var usage = Usage()
        do {
            try JSONScanner.forEachMember(object) { name, value in
                if JSONScanner.text(name, is: "prompt_tokens") {
                    usage.promptTokens = count(object, value)
                } else if JSONScanner.text(name, is: "completion_tokens") {
                    usage.completionTokens = count(object, value)
                } else if JSONScanner.text(name, is: "cost") {
                    usage.reportedCost = number(object, value)
                }
                return true
            }
        } catch { return nil }
        if usage.promptTokens == nil && usage.completionTokens == nil && usage.reportedCost == nil { return nil }
        return usage
    }

    /// Where the `usage` object lies when it is the body's last member, found from the end
    /// without reading the rest: `,"usage":{…}}` or `{"usage":{…}}` closing the body, the object
    /// flat (no nested braces or brackets, no escapes). A raw `"usage"` after a raw `,` or `{`
    /// cannot be inside a JSON string, and the brace after its object is the body's last, so
    /// the member belongs to the top-level object. Nil for any other shape (the caller then
    /// walks the members from the start).
    static func trailingUsageObject(_ b: UnsafeRawBufferPointer) -> Range<Int>? {
        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }
        var j = b.count - 1
        while j >= 0 && isSpace(b[j]) { j -= 1 }
        guard j >= 0, b[j] == UInt8(ascii: "}") else { return nil }
        j -= 1
        while j >= 0 && isSpace(b[j]) { j -= 1 }
        guard j >= 0, b[j] == UInt8(ascii: "}") else { return nil }
        let end = j + 1
        j -= 1
        while j >= 0 {
            let c = b[j]
            if c == UInt8(ascii: "{") { break }
            if c == UInt8(ascii: "}") || c == UInt8(ascii: "[") || c == UInt8(ascii: "]") || c == UInt8(ascii: "\\") { return nil }
            j -= 1
        }
        guard j >= 0 else { return nil }
        let start = j
        j -= 1
        while j >= 0 && isSpace(b[j]) { j -= 1 }
        guard j >= 0, b[j] == UInt8(ascii: ":") else { return nil }
        j -= 1
        while j >= 0 && isSpace(b[j]) { j -= 1 }
        guard j >= 7, JSONScanner.text(UnsafeRawBufferPointer(rebasing: b[(j - 6)...j]), is: #""usage""#) else { return nil }
        j -= 7
        while j >= 0 && isSpace(b[j]) { j -= 1 }
        guard j >= 0, b[j] == UInt8(ascii: ",") || b[j] == UInt8(ascii: "{") else { return nil }
        return start..<end
    }

    /// A token count: a non-negative whole number below 10^15, read directly when it is plain digits.
    static func count(_ text: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        if range.count <= 15 {
            var v = 0
            var plain = true
            for i in range {
                let d = text[i] &- 0x30
                if d > 9 { plain = false; break }
                v = v * 10 + Int(d)
            }
            if plain && !range.isEmpty { return v }
        }
        return number(text, range).flatMap { $0 >= 0 && $0 < 1e15 ? Int($0) : nil }
    }

    /// A JSON number as a Double; nil for any other value.
    static func number(_ text: UnsafeRawBufferPointer, _ range: Range<Int>) -> Double? {
        guard let first = range.first, text[first] != UInt8(ascii: "\""), text[first] != UInt8(ascii: "{"),
              text[first] != UInt8(ascii: "[") else { return nil }
        return Double(String(decoding: UnsafeRawBufferPointer(rebasing: text[range]), as: UTF8.self))
    }

    /// The `usage` of a stream chunk, found with a quick look for a `"usage"` object first.
    public static func ofChunk(_ data: UnsafeRawBufferPointer) -> Usage? {
        guard UsageScan.mayHaveUsageObject(data) else { return nil }
        return ofCompletion(data)
    }

    /// The cost in US dollars: the upstream's own `usage.cost` when the provider
    /// supports it and reported one, else tokens times the catalog prices; nil when unknown.
    public func cost(prices: Prices) -> Double? {
        if prices.nativeUSD, let reportedCost { return reportedCost }
        guard prices.prompt1K != nil || prices.completion1K != nil else { return nil }
        guard promptTokens != nil || completionTokens != nil else { return nil }
        let p = Double(promptTokens ?? 0) / 1000 * (prices.prompt1K ?? 0)
        let c = Double(completionTokens ?? 0) / 1000 * (prices.completion1K ?? 0)
        return p + c
    }

    /// The prices that apply to one attempt.
    public struct Prices: Sendable, Equatable {
        public var prompt1K: Double?
        public var completion1K: Double?
        public var nativeUSD: Bool
        public init(prompt1K: Double? = nil, completion1K: Double? = nil, nativeUSD: Bool = false) {
            self.prompt1K = prompt1K
            self.completion1K = completion1K
            self.nativeUSD = nativeUSD
        }
    }
}

enum UsageScan {
    /// Whether `data` has a `"usage"` key followed by an object (not null).
    static func mayHaveUsageObject(_ data: UnsafeRawBufferPointer) -> Bool {
        var from = 0
        while let end = QuotedKeySearch.usage.next(in: data, from: from) {
            let j = QuotedKeySearch.valueStart(in: data, after: end)
            if j < data.count && data[j] == UInt8(ascii: "{") { return true }
            from = end - 1  // its closing quote may open the next key
        }
        return false
    }
}
