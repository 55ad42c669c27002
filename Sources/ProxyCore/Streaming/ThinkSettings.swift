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
    public var field: String = "reasoning_content"
    public var tags: [String] = ["think"]
    public var assumeOpen: Bool = false
    public init() {}
}
