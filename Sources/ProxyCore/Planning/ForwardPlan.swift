/// How a forwarded request is carried out: the attempts in order and what is known of the
/// request for the record.
public struct ForwardPlan: Sendable {
    public var attempts: [UpstreamAttempt]
    /// Whether the answer is read as a chat completion (a chat route, or a chat path passed through).
    public var isChatCompletion: Bool
    /// The model the client asked for, when known.
    public var model: String?
    /// The candidates came from auto-detection: remember the provider that answers.
    public var autoDetected = false

    public init(attempts: [UpstreamAttempt], isChatCompletion: Bool, model: String?, autoDetected: Bool = false) {
        self.attempts = attempts
        self.isChatCompletion = isChatCompletion
        self.model = model
        self.autoDetected = autoDetected
    }
}
