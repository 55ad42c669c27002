/// The refusal rules for the rest of a pass-through path (each refusal is a 400). The rest is
/// checked as it arrived and once percent-decoded; what passes is sent exactly as it arrived.
public enum PathSafety {
    /// Why a rest was refused (always a 400).
    public enum Violation: Error, Equatable, Sendable {
        case dotSegment
        case emptySegment
        case embeddedURL
        case backslash
        case authorityInFirstSegment
        case controlByte
        case nonASCII
        case invalidEscape
        case encodedDelimiter
        case invalidUTF8
        case fragment

        public var message: String {
            switch self {
            case .dotSegment: return "path contains a '.' or '..' segment"
            case .emptySegment: return "path contains an empty segment ('//')"
            case .embeddedURL: return "path contains '://'"
            case .backslash: return "path contains a backslash"
            case .authorityInFirstSegment: return "path's first segment contains '@' or ':'"
            case .controlByte: return "path contains a control byte"
            case .nonASCII: return "path contains a raw byte outside ASCII"
            case .invalidEscape: return "path contains an invalid percent escape"
            case .encodedDelimiter: return "path contains a percent-encoded '.', '/', '\\' or '%'"
            case .invalidUTF8: return "path decodes to invalid UTF-8"
            case .fragment: return "path contains '#'"
            }
        }
    }

    /// Checks a rest (starting with `/`). Returns nothing when it may be matched and sent.
    public static func check(_ rest: some Collection<UInt8>) throws(Violation) {
        try check(Array(rest))
    }

    /// Checks a rest given as bytes.
    public static func check(_ raw: [UInt8]) throws(Violation) {
        try checkStructure(raw, decoded: false)
        // Escapes: each '%' must start two hex digits and must not encode a delimiter.
        var decoded: [UInt8] = []
        decoded.reserveCapacity(raw.count)
        var i = 0
        while i < raw.count {
            let b = raw[i]
            if b == UInt8(ascii: "%") {
                guard i + 2 < raw.count, let hi = hexDigitValue(raw[i + 1]), let lo = hexDigitValue(raw[i + 2]) else {
                    throw .invalidEscape
                }
                let value = hi << 4 | lo
                switch value {
                case UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: "\\"), UInt8(ascii: "%"): throw .encodedDelimiter
                default: break
                }
                decoded.append(value)
                i += 3
            } else {
                decoded.append(b)
                i += 1
            }
        }
        if decoded.count != raw.count {
            guard String(validating: decoded, as: UTF8.self) != nil else { throw .invalidUTF8 }
            try checkStructure(decoded, decoded: true)
        }
    }

    /// `text` with each `%XX` decoded once; nil for a bad escape or bytes that are not UTF-8.
    public static func percentDecodedOnce(_ text: Substring) -> String? {
        let raw = Array(text.utf8)
        guard raw.contains(UInt8(ascii: "%")) else { return String(text) }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        while i < raw.count {
            if raw[i] == UInt8(ascii: "%") {
                guard i + 2 < raw.count, let hi = hexDigitValue(raw[i + 1]), let lo = hexDigitValue(raw[i + 2]) else { return nil }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(raw[i])
                i += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    static func checkStructure(_ p: [UInt8], decoded: Bool) throws(Violation) {
        for b in p {
            if b < 0x20 || b == 0x7F { throw .controlByte }
            if b >= 0x80 && !decoded { throw .nonASCII }
            if b == UInt8(ascii: "\\") { throw .backslash }
            if b == UInt8(ascii: "#") { throw .fragment }
        }
        if containsSequence(p, Array("://".utf8)) { throw .embeddedURL }
        // Segments: split on '/', the first element is what precedes the leading slash (empty).
        var segments: [ArraySlice<UInt8>] = []
        var start = 0
        for (i, b) in p.enumerated() where b == UInt8(ascii: "/") {
            segments.append(p[start..<i])
            start = i + 1
        }
        segments.append(p[start...])
        for (n, segment) in segments.enumerated() {
            if n == 0 { continue }
            let isLast = n == segments.count - 1
            if segment.isEmpty {
                if !isLast { throw .emptySegment }
                continue
            }
            let name = segment.prefix { $0 != UInt8(ascii: ";") }
            if name.elementsEqual([0x2E]) || name.elementsEqual([0x2E, 0x2E]) { throw .dotSegment }
            if n == 1, segment.contains(UInt8(ascii: "@")) || segment.contains(UInt8(ascii: ":")) {
                throw .authorityInFirstSegment
            }
        }
    }

    static func containsSequence(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}
