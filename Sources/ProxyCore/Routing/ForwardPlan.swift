/// One upstream request proxyd may make for a client's request.
public struct UpstreamAttempt: Sendable {
    /// The provider tried, or nil on the generic forwarder.
    public var providerID: String?
    public var url: UpstreamURL
    public var method: String
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Time allowed until the upstream's response head arrives.
    public var timeoutSeconds: Double
    /// What the response body goes through when it is a chat completion.
    public var think: ThinkSettings
    /// Prices for the cost of this attempt's answer.
    public var prices: Usage.Prices = Usage.Prices()
    /// Set when the upstream speaks the Anthropic Messages API and the answer is translated back.
    public var translation: AnthropicTranslation?
    /// proxyd reads the answer (a chat completion): it asks for `identity`, and an answer that
    /// is compressed anyway is decoded before anything else sees it.
    public var decodesAnswer = false

    /// The label used in logs, metrics and `x-proxyd-provider`.
    public var label: String { providerID ?? url.authority }
}

/// How a forwarded request is carried out: the attempts in order and what may be done to the
/// answer.
public struct ForwardPlan: Sendable {
    public var attempts: [UpstreamAttempt]
    /// Whether a JSON or SSE answer is a chat completion (SPEC §3.5).
    public var isChatCompletion: Bool
    /// The model the client asked for, when known.
    public var model: String?
    /// proxyd asked for the usage chunk the client did not ask for: keep it from the client.
    public var hideUsage = false
    /// The candidates came from auto-detection: remember the provider that answers.
    public var autoDetected = false
}

/// What to do with a client's request.
public struct Decision: Sendable {
    public enum Action: Sendable {
        /// Answer locally.
        case respond(LocalResponse)
        /// Answer with the metrics exposition (the I/O layer holds the counters).
        case metrics
        /// Forward upstream.
        case forward(ForwardPlan)
    }

    public var action: Action
    public var route: String
    public var requestID: String
}

/// Facts about the running process the planner needs, passed in by the I/O layer.
public struct RequestContext {
    /// A fresh id, used when the client sent no usable `x-request-id`.
    public var newRequestID: String
    /// Whether a configured model list has loaded at least once.
    public var ready: Bool
    /// The provider that last answered an auto-detected model, if any.
    public var rememberedProvider: (String) -> String?
    /// Whether a provider's circuit breaker is open (it is tried last).
    public var isCoolingDown: (String) -> Bool
    /// Seconds since the epoch, for the `created` of answers proxyd makes.
    public var unixTime: Int = 0

    public init(newRequestID: String, ready: Bool = true, rememberedProvider: @escaping (String) -> String? = { _ in nil },
                isCoolingDown: @escaping (String) -> Bool = { _ in false }) {
        self.newRequestID = newRequestID
        self.ready = ready
        self.rememberedProvider = rememberedProvider
        self.isCoolingDown = isCoolingDown
    }
}
