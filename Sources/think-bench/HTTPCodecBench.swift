import Glibc
import ProxyCore

/// `think-bench --http N`: reads a typical client request with `HTTPRequestParser` and writes a
/// typical answer head with `HTTPResponseRules` N times each, and reports nanoseconds per
/// request and per head (run it under callgrind for instruction counts).
func runHTTPCodecBench(rounds: Int) {
    let request = Array(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"
        + "User-Agent: OpenAI/Python 1.54.0\r\nAuthorization: Bearer sk-not-a-real-key\r\nAccept: application/json\r\n"
        + "Content-Length: 77\r\n\r\n"
        + #"{"model":"fake-model","stream":false,"messages":[{"role":"user","content":"hi"}]}"#).utf8)
    let limits = HTTPRequestParser.Limits(maxHeaderBytes: 65536, maxBodyBytes: 1 << 20)
    var parser = HTTPRequestParser(limits: limits)
    var heads = 0
    var start = now()
    for _ in 0..<rounds {
        request.withUnsafeBytes { all in
            var offset = 0
            while true {
                let (event, used) = parser.next(UnsafeRawBufferPointer(rebasing: all[offset...]))
                offset += used
                if case .head = event { heads += 1 }
                if case .end = event { break }
                if case .error = event { fatalError("the bench request was refused") }
            }
        }
    }
    let parseNs = (now() - start) / Double(max(rounds, 1)) * 1e9
    var headers = HTTPHeaders()
    headers.add("Content-Type", "application/json")
    headers.add("Date", "Mon, 07 Dec 2026 09:08:05 GMT")
    headers.add("x-request-id", "54c3c429029bffc8")
    headers.add("x-proxyd-provider", "fake")
    let head = HTTPRequestHead(method: "POST", target: "/v1/chat/completions", version: .http11)
    var out: [UInt8] = []
    out.reserveCapacity(1024)
    start = now()
    for _ in 0..<rounds {
        out.removeAll(keepingCapacity: true)
        let framing = HTTPResponseRules.framing(for: head, status: 200, length: 280)
        HTTPResponseRules.writeHead(status: 200, headers: headers, framing: framing,
                                    keepAlive: HTTPResponseRules.keepsAlive(head, framing: framing, draining: false),
                                    version: .http11, date: nil, into: &out)
    }
    let writeNs = (now() - start) / Double(max(rounds, 1)) * 1e9
    print("http codec, \(rounds) rounds: parse \(Int(parseNs)) ns/request (\(request.count) bytes), write head \(Int(writeNs)) ns (\(out.count) bytes), \(heads) heads")
}
