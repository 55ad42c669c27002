import FakeUpstream
import Glibc
import ProxyCore
import Testing

@Suite("Signals")
struct ShutdownTests {
    static func config(fakePort: Int, grace: Double) -> String {
        Harness.defaultConfig.replacing("FAKE", with: "127.0.0.1:\(fakePort)")
            .replacing("\"maxHeaderBytes\": 8192", with: "\"maxHeaderBytes\": 8192, \"shutdownGraceSeconds\": \(grace)")
    }

    @Test("SIGTERM stops accepting, lets a stream in flight finish, and exits 0")
    func drainsStreamInFlight() throws {
        let fake = FakeUpstream()
        try fake.start()
        defer { fake.stop() }
        let (proxy, port, _) = try ChildProcess.proxyd(config: Self.config(fakePort: fake.port, grace: 20))
        let c = try TestConnection(port: port)
        try c.sendRequest("POST", "/provider/fake/v1/chat/completions", headers: [("x-fake-chunks", "10"), ("x-fake-delay-ms", "100")],
                          json: #"{"model":"fake-model","stream":true}"#)
        let head = try c.readHead()
        #expect(head.status == 200)
        var body = try c.readChunk() ?? []
        proxy.signal(SIGTERM)
        // The listening socket closes while the stream goes on.
        #expect(waitUntil(5) { (try? TestConnection(port: port)) == nil })
        while let chunk = try c.readChunk() { body += chunk }
        #expect(String(decoding: body, as: UTF8.self).hasSuffix("data: [DONE]\n\n"))
        #expect(proxy.waitForExit(10) == 0)
        #expect(proxy.stderr.contains("\"msg\":\"access\""))
    }

    @Test("a stream still running when the grace period ends is cut, and proxyd exits 0")
    func cutsAfterGrace() throws {
        let fake = FakeUpstream()
        try fake.start()
        defer { fake.stop() }
        let (proxy, port, _) = try ChildProcess.proxyd(config: Self.config(fakePort: fake.port, grace: 0.5))
        let c = try TestConnection(port: port)
        try c.sendRequest("POST", "/provider/fake/v1/chat/completions", headers: [("x-fake-chunks", "100"), ("x-fake-delay-ms", "100")],
                          json: #"{"model":"fake-model","stream":true}"#)
        _ = try c.readHead()
        _ = try c.readChunk()
        let started = monotonic()
        proxy.signal(SIGTERM)
        #expect(proxy.waitForExit(10) == 0)
        #expect(monotonic() - started < 5)
        #expect(throws: (any Error).self) { while try c.readChunk() != nil {} }
        #expect(proxy.stderr.contains("cutting requests"))
        #expect(proxy.stderr.contains("\"outcome\":\"cut\""))
        #expect(waitUntil(5) { fake.disconnects == 1 })
    }
}
