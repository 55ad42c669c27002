import FakeUpstream
import Glibc
import ProxyCore
import ProxyEvent

func say(_ text: String, fd: Int32) {
    let bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}

// fake-upstream [--listen HOST:PORT]: serves until SIGTERM/SIGINT, printing its port first.
var host = "127.0.0.1"
var port = 0
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--listen":
        guard let v = args.popFirst(), let colon = v.lastIndex(of: ":"), let p = Int(v[v.index(after: colon)...]) else {
            say("usage: fake-upstream [--listen HOST:PORT]", fd: 2); exit(64)
        }
        host = String(v[..<colon]); port = p
    case "--help", "-h":
        say("usage: fake-upstream [--listen HOST:PORT]\nScripted per request with x-fake-* headers; see Sources/FakeUpstream.", fd: 1)
        exit(0)
    default:
        say("usage: fake-upstream [--listen HOST:PORT]", fd: 2); exit(64)
    }
}
let fake = FakeUpstream()
do { try fake.start(host: host, port: port) } catch {
    say("fake-upstream: \(error)", fd: 2); exit(1)
}
say("fake-upstream listening on \(host):\(fake.port)", fd: 1)
let loop = EventLoop()
let stop = { fake.stop(); exit(0) }
let term = SignalWatcher(loop: loop, signal: SIGTERM, stop)
let int = SignalWatcher(loop: loop, signal: SIGINT, stop)
withExtendedLifetime((term, int)) { loop.run() }
