import ProxyCore
import Testing

@Suite("Pass-through path safety")
struct PathSafetyTests {
    static let refused: [(String, String, PathSafety.Violation)] = [
        ("dot segment", "/v1/./models", .dotSegment),
        ("dot-dot segment", "/v1/../admin", .dotSegment),
        ("trailing dot-dot", "/v1/models/..", .dotSegment),
        ("dot-dot with parameters", "/v1/..;x=1/admin", .dotSegment),
        ("dot with parameters", "/.;/v1", .dotSegment),
        ("empty segment", "/v1//models", .emptySegment),
        ("leading empty segment", "//evil.com/v1", .emptySegment),
        ("embedded URL", "/v1/http://evil.com/x", .embeddedURL),
        ("backslash", "/v1\\..\\admin", .backslash),
        ("at sign in first segment", "/user@evil.com/v1", .authorityInFirstSegment),
        ("colon in first segment", "/evil.com:8080/v1", .authorityInFirstSegment),
        ("NUL byte", "/v1/mo\u{0}dels", .controlByte),
        ("newline", "/v1/models\nHost: x", .controlByte),
        ("DEL byte", "/v1/\u{7f}", .controlByte),
        ("raw non-ASCII", "/v1/modèles", .nonASCII),
        ("invalid escape %zz", "/v1/%zz", .invalidEscape),
        ("IIS-style %u escape", "/v1/%u002e%u002e/admin", .invalidEscape),
        ("lone percent", "/v1/models%", .invalidEscape),
        ("percent with one digit", "/v1/models%2", .invalidEscape),
        ("encoded dot", "/v1/%2e%2e/admin", .encodedDelimiter),
        ("encoded dot, upper case", "/v1/%2E%2E/admin", .encodedDelimiter),
        ("encoded slash", "/v1/a%2fb", .encodedDelimiter),
        ("encoded backslash", "/v1/a%5cb", .encodedDelimiter),
        ("encoded percent (double encoding)", "/v1/%252e%252e/admin", .encodedDelimiter),
        ("encoded NUL", "/v1/a%00b", .controlByte),
        ("encoded newline", "/v1/a%0d%0aX-Injected:1", .controlByte),
        ("encoded at sign in first segment", "/user%40evil.com/v1", .authorityInFirstSegment),
        ("encoded colon in first segment", "/host%3a80/v1", .authorityInFirstSegment),
        ("encoded invalid UTF-8", "/v1/%ff%fe", .invalidUTF8),
        ("fragment", "/v1/models#x", .fragment),
    ]

    @Test("refused", arguments: refused)
    func refusedPaths(name: String, path: String, expected: PathSafety.Violation) {
        #expect(throws: expected) { try PathSafety.check(Array(path.utf8)) }
    }

    static let accepted: [(String, String)] = [
        ("plain", "/v1/chat/completions"),
        ("trailing slash", "/v1/models/"),
        ("colon later", "/v1/models/gpt-4:free"),
        ("at sign later", "/v1/users/me@example.com"),
        ("percent-encoded UTF-8", "/v1/models/caf%C3%A9"),
        ("encoded space", "/v1/files/a%20b"),
        ("dots inside a name", "/v1/models/deepseek-r1.5"),
        ("three dots", "/v1/.../x"),
        ("semicolon parameters", "/v1/models;v=2"),
        ("root", "/"),
    ]

    @Test("accepted", arguments: accepted)
    func acceptedPaths(name: String, path: String) throws {
        try PathSafety.check(Array(path.utf8))
    }

    @Test("allowed-path patterns: exact and trailing star", arguments: [
        ("/v1/chat/completions", "/v1/chat/completions", true),
        ("/v1/chat/completions", "/v1/chat/completions/x", false),
        ("/v1/*", "/v1/models", true),
        ("/v1/*", "/v1/", true),
        ("/v1/*", "/v1", false),
        ("/v1*", "/v1beta/models", true),
        ("/v1/*", "/V1/models", false),
        ("/api/v1/*", "/api/v1/chat/completions", true),
        ("/", "/", true),
    ])
    func patterns(pattern: String, path: String, matches: Bool) throws {
        #expect(try PathPattern(pattern).matches(Array(path.utf8)) == matches)
    }

    @Test("property: an allowed random path is forwarded as matched and holds no refused construct")
    func randomPaths() throws {
        var rng = SplitMix(seed: 0x5EED)
        let alphabet = Array("abc./\\%:@;?#25eEfF0 \u{7f}\u{0}é".unicodeScalars.map(String.init))
        let provider = try PathPattern("/v1/*")
        var allowedCount = 0
        for _ in 0..<20_000 {
            var path = "/v1/"
            for _ in 0..<Int(rng.next() % 12) { path += alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            let bytes = Array(path.utf8)
            guard (try? PathSafety.check(bytes)) != nil, provider.matches(bytes) else { continue }
            allowedCount += 1
            // What is sent is the bytes checked, and they decode to nothing dangerous.
            let decoded = percentDecoded(bytes)
            let segments = decoded.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
            #expect(!segments.dropLast().contains { $0.isEmpty }, "\(path)")
            #expect(!segments.contains { $0.elementsEqual([0x2E]) || $0.elementsEqual([0x2E, 0x2E]) }, "\(path)")
            #expect(!decoded.contains { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "#") }, "\(path)")
            #expect(!bytes.contains { $0 >= 0x80 }, "\(path)")
        }
        #expect(allowedCount > 1000)
    }

    func percentDecoded(_ b: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "%"), i + 2 < b.count, let v = UInt8(String(decoding: b[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
                out.append(v); i += 3
            } else { out.append(b[i]); i += 1 }
        }
        return out
    }
}

/// A small deterministic generator for property tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
