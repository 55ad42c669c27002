/// An absolute `http` or `https` URL as proxyd sends it upstream: scheme, host, optional port,
/// path and query, each kept as the bytes that will go on the wire.
public struct UpstreamURL: Sendable, Equatable, CustomStringConvertible {
    public enum Scheme: String, Sendable { case http, https }

    public var scheme: Scheme
    /// Lower-cased host; IPv6 literals keep their brackets.
    public var host: String
    /// The port written in the URL, if any.
    public var port: Int?
    /// The path, empty or starting with `/`.
    public var path: String
    /// The query without its `?`, if any.
    public var query: String?

    public init(scheme: Scheme, host: String, port: Int? = nil, path: String = "", query: String? = nil) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
        self.query = query
    }

    /// The port connections go to: the explicit one or the scheme's default.
    public var effectivePort: Int { port ?? (scheme == .https ? 443 : 80) }

    /// `host` or `host:port` when the port is not the scheme's default.
    public var authority: String {
        if let port, port != (scheme == .https ? 443 : 80) { return "\(host):\(port)" }
        return host
    }

    public var description: String {
        // Appended piece by piece into one buffer: this runs for every request.
        var s = scheme == .https ? "https://" : "http://"
        s.reserveCapacity(8 + host.utf8.count + 6 + path.utf8.count + 1 + (query?.utf8.count ?? 0))
        s += host
        if let port {
            s += ":"
            s += String(port)
        }
        s += path
        if let query {
            s += "?"
            s += query
        }
        return s
    }

    /// This URL with `suffix` appended to its path (a query is kept).
    public func appendingPath(_ suffix: String) -> UpstreamURL {
        var copy = self
        if copy.path.hasSuffix("/") && suffix.hasPrefix("/") { copy.path.removeLast() }
        copy.path += suffix
        return copy
    }

    /// This URL with a client's query string added (joined with `&` to a query it already has).
    public func addingQuery(_ extra: Substring?) -> UpstreamURL {
        guard let extra, !extra.isEmpty else { return self }
        var copy = self
        if let q = copy.query, !q.isEmpty { copy.query = q + "&" + extra } else { copy.query = String(extra) }
        return copy
    }

    /// Why a URL was refused.
    public struct ParseError: Error, Equatable, Sendable {
        public let reason: String
    }

    /// Parses an absolute http(s) URL. Refuses other schemes, userinfo, fragments, empty or
    /// non-ASCII hosts, malformed ports and control bytes.
    public static func parse(_ text: String) throws(ParseError) -> UpstreamURL {
        let bytes = Array(text.utf8)
        guard !bytes.contains(where: { $0 < 0x21 || $0 >= 0x7F }) else {
            throw ParseError(reason: "contains a space, a control byte or a byte outside ASCII")
        }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { throw ParseError(reason: "is not an absolute URL") }
        let schemeText = String(decoding: bytes[..<colon], as: UTF8.self).lowercasedASCII
        guard let scheme = Scheme(rawValue: schemeText) else {
            throw ParseError(reason: "scheme must be http or https")
        }
        guard bytes.count >= colon + 3, bytes[colon + 1] == UInt8(ascii: "/"), bytes[colon + 2] == UInt8(ascii: "/") else {
            throw ParseError(reason: "is not an absolute URL (expected '\(schemeText)://')")
        }
        if bytes.contains(UInt8(ascii: "#")) { throw ParseError(reason: "must not contain a fragment") }
        if bytes.contains(UInt8(ascii: "\\")) { throw ParseError(reason: "must not contain a backslash") }
        let rest = bytes[(colon + 3)...]
        let authorityEnd = rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }) ?? rest.endIndex
        let authority = rest[rest.startIndex..<authorityEnd]
        if authority.contains(UInt8(ascii: "@")) { throw ParseError(reason: "must not contain userinfo") }
        if authority.contains(UInt8(ascii: "%")) { throw ParseError(reason: "host must not be percent-encoded") }
        var host: String
        var portText: ArraySlice<UInt8>? = nil
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { throw ParseError(reason: "has an unterminated IPv6 literal") }
            let inner = authority[(authority.startIndex + 1)..<close]
            guard !inner.isEmpty, inner.allSatisfy({ isHex($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else {
                throw ParseError(reason: "has a malformed IPv6 literal")
            }
            host = "[" + String(decoding: inner, as: UTF8.self).lowercasedASCII + "]"
            let after = authority[(close + 1)...]
            if !after.isEmpty {
                guard after.first == UInt8(ascii: ":") else { throw ParseError(reason: "has a malformed port") }
                portText = after.dropFirst()
            }
        } else {
            if let c = authority.firstIndex(of: UInt8(ascii: ":")) {
                host = String(decoding: authority[..<c], as: UTF8.self).lowercasedASCII
                portText = authority[(c + 1)...]
            } else {
                host = String(decoding: authority, as: UTF8.self).lowercasedASCII
            }
            guard !host.isEmpty else { throw ParseError(reason: "has no host") }
            guard host.utf8.allSatisfy({ isHostByte($0) }) else { throw ParseError(reason: "has a malformed host") }
        }
        var port: Int? = nil
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let p = Int(String(decoding: portText, as: UTF8.self)), p >= 1, p <= 65535 else {
                throw ParseError(reason: "has a malformed port")
            }
            port = p
        }
        let pathAndQuery = rest[authorityEnd...]
        var path = String(decoding: pathAndQuery, as: UTF8.self)
        var query: String? = nil
        if let q = path.firstIndex(of: "?") {
            query = String(path[path.index(after: q)...])
            path = String(path[..<q])
        }
        return UpstreamURL(scheme: scheme, host: host, port: port, path: path, query: query)
    }

    static func isHex(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x66)
    }

    static func isHostByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7A) || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") || b == UInt8(ascii: "_")
    }
}
