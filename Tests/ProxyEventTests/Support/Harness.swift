import FakeUpstream
import Glibc
import ProxyCore
import ProxyEvent

/// A fake upstream and a proxyd (in this process), both on loopback port 0.
final class Harness {
    /// The fake upstreams: `FAKE0`, `FAKE1`, ... in the configuration (`FAKE` is the first).
    let fakes: [FakeUpstream]
    var fake: FakeUpstream { fakes[0] }
    let proxy: ProxyServer
    let logFD: Int32
    let logPath: String

    var port: Int { proxy.port }
    var fakePort: Int { fake.port }

    /// - Parameter config: the configuration JSON; `FAKE` is replaced by the fake's `host:port`.
    init(config: String = Harness.defaultConfig, environment: [String: String] = [:], workers: Int = 1, fakes count: Int = 1) throws {
        var started: [FakeUpstream] = []
        for _ in 0..<count {
            let f = FakeUpstream()
            try f.start()
            started.append(f)
        }
        fakes = started
        var text = config
        for (i, f) in started.enumerated().reversed() { text = text.replacing("FAKE\(i)", with: "127.0.0.1:\(f.port)") }
        text = text.replacing("FAKE", with: "127.0.0.1:\(started[0].port)")
        let configuration = try ConfigurationLoader.load(file: Array(text.utf8), environment: environment,
                                                         overrides: CommandLineOverrides(listen: "127.0.0.1:0", workers: workers))
        (logFD, logPath) = makeTemporaryFile("proxyd-test-log", in: testLogDirectory)
        proxy = ProxyServer(configuration: configuration, logger: Logger(level: .debug, fd: logFD))
        try proxy.start()
    }

    deinit {
        proxy.shutdown(grace: 1)
        for f in fakes { f.stop() }
        close(logFD)
        if !keepTestLogs { unlink(logPath) }
    }

    /// Everything proxyd logged so far.
    var log: String { readAll(logPath) }

    /// The access log lines for `route`, parsed.
    func accessLines(route: String) -> [JSONValue] {
        log.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
            .filter { $0["msg"]?.stringValue == "access" && $0["route"]?.stringValue == route }
    }

    static let defaultConfig = """
    {"inheritDefaults": false,
     "server": {"maxBodyBytes": 11534336, "maxHeaderBytes": 8192},
     "providers": {
       "fake": {"baseUrl": "http://FAKE", "allowedPaths": ["/v1/*", "/bulk", "/echo/*"], "models": ["fake-model"],
                "timeoutSeconds": 5}
     },
     "debugRoutes": true}
    """
}

/// Where tests write proxyd's logs. scripts/test.sh names a directory (PROXYD_TEST_LOG_DIR) and
/// scans every line in it for the keys the tests used once the suite has run.
let testLogDirectory: String = getenv("PROXYD_TEST_LOG_DIR").map { String(cString: $0) } ?? "/tmp"
let keepTestLogs = getenv("PROXYD_TEST_LOG_DIR") != nil

/// Creates a temporary file named from `prefix`; returns its open descriptor and path.
func makeTemporaryFile(_ prefix: String, in directory: String = "/tmp") -> (fd: Int32, path: String) {
    var template = Array("\(directory)/\(prefix)-XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    return (fd, String(cString: template))
}

/// A port nothing listens on: bound, then closed.
func closedPort() -> Int {
    let s = try! ListeningSocket.bind(host: "127.0.0.1", port: 0)
    close(s.fd)
    return s.port
}
