/// Translates a chat-completions stream (the hub form) into a Messages API event stream, event
/// by event: `message_start`, then per block `content_block_start`, its deltas and
/// `content_block_stop`, then `message_delta` (stop reason, real usage) and `message_stop`.
///
/// - Reasoning (the reasoning field, or the `<think>` split of the content) becomes `thinking`
///   blocks, text `text` blocks; a new block starts whenever the kind changes.
/// - Tool calls are gathered and each becomes one `tool_use` block when the choice finishes:
///   upstreams may interleave the argument fragments of several calls, and a Messages block,
///   once closed, cannot take more.
/// - An upstream that breaks off after `message_start` ends with `event: error`; one that fails
///   before any output is an error answer (failover may act on it).
/// The output is the same at any split of the upstream's bytes.
public final class MessagesStreamTranslator: ResponseTransform {
    public var headTiming: HeadTiming { .atFirstOutput }
    public var rewritesBody: Bool { true }
    public private(set) var usage: Usage?

    let model: String
    let think: ThinkSettings
    let inputEstimate: Int
    var parser: SSEParser
    var splitter: ThinkSplitter
    /// The upstream sends a reasoning field: its content is not searched for tags.
    var reasoningField = false

    enum Block: Equatable { case thinking, text }
    var open: Block?
    var nextIndex = 0
    var started = false
    var stopped = false
    var failed = false
    var finishReason: String?
    var tools: [(index: Int, id: String, name: String, arguments: String)] = []
    var counts = (input: 0, output: 0, cached: 0)
    var sawUsage = false

    /// - Parameters:
    ///   - model: the model as the client named it.
    ///   - inputEstimate: input tokens for `message_start`, before the real count is known.
    public init(model: String, think: ThinkSettings, inputEstimate: Int, maxEventBytes: Int = .max) {
        self.model = model
        self.think = think
        self.inputEstimate = inputEstimate
        parser = SSEParser(maxHeldBytes: maxEventBytes)
        splitter = ThinkSplitter(tags: think.tags, assumeOpen: think.assumeOpen)
    }

    public func feed(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) -> TransformStep {
        var datas: [[UInt8]] = []
        parser.feed(bytes, onEvent: { datas.append(Array($0.data)) }, onOther: { _ in })
        for d in datas where !stopped && !failed {
            if d == Array("[DONE]".utf8) {
                end(into: &out)
                continue
            }
            guard let chunk = try? JSONValue.parse(d) else { continue }
            if let failure = handle(chunk, into: &out) { return failure }
        }
        return parser.overflowed ? .stop : .output
    }

    public func finish(upstreamComplete: Bool, reason: String, into out: inout [UInt8]) -> TransformEnding {
        if stopped { return .stream(complete: true) }
        if failed { return .stream(complete: false) }
        if upstreamComplete && finishReason != nil && !parser.overflowed {
            // A finished choice without [DONE]: the answer is whole.
            end(into: &out)
            return .stream(complete: true)
        }
        let message: String
        if parser.overflowed {
            message = "upstream stream sent an event over maxEventBytes (\(parser.maxHeldBytes) bytes)"
        } else {
            message = upstreamComplete ? "upstream stream ended before the answer was complete" : "upstream stream broke off: \(reason)"
        }
        guard started else {
            return .error(.badGateway(message, code: parser.overflowed ? "event_too_large" : "upstream_incomplete"),
                          upstreamBroke: !parser.overflowed)
        }
        write("error", AnthropicErrorShape.body(ProxyError(status: 502, message: message, type: "api_error", code: "api_error")), into: &out)
        return .stream(complete: false)
    }

    // MARK: chunks

    func handle(_ chunk: JSONValue, into out: inout [UInt8]) -> TransformStep? {
        if let error = chunk["error"], error != .null {
            let message = error["message"]?.stringValue ?? "upstream error"
            failed = true
            guard started else {
                let status = error["code"]?.intValue ?? 502
                return .failed(status: (400...599).contains(status) ? status : 502, error: .badGateway(message, code: "upstream_error"))
            }
            closeBlock(into: &out)
            write("error", AnthropicErrorShape.body(ProxyError(status: 502, message: message, type: "api_error", code: "api_error")), into: &out)
            return nil
        }
        if let u = chunk["usage"], u != .null {
            let prompt = u["prompt_tokens"]?.intValue ?? 0
            let cached = u["prompt_tokens_details"]?["cached_tokens"]?.intValue ?? 0
            counts = (max(0, prompt - cached), u["completion_tokens"]?.intValue ?? 0, cached)
            sawUsage = true
            usage = Usage(promptTokens: prompt, completionTokens: counts.output)
        }
        guard let choice = chunk["choices"]?.arrayValue?.first(where: { ($0["index"]?.intValue ?? 0) == 0 }) else { return nil }
        start(into: &out)
        let delta = choice["delta"]
        if let r = delta?["reasoning_content"]?.stringValue ?? delta?["reasoning"]?.stringValue, !r.isEmpty {
            reasoningField = true
            if think.mode != .strip { emit(.thinking, r, into: &out) }
        }
        if let text = delta?["content"]?.stringValue, !text.isEmpty {
            if reasoningField || think.mode == .off {
                emit(.text, text, into: &out)
            } else {
                var split = ThinkSplitter.Output()
                splitter.feed(Array(text.utf8), into: &split)
                emitSplit(split, into: &out)
            }
        }
        for call in delta?["tool_calls"]?.arrayValue ?? [] {
            let index = call["index"]?.intValue ?? 0
            let fragment = call["function"]?["arguments"]?.stringValue ?? ""
            if let k = tools.firstIndex(where: { $0.index == index }) {
                tools[k].arguments += fragment
                if let name = call["function"]?["name"]?.stringValue, tools[k].name.isEmpty { tools[k].name = name }
            } else {
                tools.append((index, call["id"]?.stringValue ?? "", call["function"]?["name"]?.stringValue ?? "", fragment))
            }
        }
        if let finish = choice["finish_reason"]?.stringValue { finishReason = finish }
        return nil
    }

    func emitSplit(_ split: ThinkSplitter.Output, into out: inout [UInt8]) {
        if !split.reasoning.isEmpty && think.mode == .split {
            emit(.thinking, String(decoding: split.reasoning, as: UTF8.self), into: &out)
        }
        if !split.content.isEmpty { emit(.text, String(decoding: split.content, as: UTF8.self), into: &out) }
    }

    // MARK: events

    func start(into out: inout [UInt8]) {
        guard !started else { return }
        started = true
        write("message_start", .object([("type", .string("message_start")), ("message", .object([
            ("id", .string("msg_proxyd")), ("type", .string("message")), ("role", .string("assistant")),
            ("model", .string(model)), ("content", .array([])), ("stop_reason", .null), ("stop_sequence", .null),
            ("usage", .object([("input_tokens", .int(inputEstimate)), ("output_tokens", .int(0))])),
        ]))]), into: &out)
    }

    func emit(_ kind: Block, _ text: String, into out: inout [UInt8]) {
        if open != kind {
            closeBlock(into: &out)
            let block: JSONValue = kind == .thinking
                ? .object([("type", .string("thinking")), ("thinking", .string("")), ("signature", .string(""))])
                : .object([("type", .string("text")), ("text", .string(""))])
            write("content_block_start", .object([("type", .string("content_block_start")), ("index", .int(nextIndex)),
                                                  ("content_block", block)]), into: &out)
            open = kind
        }
        let delta: JSONValue = kind == .thinking
            ? .object([("type", .string("thinking_delta")), ("thinking", .string(text))])
            : .object([("type", .string("text_delta")), ("text", .string(text))])
        write("content_block_delta", .object([("type", .string("content_block_delta")), ("index", .int(nextIndex)), ("delta", delta)]),
              into: &out)
    }

    func closeBlock(into out: inout [UInt8]) {
        guard open != nil else { return }
        write("content_block_stop", .object([("type", .string("content_block_stop")), ("index", .int(nextIndex))]), into: &out)
        open = nil
        nextIndex += 1
    }

    /// The answer is whole: text the splitter held back, the tool blocks, the stop reason and
    /// usage, `message_stop`.
    func end(into out: inout [UInt8]) {
        guard !stopped else { return }
        start(into: &out)
        if !reasoningField && think.mode != .off {
            var split = ThinkSplitter.Output()
            splitter.finish(into: &split)
            emitSplit(split, into: &out)
        }
        closeBlock(into: &out)
        for tool in tools {
            write("content_block_start", .object([("type", .string("content_block_start")), ("index", .int(nextIndex)),
                                                  ("content_block", .object([("type", .string("tool_use")), ("id", .string(tool.id)),
                                                                             ("name", .string(tool.name)), ("input", .object([]))]))]),
                  into: &out)
            let arguments = (try? JSONValue.parse(Array(tool.arguments.utf8))).map { v -> String in
                if case .object = v { return tool.arguments }
                return "{}"
            } ?? "{}"
            write("content_block_delta", .object([("type", .string("content_block_delta")), ("index", .int(nextIndex)),
                                                  ("delta", .object([("type", .string("input_json_delta")), ("partial_json", .string(arguments))]))]),
                  into: &out)
            write("content_block_stop", .object([("type", .string("content_block_stop")), ("index", .int(nextIndex))]), into: &out)
            nextIndex += 1
        }
        let stop = MessagesAnswerMapping.stopReason(finishReason, usedTools: !tools.isEmpty)
        var usageFields: [(String, JSONValue)] = [("input_tokens", .int(sawUsage ? counts.input : inputEstimate)), ("output_tokens", .int(counts.output))]
        if counts.cached > 0 { usageFields.append(("cache_read_input_tokens", .int(counts.cached))) }
        write("message_delta", .object([("type", .string("message_delta")),
                                        ("delta", .object([("stop_reason", .string(stop)), ("stop_sequence", .null)])),
                                        ("usage", .object(usageFields))]), into: &out)
        write("message_stop", .object([("type", .string("message_stop"))]), into: &out)
        stopped = true
    }

    func write(_ event: String, _ data: JSONValue, into out: inout [UInt8]) {
        out.append(contentsOf: "event: ".utf8)
        out.append(contentsOf: event.utf8)
        out.append(contentsOf: "\ndata: ".utf8)
        data.encode(into: &out)
        out.append(contentsOf: [0x0A, 0x0A])
    }
}
