/// Applies `<think>` processing to chat-completion chunks, keeping a `ThinkSplitter` per choice
/// index. A chunk that needs no change is reported as unchanged so its bytes can be forwarded
/// as they came; everything in a changed chunk other than the delta's text fields is kept.
public struct ChatChunkRewriter: Sendable {
    public let think: ThinkSettings

    struct Choice: Sendable {
        var splitter: ThinkSplitter
        /// The upstream sends its own reasoning field for this choice: leave it alone.
        var leftAlone = false
        var sawText = false
        var finished = false
    }

    var choices: [Int: Choice] = [:]
    /// Fields copied into a chunk proxyd has to make itself (a final flush).
    var lastID: JSONValue = .string("chatcmpl-proxyd")
    var lastCreated: JSONValue = .int(0)
    var lastModel: JSONValue = .string("")

    public init(think: ThinkSettings) { self.think = think }

    /// Whether every choice seen so far passes its text through untouched.
    public var allPassingThrough: Bool {
        choices.values.allSatisfy { $0.leftAlone || $0.finished || $0.splitter.isPassingThrough }
    }

    /// Rewrites one parsed chunk. Returns nil when the chunk needs no change.
    public mutating func rewrite(_ chunk: JSONValue) -> JSONValue? {
        guard case .object(var members) = chunk, chunk["error"] == nil else { return nil }
        if let v = chunk["id"] { lastID = v }
        if let v = chunk["created"] { lastCreated = v }
        if let v = chunk["model"] { lastModel = v }
        guard let ci = members.firstIndex(where: { $0.0 == "choices" }), case .array(var list) = members[ci].1 else { return nil }
        var changed = false
        for (position, choice) in list.enumerated() {
            guard case .object = choice else { continue }
            let index = choice["index"]?.intValue ?? position
            if let updated = rewriteChoice(choice, index: index) {
                list[position] = updated
                changed = true
            }
        }
        guard changed else { return nil }
        members[ci].1 = .array(list)
        return .object(members)
    }

    mutating func rewriteChoice(_ choice: JSONValue, index: Int) -> JSONValue? {
        var state = choices[index] ?? Choice(splitter: ThinkSplitter(tags: think.tags, assumeOpen: think.assumeOpen))
        defer { choices[index] = state }
        if state.leftAlone || state.finished { return nil }
        let delta = choice["delta"] ?? .object([])
        let text = delta["content"]?.stringValue ?? ""
        let finishing = choice["finish_reason"].map { $0 != .null } ?? false
        if !state.sawText {
            let ownReasoning = [delta["reasoning_content"], delta["reasoning"]].contains { v in
                if let v, v != .null, v.stringValue != "" { return true }
                return false
            }
            if ownReasoning { state.leftAlone = true; return nil }
            if !text.isEmpty { state.sawText = true }
        }
        var out = ThinkSplitter.Output()
        if !text.isEmpty { state.splitter.feed(text.utf8, into: &out) }
        if finishing {
            state.splitter.finish(into: &out)
            state.finished = true
        }
        // Unchanged: no text, or text that came out as the same answer.
        if out.reasoning.isEmpty && out.content.elementsEqual(text.utf8) { return nil }
        return choice.setting("delta", to: apply(out, to: delta))
    }

    /// The delta with its content replaced by the answer part and the reasoning field added.
    func apply(_ out: ThinkSplitter.Output, to delta: JSONValue) -> JSONValue {
        var d = delta
        if d["content"] != nil || !out.content.isEmpty {
            d = d.setting("content", to: .string(String(decoding: out.content, as: UTF8.self)))
        }
        if think.mode == .split && !out.reasoning.isEmpty {
            d = d.setting(think.field, to: .string(String(decoding: out.reasoning, as: UTF8.self)))
        }
        return d
    }

    /// Releases text still held for choices that never finished (end of stream), as one chunk
    /// proxyd makes itself; nil when nothing is held.
    public mutating func flushChunk() -> JSONValue? {
        var flushed: [JSONValue] = []
        for index in choices.keys.sorted() {
            guard var state = choices[index], !state.leftAlone, !state.finished else { continue }
            var out = ThinkSplitter.Output()
            state.splitter.finish(into: &out)
            state.finished = true
            choices[index] = state
            if out.isEmpty { continue }
            flushed.append(.object([("index", .int(index)), ("delta", apply(out, to: .object([]))), ("finish_reason", .null)]))
        }
        guard !flushed.isEmpty else { return nil }
        return .object([("id", lastID), ("object", .string("chat.completion.chunk")), ("created", lastCreated),
                        ("model", lastModel), ("choices", .array(flushed))])
    }

    /// Applies the same rules to a whole (non-streamed) chat completion: every choice's
    /// `message.content`. Returns nil when nothing changes.
    public static func rewriteWhole(_ completion: JSONValue, think: ThinkSettings) -> JSONValue? {
        guard think.mode != .off, case .object(var members) = completion,
              let ci = members.firstIndex(where: { $0.0 == "choices" }), case .array(var list) = members[ci].1 else { return nil }
        var changed = false
        for (position, choice) in list.enumerated() {
            guard let message = choice["message"], let text = message["content"]?.stringValue, !text.isEmpty else { continue }
            let own = [message["reasoning_content"], message["reasoning"]].contains { v in v != nil && v != .null }
            if own { continue }
            var splitter = ThinkSplitter(tags: think.tags, assumeOpen: think.assumeOpen)
            var out = ThinkSplitter.Output()
            splitter.feed(text.utf8, into: &out)
            splitter.finish(into: &out)
            if out.reasoning.isEmpty && out.content.elementsEqual(text.utf8) { continue }
            var m = message.setting("content", to: .string(String(decoding: out.content, as: UTF8.self)))
            if think.mode == .split && !out.reasoning.isEmpty {
                m = m.setting(think.field, to: .string(String(decoding: out.reasoning, as: UTF8.self)))
            }
            list[position] = choice.setting("message", to: m)
            changed = true
        }
        guard changed else { return nil }
        members[ci].1 = .array(list)
        return .object(members)
    }
}
