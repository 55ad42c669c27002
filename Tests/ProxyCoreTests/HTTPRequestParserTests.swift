@testable import ProxyCore
import Testing

/// The bytes of a string whose every Unicode scalar is at most U+00FF, one byte per scalar (the
/// corpus's encoding, so that any byte can be written in JSON or a Swift literal).
func wireBytes(_ text: String) -> [UInt8] {
    text.unicodeScalars.map { scalar in
        guard let b = UInt8(exactly: scalar.value) else { fatalError("U+\(String(scalar.value, radix: 16)) is not a byte") }
        return b
    }
}

/// Everything a parser made of a byte stream. Two feeds of the same bytes, however they were cut,
/// must give equal transcripts.
struct ParseTranscript: Equatable, CustomStringConvertible {
    var heads: [HTTPRequestHead] = []
    /// Each head's body bytes, framing removed (the last one may be incomplete).
    var bodies: [[UInt8]] = []
    /// How many requests were read to their end.
    var ended = 0
    var error: HTTPRequestError?
    /// Breaches of the parser's contract with its caller, seen while feeding it.
    var faults: [String] = []

    /// The status the stream was refused with, or 0.
    var status: Int { error?.status ?? 0 }

    var description: String {
        let b = bodies.map { String(decoding: $0, as: UTF8.self).debugDescription }
        return "heads \(heads.map { "\($0.method) \($0.target)" }), bodies \(b), ended \(ended), "
            + "error \(error.map { "\($0.status) \($0.code)" } ?? "none")\(faults.isEmpty ? "" : ", faults \(faults)")"
    }
}

/// Feeds a new parser `bytes` cut into pieces at `cuts`, the way a connection receives them: the
/// unconsumed bytes are kept, each piece is appended, and events are read until `.needMore`.
func parse(_ bytes: [UInt8], cuts: [Int] = [], limits: HTTPRequestParser.Limits) -> ParseTranscript {
    var parser = HTTPRequestParser(limits: limits)
    var t = ParseTranscript()
    var pending: [UInt8] = []
    var events = 0
    var from = 0
    for cut in cuts + [bytes.count] where cut >= from {
        pending += bytes[from..<cut]
        from = cut
        while true {
            let (event, used) = pending.withUnsafeBytes { parser.next($0) }
            if used < 0 || used > pending.count {
                t.faults.append("consumed \(used) of \(pending.count) bytes")
                return t
            }
            events += 1
            if events > 4 * bytes.count + 16 {
                t.faults.append("no progress")
                return t
            }
            switch event {
            case .needMore:
                pending.removeFirst(used)
            case .head(let head):
                t.heads.append(head)
                t.bodies.append([])
                pending.removeFirst(used)
                if head.framing != .none && !parser.isReadingBody { t.faults.append("a body is framed but not being read") }
            case .body(let range):
                if range.isEmpty || range.lowerBound < 0 || range.upperBound > used {
                    t.faults.append("body range \(range) outside the \(used) bytes consumed")
                    return t
                }
                if t.bodies.isEmpty {
                    t.faults.append("body bytes before a head")
                    return t
                }
                t.bodies[t.bodies.count - 1] += pending[range]
                pending.removeFirst(used)
            case .end:
                t.ended += 1
                pending.removeFirst(used)
                if parser.isReadingBody { t.faults.append("still reading a body after .end") }
                if t.ended != t.heads.count { t.faults.append(".end without its own head") }
            case .error(let error):
                t.error = error
                // A failed parser stays failed, whatever comes next, and consumes nothing more.
                let again = pending.withUnsafeBytes { parser.next($0) }
                if again.event != .error(error) || again.consumed != 0 { t.faults.append("did not stay failed") }
                return t
            }
            if case .needMore = event { break }
        }
    }
    return t
}

/// One request (or several, pipelined) of Fixtures/http1/corpus.json.
struct CorpusCase: Sendable, CustomTestStringConvertible {
    var name: String
    var request: [UInt8]
    /// The refusal status, or 0 for accepted.
    var expect: Int
    /// For accepted: how many requests are complete; for refused, when given, how many come first.
    var requests: Int?
    var bodies: [[UInt8]]?
    var testDescription: String { name }
}

/// The corpus of valid and hostile HTTP/1 requests that this suite and the differential test
/// against h11 and httptools share.
struct HTTP1Corpus: Sendable {
    var limits: HTTPRequestParser.Limits
    var cases: [CorpusCase]

    static let shared = HTTP1Corpus(json: fixture("http1/corpus.json"))

    init(json: [UInt8]) {
        guard let doc = try? JSONValue.parse(json),
              let maxHead = doc["limits"]?["maxHeaderBytes"]?.intValue,
              let maxBody = doc["limits"]?["maxBodyBytes"]?.intValue,
              let list = doc["cases"]?.arrayValue else { fatalError("http1/corpus.json is not a corpus") }
        limits = HTTPRequestParser.Limits(maxHeaderBytes: maxHead, maxBodyBytes: maxBody)
        cases = list.map { c in
            guard let name = c["name"]?.stringValue, let request = c["request"]?.stringValue,
                  let expect = c["expect"]?.intValue else { fatalError("a corpus case lacks name, request or expect") }
            let bodies = c["bodies"]?.arrayValue?.map { wireBytes($0.stringValue ?? "") }
            return CorpusCase(name: name, request: wireBytes(request), expect: expect, requests: c["requests"]?.intValue,
                              bodies: bodies)
        }
    }
}

@Suite("HTTPRequestParser: a strict sans-I/O HTTP/1.x request parser")
struct HTTPRequestParserTests {
    static let corpus = HTTP1Corpus.shared
    static var limits: HTTPRequestParser.Limits { corpus.limits }

    @Test("the corpus has unique names and covers every refusal status of the strict parser")
    func corpusShape() {
        let names = Self.corpus.cases.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(Set(Self.corpus.cases.map(\.expect)) == [0, 400, 413, 431, 501, 505])
        for c in Self.corpus.cases where c.expect == 0 {
            #expect(c.requests != nil && c.bodies?.count == c.requests, "\(c.name): an accepted case lists its bodies")
        }
    }

    @Test("read whole, each corpus case gives its status, requests and bodies", arguments: corpus.cases)
    func corpusWhole(_ c: CorpusCase) {
        let t = parse(c.request, limits: Self.limits)
        #expect(t.faults.isEmpty, "\(t)")
        #expect(t.status == c.expect, "\(t)")
        if let n = c.requests { #expect(t.ended == n, "\(t)") }
        if let bodies = c.bodies { #expect(Array(t.bodies.prefix(t.ended)) == bodies, "\(t)") }
    }

    @Test("fed byte by byte, each corpus case reads exactly as it does whole", arguments: corpus.cases)
    func corpusByteByByte(_ c: CorpusCase) {
        let whole = parse(c.request, limits: Self.limits)
        let dripped = parse(c.request, cuts: Array(0..<c.request.count), limits: Self.limits)
        #expect(dripped == whole, "byte by byte: \(dripped)\nwhole: \(whole)")
    }

    @Test("cut in two at every point, each corpus case reads exactly as it does whole", arguments: corpus.cases)
    func corpusEverySplit(_ c: CorpusCase) {
        let whole = parse(c.request, limits: Self.limits)
        for cut in 1..<max(1, c.request.count) {
            let split = parse(c.request, cuts: [cut], limits: Self.limits)
            #expect(split == whole, "cut at \(cut): \(split)\nwhole: \(whole)")
            if split != whole { return }
        }
    }

    @Test("cut into random pieces (fixed seed), each corpus case reads exactly as it does whole", arguments: corpus.cases)
    func corpusRandomPieces(_ c: CorpusCase) {
        let whole = parse(c.request, limits: Self.limits)
        var rng = SplitMix(seed: 0x4854_5450_2F31 ^ UInt64(c.request.count))
        for _ in 0..<24 {
            var cuts: [Int] = []
            var at = 0
            while true {
                at += 1 + Int(rng.next() % 24)
                if at >= c.request.count { break }
                cuts.append(at)
            }
            let pieces = parse(c.request, cuts: cuts, limits: Self.limits)
            #expect(pieces == whole, "cuts \(cuts): \(pieces)\nwhole: \(whole)")
            if pieces != whole { return }
        }
    }
}
