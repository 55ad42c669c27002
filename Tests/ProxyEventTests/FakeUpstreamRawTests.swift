import FakeUpstream
import Glibc
import ProxyCore
import ProxyEvent
import Testing

/// The fake upstream's raw byte-script mode (`x-fake-raw*`), tested against the fake alone.
@Suite("Fake upstream: raw byte scripts")
struct FakeUpstreamRawTests {
    /// The `x-fake-raw` value for `pieces`.
    static func script(_ pieces: [(String, Int)]) -> String {
        String(decoding: JSONValue.array(pieces.map { .array([.string($0.0), .int($0.1)]) }).encoded(), as: UTF8.self)
    }

    /// What the script's body should be.
    static func expected(_ pieces: [(String, Int)]) -> [UInt8] {
        var out: [UInt8] = []
        for (text, n) in pieces { for _ in 0..<n { out += Array(text.utf8) } }
        return out
    }

    static func withFake(_ body: (FakeUpstream) throws -> Void) throws {
        let fake = FakeUpstream()
        try fake.start()
        defer { fake.stop() }
        try body(fake)
    }

    static let sse: [(String, Int)] = [
        ("event: ping\ndata: {\"n\":1}\n\n", 3),
        ("data: {\"text\":\"caf\u{e9} \u{1F600}\"}\r\n\r\n", 2),
        (": comment\n", 1),
        ("data: [DONE]\n\n", 1),
    ]

    @Test("an SSE script with repeats comes back byte for byte, chunked, on any path")
    func chunkedSSE() throws {
        try Self.withFake { fake in
            let c = try TestConnection(port: fake.port)
            let (head, body) = try c.exchange("POST", "/v1/chat/completions", headers: [("x-fake-raw", Self.script(Self.sse))])
            #expect(head.status == 200)
            #expect(head.headers["Content-Type"] == "text/event-stream")
            #expect(head.headers["Transfer-Encoding"]?.lowercased() == "chunked")
            #expect(head.headers["Content-Length"] == nil)
            #expect(body == Self.expected(Self.sse))
            #expect(waitUntil { fake.finishedAnswers == 1 })
            // The connection stays usable after a clean end.
            let (again, echo) = try c.exchange("GET", "/anything/else?q=1", headers: [("x-fake-raw", #"[["one"], ["two", 2]]"#)])
            #expect(again.status == 200)
            #expect(String(decoding: echo, as: UTF8.self) == "onetwotwo")
        }
    }

    @Test("with x-fake-raw-length the body comes with its exact Content-Length, status and type")
    func withLength() throws {
        try Self.withFake { fake in
            let c = try TestConnection(port: fake.port)
            let (head, body) = try c.exchange("GET", "/x", headers: [
                ("x-fake-raw", Self.script(Self.sse)), ("x-fake-raw-length", "1"),
                ("x-fake-raw-status", "502"), ("x-fake-raw-type", "application/json; charset=utf-8"),
            ])
            #expect(head.status == 502)
            #expect(head.headers["Content-Type"] == "application/json; charset=utf-8")
            #expect(head.headers["Transfer-Encoding"] == nil)
            #expect(head.headers["Content-Length"] == String(Self.expected(Self.sse).count))
            #expect(body == Self.expected(Self.sse))
        }
    }

    @Test("pieces longer than a send, and send boundaries inside repeated texts, keep every byte in place")
    func acrossBoundaries() throws {
        // 7- and 3-byte texts do not divide 64 KiB, so sends start mid-text.
        let pieces: [(String, Int)] = [("abcdefg", 30_001), ("xyz", 50_000), ("\n", 1), ("0123456789", 7_000)]
        try Self.withFake { fake in
            for length in [false, true] {
                let c = try TestConnection(port: fake.port)
                var headers = [("x-fake-raw", Self.script(pieces))]
                if length { headers.append(("x-fake-raw-length", "1")) }
                let (head, body) = try c.exchange("GET", "/", headers: headers)
                #expect(head.status == 200)
                #expect(body.count == Self.expected(pieces).count)
                #expect(body == Self.expected(pieces), "length: \(length)")
            }
        }
    }

    @Test("the standing script can carry a raw script too")
    func standing() throws {
        try Self.withFake { fake in
            fake.setScript([("x-fake-raw", #"[["data: hi\n\n", 2]]"#)])
            let (head, body) = try httpRequest(port: fake.port, "POST", "/v1/messages", body: "{}")
            #expect(head.status == 200)
            #expect(body == "data: hi\n\ndata: hi\n\n")
        }
    }

    @Test("a malformed raw script is answered 400", arguments: [
        ("not json", [String: String]()), (#"{"a":1}"#, [:]), (#"[["x", 0]]"#, [:]), (#"[["x", 1.5]]"#, [:]), (#"[[1]]"#, [:]),
        (#"[["x", 1, 2]]"#, [:]), (#"[["x"]]"#, ["x-fake-raw-end": "later"]), (#"[["x"]]"#, ["x-fake-raw-encoding": "br"]),
        (#"[["x"]]"#, ["x-fake-raw-status": "abc"]), (#"[["xx", 9223372036854775807]]"#, [:]),
    ])
    func malformed(raw: String, extra: [String: String]) throws {
        try Self.withFake { fake in
            let (head, body) = try httpRequest(port: fake.port, "GET", "/", headers: [("x-fake-raw", raw)] + extra.map { ($0.key, $0.value) })
            #expect(head.status == 400, "\(raw) \(extra)")
            #expect(body.contains("bad_raw_script"))
        }
    }

    @Test("an empty script is an empty body, ended properly")
    func empty() throws {
        try Self.withFake { fake in
            let c = try TestConnection(port: fake.port)
            let (head, body) = try c.exchange("GET", "/", headers: [("x-fake-raw", "[]"), ("x-fake-raw-type", "")])
            #expect(head.status == 200)
            #expect(head.headers["Content-Type"] == nil)
            #expect(body.isEmpty)
        }
    }

    @Test("a reset end: the client gets every byte, then the connection closes without the last chunk")
    func resetChunked() throws {
        let pieces: [(String, Int)] = [("data: {\"i\":1}\n\n", 20_000), ("data: half", 1)]
        try Self.withFake { fake in
            let c = try TestConnection(port: fake.port)
            try c.sendRequest("GET", "/v1/chat/completions", headers: [("x-fake-raw", Self.script(pieces)), ("x-fake-raw-end", "reset")])
            let head = try c.readHead()
            #expect(head.status == 200)
            #expect(head.headers["Transfer-Encoding"]?.lowercased() == "chunked")
            var got: [UInt8] = []
            #expect(throws: TestConnection.Truncated.self) {
                while let chunk = try c.readChunk() { got += chunk }
            }
            #expect(got == Self.expected(pieces))
            #expect(waitUntil { fake.finishedAnswers == 1 })
        }
    }

    @Test("a reset end with a Content-Length: the whole body, then the connection closes")
    func resetWithLength() throws {
        try Self.withFake { fake in
            let c = try TestConnection(port: fake.port)
            let (head, body) = try c.exchange("GET", "/", headers: [
                ("x-fake-raw", #"[["abc", 1000]]"#), ("x-fake-raw-end", "reset"), ("x-fake-raw-length", "1"),
            ])
            #expect(head.headers["Content-Length"] == "3000")
            #expect(body == Self.expected([("abc", 1000)]))
            #expect(c.peerClosed(within: 10))
        }
    }

    // MARK: encodings

    @Test("CRC-32 and Adler-32 match their known check values")
    func checksums() {
        #expect(StoredDeflate.CRC32.of(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(StoredDeflate.CRC32.of([]) == 0)
        #expect(StoredDeflate.CRC32.of(Array("The quick brown fox jumps over the lazy dog".utf8)) == 0x414F_A339)
        #expect(StoredDeflate.Adler32.of(Array("Wikipedia".utf8)) == 0x11E6_0398)
        #expect(StoredDeflate.Adler32.of([]) == 1)
        // Fed in uneven pieces, the running values agree with one pass (both over the 8-byte
        // and 5552-byte steps of the implementations).
        let data = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3) }
        var crc = StoredDeflate.CRC32(), adler = StoredDeflate.Adler32()
        var i = 0, step = 1
        while i < data.count {
            let j = min(data.count, i + step)
            crc.update(Array(data[i..<j]))
            adler.update(Array(data[i..<j]))
            i = j
            step = step * 3 % 9973 + 1
        }
        #expect(crc.value == StoredDeflate.CRC32.of(data))
        #expect(adler.value == StoredDeflate.Adler32.of(data))
        // A long run of 0xFF pushes Adler-32's sums to their largest.
        let ones = [UInt8](repeating: 0xFF, count: 20_000)
        #expect(StoredDeflate.Adler32.of(ones) == Self.slowAdler(ones))
    }

    static func slowAdler(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for x in bytes { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        return b << 16 | a
    }

    @Test("stored-block framing: headers, block count and length")
    func framing() {
        #expect(StoredDeflate.blockHeader(length: 5, final: false) == [0x00, 0x05, 0x00, 0xFA, 0xFF])
        #expect(StoredDeflate.blockHeader(length: 0, final: true) == [0x01, 0x00, 0x00, 0xFF, 0xFF])
        #expect(StoredDeflate.blockHeader(length: 65535, final: false) == [0x00, 0xFF, 0xFF, 0x00, 0x00])
        let empty = StoredDeflate.encode([], format: .zlib)
        #expect(empty == [0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01])
        let hello = StoredDeflate.encode(Array("hello".utf8), format: .gzip)
        #expect(Array(hello.prefix(10)) == [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xFF])
        #expect(hello.count == 10 + 5 + 5 + 5 + 8)
        for n in [0, 1, 65534, 65535, 65536, 200_000] {
            for format in [StoredDeflate.Format.gzip, .zlib] {
                let body = [UInt8](repeating: 0x61, count: n)
                #expect(StoredDeflate.encode(body, format: format).count == StoredDeflate.encodedLength(bodyBytes: n, format: format))
                #expect(StoredDeflate.encode(body, format: format, blockSize: 1000).count
                        == StoredDeflate.encodedLength(bodyBytes: n, format: format, blockSize: 1000))
            }
        }
        // (0x78 << 8 | 0x01) must be a multiple of 31 for zlib's header check.
        #expect((0x78 << 8 | 0x01) % 31 == 0)
    }

    static let python = "/usr/bin/python3"

    /// Decodes `encoded` with Python's gzip or zlib module; the decoded bytes, or nil (with the
    /// error) when Python refused them (bad checksum, length, framing or trailing bytes).
    static func pythonDecode(_ encoded: [UInt8], gzip: Bool) throws -> ([UInt8]?, String) {
        let (inFD, inPath) = makeTemporaryFile("proxyd-raw-in")
        _ = encoded.withUnsafeBytes { write(inFD, $0.baseAddress, $0.count) }
        close(inFD)
        let (outFD, outPath) = makeTemporaryFile("proxyd-raw-out")
        defer { close(outFD); unlink(outPath); unlink(inPath) }
        let code = """
        import gzip, sys, zlib
        data = open(sys.argv[1], 'rb').read()
        if sys.argv[2] == 'gzip':
            out = gzip.decompress(data)
            d = zlib.decompressobj(31)
        else:
            out = zlib.decompress(data)
            d = zlib.decompressobj(15)
        again = d.decompress(data) + d.flush()
        assert d.eof and d.unused_data == b'' and again == out, 'stream does not end where the data does'
        sys.stdout.buffer.write(out)
        """
        let child = try ChildProcess(executable: python, arguments: ["-c", code, inPath, gzip ? "gzip" : "zlib"], stdoutFD: outFD)
        let status = child.waitForExit(60)
        guard status == 0 else { return (nil, child.stderr) }
        switch readWholeFile(outPath) {
        case .success(let bytes): return (bytes, "")
        case .failure: return (nil, "no output")
        }
    }

    @Test("whole-buffer encodings decode with Python, across many blocks",
          .enabled(if: access(FakeUpstreamRawTests.python, X_OK) == 0))
    func encodeDecodesWithPython() throws {
        let body = (0..<150_000).map { UInt8(truncatingIfNeeded: $0 &* 31 ^ $0 >> 9) }
        for gzip in [true, false] {
            let (decoded, error) = try Self.pythonDecode(StoredDeflate.encode(body, format: gzip ? .gzip : .zlib), gzip: gzip)
            #expect(decoded == body, "\(error)")
        }
    }

    @Test("a gzip or deflate raw body decodes with Python to the script's bytes, chunked or with its length",
          .enabled(if: access(FakeUpstreamRawTests.python, X_OK) == 0),
          arguments: [("gzip", false), ("gzip", true), ("deflate", false), ("deflate", true)])
    func encodedOverTheWire(encoding: String, length: Bool) throws {
        // ~330 KB: several stored blocks, with block and send boundaries inside texts.
        let pieces: [(String, Int)] = [("data: {\"x\":\"\u{e9}t\u{e9}\"}\n\n", 15_000), ("tail\n", 3)]
        let expected = Self.expected(pieces)
        try Self.withFake { fake in
            let c = try TestConnection(port: fake.port)
            var headers = [("x-fake-raw", Self.script(pieces)), ("x-fake-raw-encoding", encoding)]
            if length { headers.append(("x-fake-raw-length", "1")) }
            let (head, body) = try c.exchange("POST", "/v1/chat/completions", headers: headers)
            #expect(head.status == 200)
            #expect(head.headers["Content-Encoding"] == encoding)
            if length {
                #expect(head.headers["Content-Length"] == String(body.count))
                #expect(head.headers["Transfer-Encoding"] == nil)
            }
            #expect(body.count > expected.count + 5 * 5)
            let (decoded, error) = try Self.pythonDecode(body, gzip: encoding == "gzip")
            #expect(decoded == expected, "\(error)")
            // The fake's own encoder, with its block size, gives the same bytes.
            let blockSize = 64 * 1024 - StoredDeflate.blockHeaderSize
            #expect(body == StoredDeflate.encode(expected, format: encoding == "gzip" ? .gzip : .zlib, blockSize: blockSize))
        }
    }

    @Test("an encoded empty body is a valid empty stream",
          .enabled(if: access(FakeUpstreamRawTests.python, X_OK) == 0))
    func encodedEmpty() throws {
        try Self.withFake { fake in
            for encoding in ["gzip", "deflate"] {
                let (head, body) = try TestConnection(port: fake.port).exchange("GET", "/", headers: [
                    ("x-fake-raw", "[]"), ("x-fake-raw-encoding", encoding), ("x-fake-raw-length", "1"),
                ])
                #expect(head.headers["Content-Length"] == String(body.count))
                let (decoded, error) = try Self.pythonDecode(body, gzip: encoding == "gzip")
                #expect(decoded == [], "\(error)")
            }
        }
    }

    // MARK: size

    /// Reads a body of `length` bytes straight off the socket, checking each byte against the
    /// pattern; returns how many matched before the first mismatch or the end.
    static func readPattern(_ c: TestConnection, length: Int, expect: (Int) -> UInt8) -> Int {
        var seen = 0
        let early = c.takeBuffered()
        for b in early { if b != expect(seen) { return seen }; seen += 1 }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while seen < length {
            let n = buffer.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return seen }
            for i in 0..<n where buffer[i] != expect(seen + i) { return seen + i }
            seen += n
        }
        return seen
    }

    @Test("a large repeat streams lazily: 256 MiB of a 7-byte text, each byte in place")
    func large() throws {
        let text = Array("abcdefg".utf8)
        let count = (256 << 20) / 7
        try Self.withFake { fake in
            let c = try TestConnection(port: fake.port)
            try c.sendRequest("GET", "/", headers: [("x-fake-raw", "[[\"abcdefg\", \(count)], [\"!\"]]"), ("x-fake-raw-length", "1")])
            let head = try c.readHead()
            let length = count * 7 + 1
            #expect(head.headers["Content-Length"] == String(length))
            let seen = Self.readPattern(c, length: length) { $0 == length - 1 ? UInt8(ascii: "!") : text[$0 % 7] }
            #expect(seen == length)
            #expect(waitUntil { fake.finishedAnswers == 1 })
        }
    }

    @Test("a client that leaves mid-body stops the generating, and the answer is counted")
    func clientLeaves() throws {
        try Self.withFake { fake in
            do {
                let c = try TestConnection(port: fake.port)
                c.setReceiveBuffer(4096)
                try c.sendRequest("GET", "/", headers: [("x-fake-raw", #"[["x", 2147483648]]"#)])
                let head = try c.readHead()
                #expect(head.status == 200)
                _ = try c.readChunk()
            }
            #expect(waitUntil { fake.finishedAnswers == 1 && fake.disconnects == 1 })
        }
    }
}
