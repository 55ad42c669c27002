import ProxyCore
import Testing

/// Where proxyd's request parser means to part from h11 and httptools (llhttp) on the corpus,
/// and why. Every other case on which those two agree, proxyd must agree with as well.
private let deliberateDivergences: [(cases: [String], reason: String)] = [
    (["target-absolute-form", "target-authority-form", "target-asterisk-get"],
     "proxyd is an origin server and takes only origin-form targets, or * for OPTIONS"),
    (["version-09", "version-20"],
     "proxyd serves only HTTP/1.0 and 1.1 (505), whatever the others parse"),
    (["smuggle-te-http10"],
     "RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request is faulty framing; proxyd refuses it"),
    (["header-value-latin1"],
     "proxyd keeps fields as text, so bytes above 0x7F in a value must be UTF-8"),
    (["chunk-ext-empty-value"],
     "RFC 9112 §7.1.1: a chunk-ext-val is a token or a quoted-string, never empty"),
    (["chunked-extension-bws"],
     "RFC 9112 §7.1.1 allows BWS around ';' and '=' in chunk extensions; both others refuse it"),
    (["cl-over-limit", "chunked-over-limit", "chunked-one-chunk-over-limit", "chunk-size-int-max",
      "chunk-size-int-max-after-data", "head-over-limit", "head-over-limit-incomplete", "request-line-over-limit",
      "trailers-over-limit"],
     "413 and 431 are proxyd's configured limits; the other parsers are given none"),
]

/// A parser's verdict on one corpus request: refused, or accepted with these complete requests' bodies.
private struct Verdict: Equatable, CustomStringConvertible {
    var bodies: [[UInt8]]?
    var accepted: Bool { bodies != nil }
    var description: String {
        guard let bodies else { return "refused" }
        return "accepted \(bodies.map { String(decoding: $0, as: UTF8.self).debugDescription })"
    }
}

private func bytes(_ text: String) -> [UInt8] { text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) } }

/// proxyd's verdict: `request` read whole, as one buffer.
private func proxydVerdict(_ request: [UInt8], limits: HTTPRequestParser.Limits) -> Verdict {
    var parser = HTTPRequestParser(limits: limits)
    var pending = request[...]
    var bodies: [[UInt8]] = []
    var body: [UInt8] = []
    for _ in 0..<(4 * request.count + 16) {
        let (event, used) = pending.withUnsafeBytes { parser.next($0) }
        switch event {
        case .needMore: return Verdict(bodies: bodies)
        case .head: body = []
        case .body(let r): body += pending[(pending.startIndex + r.lowerBound)..<(pending.startIndex + r.upperBound)]
        case .end: bodies.append(body)
        case .error: return Verdict(bodies: nil)
        }
        pending = pending.dropFirst(used)
    }
    Issue.record("the parser made no progress")
    return Verdict(bodies: nil)
}

/// A verdict printed by http1_differential.py, or nil when the parser stopped before judging
/// every byte (h11 after a request that closes the connection).
private func scriptVerdict(_ v: JSONValue?) -> Verdict? {
    guard let v, let accepted = v["accepted"]?.boolValue else { return nil }
    guard accepted else { return Verdict(bodies: nil) }
    if let unread = v["unread"]?.intValue, unread > 0 { return nil }
    return Verdict(bodies: (v["bodies"]?.arrayValue ?? []).map { bytes($0.stringValue ?? "") })
}

@Suite("HTTPRequestParser against h11 and httptools (llhttp) on the HTTP/1 corpus", .enabled(if: PythonClient.available))
struct HTTPRequestParserDifferentialTests {
    @Test("where h11 and httptools agree on a request, proxyd's parser agrees, but for its listed divergences")
    func agreesWhereTheyAgree() throws {
        let corpusPath = PythonClient.root + "/Tests/ProxyCoreTests/Fixtures/http1/corpus.json"
        let (status, out, err) = try PythonClient.run("http1_differential.py", [corpusPath])
        try #require(status == 0, "http1_differential.py failed (run scripts/python-env.sh): \(err)")
        let results = try JSONValue.parse(out)
        let corpus = try JSONValue.parse(readAll(corpusPath))
        let limits = HTTPRequestParser.Limits(maxHeaderBytes: corpus["limits"]?["maxHeaderBytes"]?.intValue ?? 0,
                                              maxBodyBytes: corpus["limits"]?["maxBodyBytes"]?.intValue ?? 0)
        let cases = corpus["cases"]?.arrayValue ?? []
        try #require(!cases.isEmpty)

        var reasons: [String: String] = [:]
        for d in deliberateDivergences { for name in d.cases { reasons[name] = d.reason } }
        let names = Set(cases.compactMap { $0["name"]?.stringValue })
        for name in reasons.keys.sorted() where !names.contains(name) { Issue.record("divergence \(name) is not a corpus case") }

        var compared = 0
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            let theirs = results["cases"]?[name]
            guard let h11 = scriptVerdict(theirs?["h11"]), let llhttp = scriptVerdict(theirs?["httptools"]) else {
                #expect(theirs != nil, "\(name): no verdict from the script")
                continue
            }
            guard h11 == llhttp else {
                #expect(reasons[name] == nil, "\(name) is listed as a divergence, but h11 and httptools disagree on it anyway")
                continue
            }
            compared += 1
            let ours = proxydVerdict(bytes(c["request"]?.stringValue ?? ""), limits: limits)
            if let reason = reasons[name] {
                #expect(ours != h11, "\(name) is listed as a divergence (\(reason)) but proxyd agrees: drop it from the list")
            } else {
                #expect(ours == h11, "\(name): h11 and httptools both \(h11), proxyd \(ours)")
            }
        }
        // Most of the corpus is decided alike by both; a collapse here means the script broke.
        #expect(compared > cases.count / 2, "only \(compared) of \(cases.count) cases were compared")
    }
}
