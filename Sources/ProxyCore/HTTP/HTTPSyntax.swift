/// The byte classes of HTTP/1.1's grammar that the request parser checks.
enum HTTPSyntax {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09

    /// A `tchar`: the bytes a method, a header name or a chunk extension name is made of. This
    /// is the definition; the parser uses `isTokenByte`, its bitmap form, which the tests check
    /// against it for every byte.
    @inline(__always)
    static func isToken(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default: return false
        }
    }

    /// A byte allowed inside a field value: visible ASCII, space, tab, and bytes above 0x7F
    /// (which must then form valid UTF-8). Control bytes (NUL, CR and LF among them) and DEL are not.
    @inline(__always)
    static func isFieldValue(_ b: UInt8) -> Bool {
        b >= 0x20 ? b != 0x7F : b == tab
    }

    /// A byte allowed in a request target: visible ASCII only (no spaces, controls or raw bytes
    /// above 0x7F, which a client must percent-encode).
    @inline(__always)
    static func isTarget(_ b: UInt8) -> Bool {
        b > 0x20 && b < 0x7F
    }

    @inline(__always)
    static func isWhitespace(_ b: UInt8) -> Bool { b == space || b == tab }

    /// Whether `bytes` equals the lower-case ASCII `word`, ignoring ASCII case.
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer.SubSequence, _ word: StaticString) -> Bool {
        guard bytes.count == word.utf8CodeUnitCount else { return false }
        var k = 0
        for b in bytes {
            let w = word.utf8Start[k]
            if b != w && !(b | 0x20 == w && w >= 0x61 && w <= 0x7A) { return false }
            k += 1
        }
        return true
    }
}
