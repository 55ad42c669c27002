/// What proxyd reads from, and may change in, a chat-completion request body. Changes are
/// spliced into the original bytes; everything else goes upstream byte for byte.
public struct ChatRequestBody: Sendable {
    public let bytes: [UInt8]
    let top: JSONScanner.TopLevel

    /// The body's `model`, when it is a string.
    public let model: String?
    /// `"stream": true`.
    public let stream: Bool
    /// `stream_options.include_usage`, when given.
    public let includeUsage: Bool?

    static let keys = JSONScanner.Keys(["model", "stream", "stream_options"])
    var modelMember: JSONScanner.Member? { top.members[0] }
    var streamOptionsMember: JSONScanner.Member? { top.members[2] }

    /// Reads a body; nil when it is not a JSON object.
    public init?(_ bytes: [UInt8]) {
        guard let top = try? bytes.withUnsafeBytes({ try JSONScanner.topLevelObject($0, keys: ChatRequestBody.keys) }) else {
            return nil
        }
        self.bytes = bytes
        self.top = top
        if let m = top.members[0], m.isString {
            model = m.plainString ?? (try? JSONValue.parse(Array(bytes[m.range])))?.stringValue
        } else {
            model = nil
        }
        stream = top.members[1].map { m in bytes.withUnsafeBytes { JSONScanner.text(UnsafeRawBufferPointer(rebasing: $0[m.range]), is: "true") } } ?? false
        if let o = top.members[2], let v = try? JSONValue.parse(Array(bytes[o.range])) {
            includeUsage = v["include_usage"]?.boolValue
        } else {
            includeUsage = nil
        }
    }

    /// Whether `model` is present as a string (missing or not a string is a 400 when routing by
    /// model).
    public var hasModel: Bool { modelMember?.isString ?? false }

    /// Whether proxyd should ask for the usage chunk: a stream whose client did not ask
    /// (an explicit `include_usage: false` counts as not asking).
    public var shouldAskForUsage: Bool { stream && includeUsage != true }

    /// The body with `model` replaced (when `model` is given) and `stream_options.include_usage`
    /// set (when `askForUsage`).
    public func edited(model newModel: String?, askForUsage: Bool) -> [UInt8] {
        var edits: [(Range<Int>, [UInt8])] = []
        if let newModel, let m = modelMember {
            edits.append((m.range, JSONValue.string(newModel).encoded()))
        }
        if askForUsage {
            if let o = streamOptionsMember {
                var value = (try? JSONValue.parse(Array(bytes[o.range]))) ?? .object([])
                if case .object = value {} else { value = .object([]) }
                edits.append((o.range, value.setting("include_usage", to: .bool(true)).encoded()))
            } else {
                let insertion = (top.isEmpty ? "" : ",") + #""stream_options":{"include_usage":true}"#
                edits.append((top.closingBrace..<top.closingBrace, Array(insertion.utf8)))
            }
        }
        guard !edits.isEmpty else { return bytes }
        return bytes.withUnsafeBytes { ByteSplice.apply(edits, to: $0) }
    }
}
