import Glibc
import ProxyCore

// think-bench [FILE.sse] [--rounds N] | --http N: runs a recorded chat stream through ChatStreamTransform
// in off, split and strip modes and reports nanoseconds per chunk and MB/s. Not a test: a
// measurement to compare before and after a change, on the same machine, in one run.

func readFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return out
}

/// A DeepSeek-R1-like stream: role chunk, reasoning in <think> split over many deltas, the
/// answer, a finish chunk, usage, [DONE].
func syntheticStream(deltas: Int) -> [UInt8] {
    var text = ""
    func chunk(_ delta: String, finish: String = "null") -> String {
        #"data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1737000000,"model":"deepseek-r1","choices":[{"index":0,"delta":\#(delta),"logprobs":null,"finish_reason":\#(finish)}]}"# + "\n\n"
    }
    text += chunk(#"{"role":"assistant","content":""}"#)
    text += chunk(#"{"content":"<think>\n"}"#)
    for i in 0..<deltas / 2 { text += chunk(#"{"content":" step \#(i) of the reasoning"}"#) }
    text += chunk(#"{"content":"</think>\n\n"}"#)
    for i in 0..<deltas / 2 { text += chunk(#"{"content":" word\#(i)"}"#) }
    text += chunk("{}", finish: #""stop""#)
    text += #"data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1737000000,"model":"deepseek-r1","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":200,"total_tokens":210}}"# + "\n\n"
    text += "data: [DONE]\n\n"
    return Array(text.utf8)
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

var args = Array(CommandLine.arguments.dropFirst())
var rounds = 2000
if let i = args.firstIndex(of: "--rounds"), i + 1 < args.count, let n = Int(args[i + 1]) { rounds = n; args.removeSubrange(i...(i + 1)) }
if let i = args.firstIndex(of: "--http"), i + 1 < args.count, let n = Int(args[i + 1]) {
    runHTTPCodecBench(rounds: n)
    exit(0)
}
let input: [UInt8]
if let path = args.first {
    guard let bytes = readFile(path) else { print("cannot read \(path)"); exit(1) }
    input = bytes
} else {
    input = syntheticStream(deltas: 200)
}
var events = 0
var counter = SSEParser()
counter.feed(input) { if case .event = $0 { events += 1 } }

// Network-sized pieces: what a transfer delivers at a time.
let pieceSize = 1400
var pieces: [[UInt8]] = []
var i = 0
while i < input.count { pieces.append(Array(input[i..<min(input.count, i + pieceSize)])); i += pieceSize }

print("stream: \(input.count) bytes, \(events) events, fed in \(pieces.count) pieces of \(pieceSize) bytes, \(rounds) rounds")
print("mode   ns/chunk   MB/s")
for mode in [ThinkMode.off, .split, .strip] {
    var settings = ThinkSettings()
    settings.mode = mode
    var sink = 0
    let start = now()
    for _ in 0..<rounds {
        let t = ChatStreamTransform(settings: ChatAnswerSettings(think: settings))
        var out: [UInt8] = []
        for p in pieces { p.withUnsafeBytes { _ = t.feed($0, into: &out) } }
        t.finish(upstreamComplete: true, reason: "", into: &out)
        sink &+= out.count
    }
    let elapsed = now() - start
    let nsPerChunk = elapsed / Double(rounds * events) * 1e9
    let mbps = Double(input.count * rounds) / elapsed / 1e6
    print("\(mode.rawValue.padding(6))\(String(Int(nsPerChunk)).leftPad(9))\(String(format1(mbps)).leftPad(9))   (\(sink % 10))")
}

// Whole (non-streamed) answers: the <think> rewrite and the usage read that every chat
// completion gets, per response.
let wholePlain = Array(#"{"id":"chatcmpl-bench","object":"chat.completion","created":1737000000,"model":"deepseek-r1","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the bench, a plain answer of a few words."},"finish_reason":"stop"}],"usage":{"prompt_tokens":18,"completion_tokens":12,"total_tokens":30}}"#.utf8)
let wholeThink = Array(#"{"id":"chatcmpl-bench","object":"chat.completion","created":1737000000,"model":"deepseek-r1","choices":[{"index":0,"message":{"role":"assistant","content":"<think>\nThe user wants a greeting. A short one will do.\n</think>\n\nHello from the bench."},"finish_reason":"stop"}],"usage":{"prompt_tokens":18,"completion_tokens":30,"total_tokens":48}}"#.utf8)
print("whole answers (\(wholePlain.count) and \(wholeThink.count) bytes), \(rounds * 20) rounds")
print("mode   answer   ns/response")
for mode in [ThinkMode.off, .split, .strip] {
    for (name, body) in [("plain", wholePlain), ("think", wholeThink)] {
        var settings = ThinkSettings()
        settings.mode = mode
        let plan = ChatAnswerSettings(think: settings)
        var sink = 0
        let start = now()
        for _ in 0..<(rounds * 20) {
            let done = plan.finishWhole(body, prices: Usage.Prices(prompt1K: 0.001, completion1K: 0.002))
            sink &+= done.body.count &+ (done.usage?.completionTokens ?? 0)
        }
        let elapsed = now() - start
        print("\(mode.rawValue.padding(7))\(name.padding(9))\(String(Int(elapsed / Double(rounds * 20) * 1e9)).leftPad(11))   (\(sink % 10))")
    }
}

func format1(_ v: Double) -> String { String(Double(Int(v * 10)) / 10) }
extension String {
    func padding(_ n: Int) -> String { self + String(repeating: " ", count: max(0, n - count)) }
    func leftPad(_ n: Int) -> String { String(repeating: " ", count: max(0, n - count)) + self }
}
