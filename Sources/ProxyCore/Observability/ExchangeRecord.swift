/// One finished exchange, as the access log and the metrics see it.
public struct ExchangeRecord: Sendable {
    public var requestID: String
    public var method: String
    public var route: String
    public var provider: String?
    public var model: String?
    public var status: Int
    public var upstreamStatus: Int?
    public var attempts: Int
    public var durationSeconds: Double
    public var ttfbSeconds: Double?
    public var bytesIn: Int
    public var bytesOut: Int
    public var promptTokens: Int?
    public var completionTokens: Int?
    public var costUSD: Double?
    /// How the exchange ended when not plainly: `client_gone`, `upstream_broke`, `cut`.
    public var outcome: String?
    public var failovers: Int = 0
    /// What each attempt got, in order: the provider's label and the outcome.
    public var attemptDetails: [(provider: String, outcome: AttemptOutcome)] = []

    public init(requestID: String, method: String, route: String) {
        self.requestID = requestID
        self.method = method
        self.route = route
        status = 0
        attempts = 0
        durationSeconds = 0
        bytesIn = 0
        bytesOut = 0
    }

    /// The access line's level: `warn` for an exchange that ended badly (a 5xx, whether made by
    /// proxyd for an upstream failure or the upstream's own, or an answer that broke off),
    /// `info` otherwise.
    public var logLevel: LogLevel { status >= 500 || outcome == "upstream_broke" ? .warn : .info }

    /// The fields of the access log line.
    public var logFields: [(String, JSONValue)] {
        func opt(_ v: Int?) -> JSONValue { v.map { .int($0) } ?? .null }
        var fields: [(String, JSONValue)] = [
            ("request_id", .string(requestID)),
            ("method", .string(method)),
            ("route", .string(route)),
            ("provider", provider.map { .string($0) } ?? .null),
            ("model", model.map { .string($0) } ?? .null),
            ("status", .int(status)),
            ("upstream_status", opt(upstreamStatus)),
            ("attempts", .int(attempts)),
            ("duration_ms", .double((durationSeconds * 1_000_000).rounded() / 1000)),
            ("ttfb_ms", ttfbSeconds.map { .double(($0 * 1_000_000).rounded() / 1000) } ?? .null),
            ("bytes_in", .int(bytesIn)),
            ("bytes_out", .int(bytesOut)),
            ("prompt_tokens", opt(promptTokens)),
            ("completion_tokens", opt(completionTokens)),
            ("cost_usd", costUSD.map { .double($0) } ?? .null),
        ]
        if attemptDetails.count > 1 || failovers > 0 { fields.append(("attempt_results", .array(attemptDetails.map {
            .object([("provider", .string($0.provider)), ("result", .string($0.outcome.summary))])
        }))) }
        if let outcome { fields.append(("outcome", .string(outcome))) }
        return fields
    }
}
