/// Turns the generic forwarder's raw `{base_url...}` into the upstream URL, or the error to answer.
public enum GenericTarget {
    /// Resolves the base URL as it arrived (`https://h/p`, `https:/h/p` or percent-encoded),
    /// checks its host against `allowlist`, and appends `/v1/chat/completions` and the query.
    public static func resolve(rawBase: Substring, query: Substring?, allowlist: HostAllowlist) -> Result<UpstreamURL, ProxyError> {
        var text = String(rawBase)
        if text.contains("%") {
            guard let decoded = PathSafety.percentDecodedOnce(Substring(text)) else {
                return .failure(.badRequest("base URL has an invalid percent escape", code: "invalid_base_url"))
            }
            text = decoded
        }
        // An intermediary may have collapsed `https://` to `https:/`.
        let lower = text.lowercasedASCII
        for scheme in ["https:/", "http:/"] where lower.hasPrefix(scheme) {
            let after = text.dropFirst(scheme.count)
            if after.first != "/" { text = String(text.prefix(scheme.count)) + "/" + after }
            break
        }
        let url: UpstreamURL
        do { url = try UpstreamURL.parse(text) } catch {
            return .failure(.badRequest("base URL \(error.reason)", code: "invalid_base_url"))
        }
        if url.query != nil { return .failure(.badRequest("base URL must not have a query", code: "invalid_base_url")) }
        var host = url.host
        if host.hasSuffix(".") { host.removeLast() }
        if let problem = hostProblem(host) { return .failure(.badRequest("base URL host \(problem)", code: "invalid_base_url")) }
        if !url.path.isEmpty {
            do { try PathSafety.check(Array(url.path.utf8)) } catch {
                return .failure(.badRequest("base URL \(error.message)", code: "invalid_base_url"))
            }
        }
        guard allowlist.allows(host: host, port: url.port, scheme: url.scheme) else {
            return .failure(.forbidden("host '\(host)' is not in genericProxy.allowedHosts", code: "host_not_allowed"))
        }
        var target = url
        target.host = host
        return .success(target.appendingPath("/v1/chat/completions").addingQuery(query))
    }

    /// Why a host cannot be used, or nil. IP literals are accepted only as canonical dotted-quad
    /// IPv4 or bracketed IPv6, so no other spelling of an address slips past the allow list.
    static func hostProblem(_ host: String) -> String? {
        if host.hasPrefix("[") { return nil }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        if labels.contains(where: \.isEmpty) { return "has an empty label" }
        guard let last = labels.last else { return "is empty" }
        let lastIsNumeric = last.allSatisfy { $0.isASCII && $0.isNumber }
            || (last.lowercased().hasPrefix("0x") && last.dropFirst(2).allSatisfy { $0.isHexDigit })
        guard lastIsNumeric else { return nil }
        // Looks like an IPv4 address: only the canonical four-part decimal form is accepted.
        guard labels.count == 4 else { return "is an IP address in a non-canonical form" }
        for label in labels {
            guard label.allSatisfy({ $0.isASCII && $0.isNumber }), label.count <= 3, let v = Int(label), v <= 255,
                  !(label.count > 1 && label.first == "0") else {
                return "is an IP address in a non-canonical form"
            }
        }
        return nil
    }
}
