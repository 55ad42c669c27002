/// The generic forwarder's host allow list. Entries are `host`, `*.suffix`, `host:port` and
/// `*.suffix:port`; without a port an entry matches the scheme's default port only.
/// `*.suffix` matches subdomains of suffix, never suffix itself.
public struct HostAllowlist: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        /// Lower-cased host, or the suffix (with its leading dot) for a wildcard.
        public let host: String
        public let isWildcard: Bool
        /// nil: the scheme's default port.
        public let port: Int?
        public let text: String
    }

    public let entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    /// Parses entries, returning the index and reason of each bad one.
    public static func parse(_ texts: [String]) -> (HostAllowlist, [(Int, String)]) {
        var entries: [Entry] = []
        var problems: [(Int, String)] = []
        for (i, raw) in texts.enumerated() {
            var text = raw.lowercasedASCII
            var port: Int? = nil
            if let colon = text.lastIndex(of: ":"), !text.hasSuffix("]"), !text.hasPrefix("[") || text.contains("]:") {
                let p = text[text.index(after: colon)...]
                guard let n = Int(p), n >= 1, n <= 65535, p.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                    problems.append((i, "malformed port")); continue
                }
                port = n
                text = String(text[..<colon])
            }
            var wildcard = false
            if text.hasPrefix("*.") { wildcard = true; text.removeFirst() }
            if text.hasSuffix(".") { text.removeLast() }
            let name = wildcard ? String(text.dropFirst()) : text
            if text.contains("*") || name.isEmpty || !name.utf8.allSatisfy({ UpstreamURL.isHostByte($0) || $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "]") || $0 == UInt8(ascii: ":") }) {
                problems.append((i, "'\(raw)' is not a host, *.suffix, host:port or *.suffix:port")); continue
            }
            entries.append(Entry(host: text, isWildcard: wildcard, port: port, text: raw))
        }
        return (HostAllowlist(entries: entries), problems)
    }

    /// Whether `url`'s host and port are allowed. The host is expected lower-cased with any
    /// trailing dot removed.
    public func allows(host: String, port: Int?, scheme: UpstreamURL.Scheme) -> Bool {
        let defaultPort = scheme == .https ? 443 : 80
        let effective = port ?? defaultPort
        for e in entries {
            if (e.port ?? defaultPort) != effective { continue }
            if e.isWildcard {
                if host.count > e.host.count && host.hasSuffix(e.host) { return true }
            } else if host == e.host {
                return true
            }
        }
        return false
    }
}
