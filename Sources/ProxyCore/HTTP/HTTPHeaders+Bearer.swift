extension HTTPHeaders {
    /// The token of an `Authorization: Bearer <token>` field (the scheme in any case); nil
    /// when there is none, or it carries another scheme or no token.
    public var bearerToken: String? {
        guard let v = self["Authorization"], v.utf8.count > 7, HTTPHeaders.hasPrefixIgnoringCase(v, "bearer ") else { return nil }
        return String(v.dropFirst(7))
    }
}
