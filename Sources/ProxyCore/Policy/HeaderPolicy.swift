/// Which headers cross proxyd in each direction, and which keys go upstream.
public enum HeaderPolicy {
    /// Fields never forwarded either way, besides those a `Connection` field names.
    static let hopByHop = ["connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host"]

    /// Whether `name` is hop-by-hop; compares without allocating.
    static func isHopByHop(_ name: String, connectionTokens: [String]) -> Bool {
        let u = name.utf8
        if u.count > 6 && HTTPHeaders.hasPrefixIgnoringCase(name, "proxy-") { return true }
        // Every hop-by-hop name is 2 to 17 bytes long; most headers are ruled out by length.
        switch u.count {
        case 2, 4, 7, 10, 17:
            for h in hopByHop where h.utf8.count == u.count && HTTPHeaders.namesEqual(name, h) { return true }
        default:
            break
        }
        for t in connectionTokens where HTTPHeaders.namesEqual(name, t) { return true }
        return false
    }

    static func connectionTokens(_ headers: HTTPHeaders) -> [String] {
        var tokens: [String] = []
        for v in headers.values("Connection") {
            for t in v.split(separator: ",") {
                tokens.append(String(t.drop(while: { $0 == " " || $0 == "\t" })).trimmingTrailingSpace)
            }
        }
        return tokens
    }

    /// Whose key goes upstream.
    public enum KeySource: Sendable {
        /// The generic forwarder: never a configured key; the client's own `Authorization` only.
        case clientOnly
        /// By model, a prebuilt provider and pass-through: the provider's configured key, else
        /// the client's.
        case provider(Provider)
    }

    /// The headers sent upstream for a client's request.
    /// - Parameters:
    ///   - client: the client's headers as received.
    ///   - keys: whose key is sent.
    ///   - proxyKeysConfigured: whether `auth.keys` is set (then the client's `Authorization`
    ///     was the proxy key and is never forwarded, nor is any client key).
    ///   - requestID: forwarded as `x-request-id`.
    ///   - identityEncoding: ask for an uncompressed answer (proxyd reads it): the client's
    ///     `Accept-Encoding` is replaced by `identity`.
    /// - Returns: the headers, or a 401 when the provider needs a key nobody supplied.
    public static func upstreamRequestHeaders(client: HTTPHeaders, keys: KeySource, proxyKeysConfigured: Bool,
                                              requestID: String, identityEncoding: Bool) -> Result<HTTPHeaders, ProxyError> {
        let tokens = connectionTokens(client)
        var out = HTTPHeaders()
        out.reserveCapacity(client.count + 3)
        for (name, value) in client {
            if isHopByHop(name, connectionTokens: tokens) { continue }
            let eq = { (other: String) in HTTPHeaders.namesEqual(name, other) }
            if eq("content-length") || eq("expect") || eq("x-request-id") { continue }
            if identityEncoding && eq("accept-encoding") { continue }
            if proxyKeysConfigured && (eq("authorization") || eq("x-api-key")) { continue }
            out.add(name, value)
        }
        if identityEncoding { out.add("Accept-Encoding", "identity") }
        out.add("x-request-id", requestID)
        guard case .provider(let provider) = keys else { return .success(out) }
        for (name, value) in provider.headers { out.set(name, value) }
        if let key = provider.apiKey {
            out.remove("Authorization")
            out.remove("x-api-key")
            provider.dialect.addKey(key, to: &out)
        } else if provider.requiresApiKey && !out.contains("Authorization") && !out.contains("x-api-key") {
            let variable = provider.apiKeyVariable.map { "set \($0) or " } ?? ""
            return .failure(.unauthorized("provider '\(provider.id)' needs an API key: \(variable)send your own key",
                                          code: "missing_api_key"))
        }
        return .success(out)
    }

    /// The upstream's response headers as sent to the client: hop-by-hop fields dropped, and
    /// `Content-Length` dropped when proxyd may rewrite the body. With `decoded` (proxyd had the
    /// body decompressed) `Content-Encoding` and `Content-Length` go too: they describe the
    /// bytes on the upstream's wire, not the ones the client gets.
    public static func clientResponseHeaders(upstream: HTTPHeaders, bodyRewritten: Bool, decoded: Bool = false) -> HTTPHeaders {
        let tokens = connectionTokens(upstream)
        var out = HTTPHeaders()
        out.reserveCapacity(upstream.count + 3)
        for (name, value) in upstream {
            if isHopByHop(name, connectionTokens: tokens) { continue }
            if (bodyRewritten || decoded) && HTTPHeaders.namesEqual(name, "content-length") { continue }
            if decoded && HTTPHeaders.namesEqual(name, "content-encoding") { continue }
            if HTTPHeaders.namesEqual(name, "x-request-id") { continue }
            out.add(name, value)
        }
        return out
    }

    /// Names of headers whose values are secrets and are redacted wherever headers are shown.
    public static func isSecret(_ name: String) -> Bool {
        let lower = name.lowercasedASCII
        return lower == "authorization" || lower == "x-api-key" || lower == "proxy-authorization"
            || lower == "cookie" || lower == "api-key" || lower.contains("token") || lower.contains("secret")
    }

    /// `headers` with every secret value replaced by `[redacted]`.
    public static func redacted(_ headers: HTTPHeaders) -> HTTPHeaders {
        HTTPHeaders(headers.map { (name: String, value: String) in (name, isSecret(name) ? "[redacted]" : value) })
    }

    /// Whether a client-supplied request id may be reused: 1–128 visible ASCII bytes.
    public static func isUsableRequestID(_ id: String) -> Bool {
        let u = id.utf8
        return !u.isEmpty && u.count <= 128 && u.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// Compares a presented proxy key with the configured ones in time that does not depend on
    /// where they differ.
    public static func proxyKeyMatches(_ presented: String, keys: [String]) -> Bool {
        let p = Array(presented.utf8)
        var matched = false
        for key in keys {
            let k = Array(key.utf8)
            var diff = UInt8(k.count == p.count ? 0 : 1)
            for i in 0..<k.count { diff |= k[i] ^ (i < p.count ? p[i] : 0) }
            matched = matched || diff == 0
        }
        return matched
    }
}

extension StringProtocol {
    var trimmingTrailingSpace: String {
        var s = Substring(self)
        while let last = s.last, last == " " || last == "\t" { s.removeLast() }
        return String(s)
    }
}
