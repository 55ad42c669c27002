/// `GET /v1/models` in the Messages API's shape, for requests that carry `anthropic-version`
/// (the anthropic SDKs and Claude Code send it on every request).
public struct AnthropicModelListing: ModelListingShape {
    public init() {}

    public func isAsked(by headers: HTTPHeaders) -> Bool { headers.contains("anthropic-version") }

    public func listing(of catalog: ModelCatalog) -> JSONValue { catalog.anthropicListing }

    public func describe(_ id: String, in catalog: ModelCatalog) -> JSONValue? { catalog.describeForAnthropic(id) }

    public func reply(_ error: ProxyError) -> LocalResponse { AnthropicErrorShape.reply(error) }
}

extension ModelCatalog {
    /// Every model on one page.
    public var anthropicListing: JSONValue {
        .object([
            ("data", .array(order.map { anthropicModel($0) })),
            ("has_more", .bool(false)),
            ("first_id", order.first.map { .string($0) } ?? .null),
            ("last_id", order.last.map { .string($0) } ?? .null),
        ])
    }

    /// `GET /v1/models/{id}` in this shape; nil when unknown.
    public func describeForAnthropic(_ id: String) -> JSONValue? {
        byModel[id] == nil ? nil : anthropicModel(id)
    }

    func anthropicModel(_ m: String) -> JSONValue {
        .object([
            ("type", .string("model")),
            ("id", .string(m)),
            ("display_name", .string(m)),
            ("created_at", .string(ModelCatalog.rfc3339(firstSeen[m] ?? 0))),
        ])
    }

}
