/// Typed models of the parts of Anthropic's Messages API that proxyd writes and reads.
public enum Anthropic {
    /// One content block of a message.
    public enum Block: Equatable, Sendable {
        case text(String)
        case image(ImageSource)
        case toolUse(id: String, name: String, input: JSONValue)
        case toolResult(toolUseID: String, content: String)

        public enum ImageSource: Equatable, Sendable {
            case base64(mediaType: String, data: String)
            case url(String)
        }

        var json: JSONValue {
            switch self {
            case .text(let t):
                return .object([("type", .string("text")), ("text", .string(t))])
            case .image(.base64(let mediaType, let data)):
                return .object([("type", .string("image")), ("source", .object([
                    ("type", .string("base64")), ("media_type", .string(mediaType)), ("data", .string(data))]))])
            case .image(.url(let url)):
                return .object([("type", .string("image")), ("source", .object([("type", .string("url")), ("url", .string(url))]))])
            case .toolUse(let id, let name, let input):
                return .object([("type", .string("tool_use")), ("id", .string(id)), ("name", .string(name)), ("input", input)])
            case .toolResult(let id, let content):
                return .object([("type", .string("tool_result")), ("tool_use_id", .string(id)), ("content", .string(content))])
            }
        }
    }

    public struct Message: Equatable, Sendable {
        public var role: String  // "user" or "assistant"
        public var content: [Block]
    }

    public struct Tool: Equatable, Sendable {
        public var name: String
        public var description: String?
        public var inputSchema: JSONValue
    }

    public enum ToolChoice: Equatable, Sendable {
        case auto, any, none
        case tool(String)
    }

    /// A Messages API request.
    public struct Request: Equatable, Sendable {
        public var model: String
        public var system: String?
        public var messages: [Message]
        public var maxTokens: Int
        public var temperature: JSONValue?
        public var topP: JSONValue?
        public var stopSequences: [String]?
        public var tools: [Tool]?
        public var toolChoice: ToolChoice?
        public var disableParallelToolUse = false
        public var stream = false

        public var json: JSONValue {
            var m: [(String, JSONValue)] = [("model", .string(model))]
            if let system { m.append(("system", .string(system))) }
            m.append(("messages", .array(messages.map { msg in
                .object([("role", .string(msg.role)), ("content", .array(msg.content.map(\.json)))])
            })))
            m.append(("max_tokens", .int(maxTokens)))
            if let temperature { m.append(("temperature", temperature)) }
            if let topP { m.append(("top_p", topP)) }
            if let stopSequences { m.append(("stop_sequences", .array(stopSequences.map { .string($0) }))) }
            if let tools {
                m.append(("tools", .array(tools.map { t in
                    var o: [(String, JSONValue)] = [("name", .string(t.name))]
                    if let d = t.description { o.append(("description", .string(d))) }
                    o.append(("input_schema", t.inputSchema))
                    return .object(o)
                })))
            }
            if toolChoice != nil || disableParallelToolUse {
                var o: [(String, JSONValue)]
                switch toolChoice ?? .auto {
                case .auto: o = [("type", .string("auto"))]
                case .any: o = [("type", .string("any"))]
                case .none: o = [("type", .string("none"))]
                case .tool(let name): o = [("type", .string("tool")), ("name", .string(name))]
                }
                if disableParallelToolUse && toolChoice != ToolChoice.none { o.append(("disable_parallel_tool_use", .bool(true))) }
                m.append(("tool_choice", .object(o)))
            }
            if stream { m.append(("stream", .bool(true))) }
            return .object(m)
        }
    }
}
