/// A shape `GET /v1/models` and `GET /v1/models/{id}` can answer in besides the hub form's,
/// chosen by the request's headers.
public protocol ModelListingShape: Sendable {
    /// Whether a request with these headers asks for this shape.
    func isAsked(by headers: HTTPHeaders) -> Bool
    /// Every model.
    func listing(of catalog: ModelCatalog) -> JSONValue
    /// One model; nil when the catalog does not know it.
    func describe(_ id: String, in catalog: ModelCatalog) -> JSONValue?
    /// The reply carrying an error, in the error shape of the clients that ask for this listing.
    func reply(_ error: ProxyError) -> LocalResponse
}
