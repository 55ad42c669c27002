extension UpstreamAttempt {
    /// The headers of the client's reply to this attempt's answer: the upstream's, less
    /// hop-by-hop fields and any length or encoding the client's bytes no longer have, plus
    /// the request id, the provider, and for an event stream the fields that keep buffering
    /// proxies and caches from holding events back.
    func clientHeaders(upstream: HTTPHeaders, eventStream: Bool, rewritten: Bool, requestID: String) -> HTTPHeaders {
        var headers = HeaderPolicy.clientResponseHeaders(upstream: upstream, bodyRewritten: rewritten, decoded: decodesAnswer)
        headers.add("x-request-id", requestID)
        headers.add("x-proxyd-provider", label)
        if eventStream {
            headers.set("X-Accel-Buffering", "no")
            headers.set("Cache-Control", "no-cache")
        }
        return headers
    }
}
