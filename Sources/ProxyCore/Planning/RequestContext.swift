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
