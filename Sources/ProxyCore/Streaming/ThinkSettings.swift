/// What happens to `<think>` reasoning in chat-completion responses.
public enum ThinkMode: String, Sendable, Equatable {
    /// Reasoning moves from `content` to the reasoning field.
    case split
    /// Reasoning is removed.
    case strip
    /// Bytes pass through untouched.
    case off
}

/// Reasoning settings (`think`).
public struct ThinkSettings: Sendable, Equatable {
    public var mode: ThinkMode = .split
    public var assumeOpen: Bool = false
    /// The field and the tags, held by reference: settings are copied into every chat attempt
    /// and its answer's transform, and kept this small they travel inline.
    var words = Words.standard

    /// Where reasoning goes.
    public var field: String {
        get { words.field }
        set { words = Words(field: newValue, tags: words.tags) }
    }

    /// The tags that hold reasoning in `content`.
    public var tags: [String] {
        get { words.tags }
        set { words = Words(field: words.field, tags: newValue) }
    }

    public init() {}

    public static func == (a: ThinkSettings, b: ThinkSettings) -> Bool {
        a.mode == b.mode && a.assumeOpen == b.assumeOpen && (a.words === b.words || (a.field == b.field && a.tags == b.tags))
    }

    final class Words: Sendable {
        let field: String
        let tags: [String]
        init(field: String, tags: [String]) {
            self.field = field
            self.tags = tags
        }
        static let standard = Words(field: "reasoning_content", tags: ["think"])
    }
}
