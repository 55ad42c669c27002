import FakeUpstream
import Glibc
import ProxyCore
import Testing

@Suite("What goes on the wire upstream")
struct UpstreamWireTests {
    @Test("the path and query go upstream exactly as the client sent them")
    func exactPath() throws {
        let h = try Harness()
        let target = "/v1/models/a%20b%3Bc;v=1/%E2%9C%93?x=%2F&y=&z=a+b"
        let (head, _) = try httpRequest(port: h.port, "GET", "/fake" + target)
        #expect(head.status == 200)
        #expect(h.fake.requests.last?.target == target)
    }

    @Test("TLS certificates are verified: a self-signed upstream is refused before any request reaches it",
          .enabled(if: PythonClient.available))
    func tlsVerification() throws {
        let dir = "/tmp/proxyd-tls-\(getpid())"
        mkdir(dir, 0o700)
        defer { _ = unlink(dir + "/cert.pem"); _ = unlink(dir + "/key.pem"); rmdir(dir) }
        let openssl = try ChildProcess(executable: "/usr/bin/openssl",
                                       arguments: ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/key.pem",
                                                   "-out", dir + "/cert.pem", "-days", "1", "-subj", "/CN=127.0.0.1"])
        #expect(openssl.waitForExit(60) == 0)
        let server = try ScriptServer("tls_server.py", [dir + "/cert.pem", dir + "/key.pem"])
        defer { server.stop() }
        let (port, outPath) = (server.port, server.outPath)
        let config = #"{"inheritDefaults": false, "providers": {"tls": {"baseUrl": "https://127.0.0.1:\#(port)"}}}"#
        let h = try Harness(config: config)
        let (head, body) = try httpRequest(port: h.port, "POST", "/provider/tls/v1/chat/completions", body: #"{"model":"m"}"#)
        #expect(head.status == 502)
        #expect(body.lowercased().contains("certificate") || body.lowercased().contains("ssl"), "\(body)")
        #expect(!readAll(outPath).contains("REQUEST"))
    }

    @Test("an upstream that closes a pooled connection: the next request goes out on a new one",
          .enabled(if: PythonClient.available))
    func pooledConnectionClosedByUpstream() throws {
        let server = try ScriptServer("closing_upstream.py", [])
        defer { server.stop() }
        let (port, outPath) = (server.port, server.outPath)
        let config = #"{"inheritDefaults": false, "providers": {"closing": {"baseUrl": "http://127.0.0.1:\#(port)"}}}"#
        let h = try Harness(config: config)
        for n in 1...3 {
            let (head, body) = try httpRequest(port: h.port, "POST", "/provider/closing/v1/chat/completions", body: #"{"model":"m"}"#)
            #expect(head.status == 200)
            #expect(body.contains(#""id":"c\#(n)""#), "\(body)")
            // The upstream closes the connection proxyd keeps for reuse before the next request.
            #expect(waitUntil(10) { readAll(outPath).contains("CLOSED \(n)") })
        }
        #expect(readAll(outPath).contains("CONN 3"))
    }
}

/// A Python test server from Tests/clients that prints `PORT n` once listening; its output goes
/// to a file the test reads.
struct ScriptServer {
    let process: ChildProcess
    let port: Int
    let outPath: String
    private let fd: Int32

    init(_ script: String, _ arguments: [String]) throws {
        let (fd, outPath) = makeTemporaryFile("proxyd-script-out")
        self.fd = fd
        self.outPath = outPath
        process = try ChildProcess(executable: PythonClient.python, arguments: [PythonClient.root + "/Tests/clients/" + script] + arguments,
                                   environment: ["PATH": "/usr/bin:/bin"], stdoutFD: fd)
        var port = 0
        #expect(waitUntil(20) {
            let out = readAll(outPath)
            guard let r = out.firstRange(of: "PORT ") else { return false }
            port = Int(out[r.upperBound...].prefix { $0.isNumber }) ?? 0
            return port > 0
        })
        self.port = port
    }

    func stop() {
        process.signal(SIGTERM)
        _ = process.waitForExit(5)
        close(fd)
        unlink(outPath)
    }
}
