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

    static let outerKeys = JSONScanner.Keys(["usage"])
    static let usageKeys = JSONScanner.Keys(["prompt_tokens", "completion_tokens", "cost"])

    /// The `usage` of a whole chat completion body, if it has one. Reads the numbers in place.
    public static func ofCompletion(_ body: UnsafeRawBufferPointer) -> Usage? {
        guard let top = try? JSONScanner.topLevelObject(body, keys: outerKeys), let u = top.members[0],
              body[u.range.lowerBound] == UInt8(ascii: "{") else { return nil }
        let object = UnsafeRawBufferPointer(rebasing: body[u.range])
        guard let fields = try? JSONScanner.topLevelObject(object, keys: usageKeys) else { return nil }
        func number(_ m: JSONScanner.Member?) -> Double? {
            guard let m, !m.isString else { return nil }
            return Double(String(decoding: UnsafeRawBufferPointer(rebasing: object[m.range]), as: UTF8.self))
        }
        let prompt = number(fields.members[0]).flatMap { $0 >= 0 && $0 < 1e15 ? Int($0) : nil }
        let completion = number(fields.members[1]).flatMap { $0 >= 0 && $0 < 1e15 ? Int($0) : nil }
        let cost = number(fields.members[2])
        if prompt == nil && completion == nil && cost == nil { return nil }
        return Usage(promptTokens: prompt, completionTokens: completion, reportedCost: cost)
    }

    /// The `usage` of a stream chunk, found with a quick look for a `"usage"` object first.
    public static func ofChunk(_ data: UnsafeRawBufferPointer) -> Usage? {
        guard UsageScan.mayHaveUsageObject(data) else { return nil }
        return ofCompletion(data)
    }

    /// The cost in US dollars (SPEC §4): the upstream's own `usage.cost` when the provider
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
    /// Whether `data` has a `"usage"` key followed by an object (not null). A raw `"usage"` is
    /// always a key: inside strings its quotes would be escaped.
    static let key: [UInt8] = Array(#""usage""#.utf8)

    static func mayHaveUsageObject(_ data: UnsafeRawBufferPointer) -> Bool {
        let key = UsageScan.key
        var i = 0
        let n = data.count
        while i + key.count < n {
            if data[i] == 0x22 {
                var k = 1
                while k < key.count && data[i + k] == key[k] { k += 1 }
                if k == key.count {
                    var j = i + k
                    while j < n, data[j] == 0x20 || data[j] == 0x09 || data[j] == 0x0A || data[j] == 0x0D || data[j] == UInt8(ascii: ":") { j += 1 }
                    if j < n && data[j] == UInt8(ascii: "{") { return true }
                }
            }
            i += 1
        }
        return false
    }
}
