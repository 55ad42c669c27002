import Glibc
import ProxyEvent
import Testing

@Suite("proxyd's command line")
struct CommandLineTests {
    /// Runs proxyd to completion; returns exit status, stdout and stderr.
    func run(_ args: [String], env: [String: String] = [:]) throws -> (Int32, String, String) {
        let (outFD, outPath) = makeTemporaryFile("proxyd-out")
        defer { close(outFD); unlink(outPath) }
        let child = try ChildProcess(executable: ChildProcess.buildDirectory + "/proxyd", arguments: args, environment: env, stdoutFD: outFD)
        let status = child.waitForExit(20) ?? -1
        return (status, readAll(outPath), child.stderr)
    }

    func writeConfig(_ text: String) -> String {
        let (fd, path) = makeTemporaryFile("proxyd-cfg")
        _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        return path
    }

    @Test("--version and --help exit 0")
    func versionHelp() throws {
        let (s1, out1, _) = try run(["--version"])
        #expect(s1 == 0 && out1.hasPrefix("proxyd "))
        let (s2, out2, _) = try run(["--help"])
        #expect(s2 == 0 && out2.contains("proxyd check"))
    }

    @Test("usage errors exit 64", arguments: [["--bogus"], ["frobnicate"], ["route", "GET"], ["serve", "--workers", "x"], ["route", "GET", "no-slash"]])
    func usageErrors(args: [String]) throws {
        let (status, _, err) = try run(args)
        #expect(status == 64)
        #expect(err.contains("usage:"))
    }

    @Test("check: a summary and exit 0 for a good file")
    func checkGood() throws {
        let path = writeConfig(#"{"providers": {"local": {"baseUrl": "http://127.0.0.1:9000", "allowedPaths": ["/v1/*"]}}}"#)
        defer { unlink(path) }
        let (status, out, _) = try run(["check", "--config", path])
        #expect(status == 0)
        #expect(out.contains("configuration OK") && out.contains("local: openai http://127.0.0.1:9000"))
    }

    @Test("check: every error with its key path and exit 1")
    func checkBad() throws {
        let path = writeConfig(#"{"providers": {"openrouter": {"allowedPaths": ["/a", "/b", "/x*y"]}}, "server": {"port": 1}}"#)
        defer { unlink(path) }
        let (status, _, err) = try run(["check", "--config", path])
        #expect(status == 1)
        #expect(err.contains("providers.openrouter.allowedPaths[2]: '*' may only end a pattern"))
        #expect(err.contains("server.port: unknown key"))
    }

    @Test("a bad file at start-up exits non-zero without serving")
    func serveBadFile() throws {
        let path = writeConfig(#"{"server": {"workers": "many"}}"#)
        defer { unlink(path) }
        let (status, _, err) = try run(["serve", "--config", path, "--listen", "127.0.0.1:0"])
        #expect(status == 1 && err.contains("server.workers"))
    }

    @Test("route prints the dry-run JSON, secrets redacted, exit 0")
    func route() throws {
        let path = writeConfig(#"{"providers": {"openrouter": {"apiKey": "sk-or-very-secret"}}}"#)
        defer { unlink(path) }
        let (status, out, _) = try run(["route", "--config", path, "POST", "/openrouter/api/v1/chat/completions"])
        #expect(status == 0)
        #expect(out.contains(#""upstream_url":"https://openrouter.ai/api/v1/chat/completions""#))
        #expect(out.contains(#""matched_pattern":"/api/v1/*""#))
        #expect(out.contains("[redacted]") && !out.contains("sk-or-very-secret"))
        let (s2, out2, _) = try run(["route", "--config", path, "GET", "/openrouter/../etc/passwd"])
        #expect(s2 == 0 && out2.contains(#""allowed":false"#) && out2.contains(#""status":400"#))
    }

    @Test("the listening line names the workers actually running (workers 0: one per core)")
    func listeningWorkers() throws {
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        for (setting, expected) in [(0, max(1, cores)), (3, 3)] {
            let (proxy, _, path) = try ChildProcess.proxyd(config: #"{"inheritDefaults": false, "server": {"workers": \#(setting)}}"#)
            defer { unlink(path) }
            let line = proxy.stderr.split(separator: "\n").first { $0.contains(#""msg":"listening""#) } ?? ""
            #expect(line.contains(#""workers":\#(expected),"#) || line.contains(#""workers":\#(expected)}"#), "\(line)")
            proxy.signal(SIGTERM)
            #expect(proxy.waitForExit(10) == 0)
        }
    }

    @Test("with no file, route sends gpt-4o-mini to openai and claude-sonnet-4-5 to anthropic (built-in prefixes)")
    func routeBuiltinPrefixes() throws {
        let (status, out, err) = try run(["route", "POST", "/v1/chat/completions", "--model", "gpt-4o-mini"])
        #expect(status == 0, "\(err)")
        #expect(out.contains(#""upstream_url":"https://api.openai.com/v1/chat/completions""#), "\(out)")
        let (status2, out2, _) = try run(["route", "POST", "/v1/chat/completions", "--model", "claude-sonnet-4-5"])
        #expect(status2 == 0 && out2.contains(#""upstream_url":"https://api.anthropic.com/v1/messages""#), "\(out2)")
    }

    @Test("PROXYD_CONFIG names the file when --config does not")
    func configFromEnvironment() throws {
        let path = writeConfig(#"{"inheritDefaults": false, "providers": {"only": {"baseUrl": "https://only.example"}}}"#)
        defer { unlink(path) }
        let (status, out, _) = try run(["check"], env: ["PROXYD_CONFIG": path])
        #expect(status == 0 && out.contains("providers (1)"))
    }
}

/// A whole file as text (the tests' one reader for logs and outputs).
func readAll(_ path: String) -> String {
    switch readWholeFile(path) {
    case .success(let bytes): return String(decoding: bytes, as: UTF8.self)
    case .failure: return ""
    }
}
