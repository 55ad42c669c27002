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
    /// Prices for the cost of this attempt's answer.
    public var prices: Usage.Prices = Usage.Prices()
    /// How the answer reaches the client (chosen by the dialect that made the request).
    public var answers: any AnswerMapping = UntouchedAnswers()
    /// proxyd reads the answer (a chat completion): it asks for `identity`, and an answer that
    /// is compressed anyway is decoded before anything else sees it.
    public var decodesAnswer = false

    public init(providerID: String?, url: UpstreamURL, method: String, headers: HTTPHeaders, body: [UInt8], timeoutSeconds: Double) {
        self.providerID = providerID
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeoutSeconds = timeoutSeconds
    }

    /// The label used in logs, metrics and `x-proxyd-provider`.
    public var label: String { providerID ?? url.authority }
}
