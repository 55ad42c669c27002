import FakeUpstream
import Glibc
import ProxyCore
import Testing

@Suite("Operating proxyd: metrics, OpenAPI, logs, reload", .enabled(if: PythonClient.available))
struct OperationsEndToEndTests {
    static let config = """
    {"inheritDefaults": false,
     "providers": {"fake": {"baseUrl": "http://FAKE", "allowedPaths": ["/v1/*"], "models": ["fake-model"]},
                   "dead": {"baseUrl": "http://127.0.0.1:DEAD"}}}
    """

    @Test("/metrics parses with prometheus_client; per-loop counters add up across two loops")
    func metrics() throws {
        let h = try Harness(config: Self.config.replacing("DEAD", with: String(closedPort())), workers: 2)
        for _ in 0..<10 { _ = try httpRequest(port: h.port, "POST", "/v1/chat/completions", body: #"{"model":"fake-model"}"#) }
        _ = try httpRequest(port: h.port, "GET", "/nope")
        let (status, out, err) = try PythonClient.run("check_metrics.py", ["http://127.0.0.1:\(h.port)"])
        #expect(status == 0, "\(err)")
        let families = try JSONValue.parse(out)
        func samples(_ name: String) -> [JSONValue] { families[name]?["samples"]?.arrayValue ?? [] }
        let chat = samples("proxyd_requests").filter {
            $0["name"]?.stringValue == "proxyd_requests_total" && $0["labels"]?["route"]?.stringValue == "chat_completions"
        }
        #expect(chat.first?["value"]?.doubleValue == 10 && chat.first?["labels"]?["provider"]?.stringValue == "fake")
        #expect(samples("proxyd_requests").contains { $0["labels"]?["status"]?.stringValue == "404" })
        for family in ["proxyd_request_duration_seconds", "proxyd_upstream_ttfb_seconds"] {
            #expect(families[family]?["type"]?.stringValue == "histogram", "\(family)")
            #expect(samples(family).contains { $0["name"]?.stringValue == family + "_count" && $0["value"]?.doubleValue ?? 0 >= 10 })
        }
        #expect(families["proxyd_requests_in_flight"]?["type"]?.stringValue == "gauge")
        let tokens = samples("proxyd_tokens").filter { $0["labels"]?["model"]?.stringValue == "fake-model" }
        #expect(Set(tokens.compactMap { $0["labels"]?["kind"]?.stringValue }) == ["prompt", "completion"])
        #expect(families["proxyd_failovers"] != nil && families["proxyd_cost_usd"] != nil && families["proxyd_model_list_refreshes"] != nil)
    }

    @Test("/openapi.json is a valid OpenAPI 3.1 document, every route described")
    func openAPI() throws {
        let h = try Harness(config: Self.config.replacing("DEAD", with: String(closedPort())))
        let (status, out, err) = try PythonClient.run("check_openapi.py", ["http://127.0.0.1:\(h.port)"])
        #expect(status == 0, "\(err)")
        let r = try JSONValue.parse(out)
        #expect(r["openapi"]?.stringValue == "3.1.0" && (r["operations"]?.intValue ?? 0) >= 17)
    }

    @Test("a bounded schemathesis run finds no server error and no response that breaks the document")
    func schemathesis() throws {
        let h = try Harness(config: Self.config.replacing("DEAD", with: String(closedPort())))
        let (fd, outPath) = makeTemporaryFile("proxyd-st")
        defer { close(fd); unlink(outPath) }
        let child = try ChildProcess(executable: PythonClient.root + "/.venv/bin/schemathesis",
                                     arguments: ["run", "http://127.0.0.1:\(h.port)/openapi.json", "--checks", "all", "-n", "20",
                                                 "--seed", "1", "--workers", "1", "--request-timeout", "5",
                                                 "--phases", "examples,coverage,fuzzing", "--max-failures", "20"],
                                     environment: ["PATH": "/usr/bin:/bin", "HOME": "/tmp", "SCHEMATHESIS_TELEMETRY": "false"], stdoutFD: fd)
        let status = child.waitForExit(240)
        let report = readAll(outPath)
        #expect(status == 0, "\(report.suffix(3000))")
        #expect(report.contains("passed") && !report.contains("ST101"))
    }

    @Test("the official openai SDK, sync and async, on every chat route, and errors as its own exceptions")
    func sdkClients() throws {
        let h = try Harness(config: Self.config.replacing("DEAD", with: String(closedPort())))
        let (status, out, err) = try PythonClient.run("openai_clients.py", ["http://127.0.0.1:\(h.port)", "http://127.0.0.1:\(h.fakePort)", "fake-model"])
        #expect(status == 0, "\(err)")
        let r = try JSONValue.parse(out)
        for route in ["route6", "route7", "route8", "route10"] {
            for key in ["sync_whole", "sync_stream", "async_whole", "async_stream"] {
                #expect(r[route]?[key]?.stringValue == "Answer.", "\(route) \(key)")
            }
        }
        let e = r["errors"]
        #expect(e?["unknown_model"]?["class"]?.stringValue == "NotFoundError" && e?["unknown_model"]?["status"]?.intValue == 404)
        #expect(e?["upstream_429"]?["class"]?.stringValue == "RateLimitError")
        #expect(e?["upstream_500"]?["class"]?.stringValue == "InternalServerError" && e?["upstream_500"]?["status"]?.intValue == 500)
        #expect(e?["refused_path"]?["class"]?.stringValue == "PermissionDeniedError" && e?["refused_path"]?["status"]?.intValue == 403)
        #expect(e?["dead_upstream"]?["status"]?.intValue == 502)
    }

    @Test("an auth.keys gate surfaces as AuthenticationError")
    func authError() throws {
        let config = Self.config.replacing("DEAD", with: String(closedPort()))
            .replacing(#""inheritDefaults": false,"#, with: #""inheritDefaults": false, "auth": {"keys": ["pk-ops"]},"#)
        let h = try Harness(config: config)
        let script = """
        import json, sys, openai
        c = openai.OpenAI(base_url=sys.argv[1], api_key="wrong", max_retries=0)
        try:
            c.models.list(); print(json.dumps({"error": None}))
        except openai.AuthenticationError as e:
            ok = openai.OpenAI(base_url=sys.argv[1], api_key="pk-ops", max_retries=0)
            print(json.dumps({"error": e.status_code, "with_key": [m.id for m in ok.models.list()]}))
        """
        let path = "/tmp/proxyd-auth-\(getpid()).py"
        let f = fopen(path, "w"); fputs(script, f); fclose(f)
        defer { unlink(path) }
        let child = try ChildProcess(executable: PythonClient.python, arguments: [path, "http://127.0.0.1:\(h.port)/v1"],
                                     environment: ["PATH": "/usr/bin:/bin"], stdoutFD: nil)
        _ = child.waitForExit(60)
        #expect(!h.log.contains("pk-ops"))
        let (head, _) = try httpRequest(port: h.port, "GET", "/v1/models", headers: [("Authorization", "Bearer wrong")])
        #expect(head.status == 401)
    }
}

@Suite("Logs and reload")
struct LogsAndReloadTests {
    @Test("--log-level warn keeps info lines (access) out; every line about a request carries its id")
    func logLevels() throws {
        let fake = FakeUpstream()
        try fake.start()
        defer { fake.stop() }
        let config = """
        {"inheritDefaults": false, "providers": {"a": {"baseUrl": "http://127.0.0.1:\(closedPort())", "models": ["m"], "priority": 1},
                                                 "b": {"baseUrl": "http://127.0.0.1:\(fake.port)", "models": ["m"], "priority": 2}}}
        """
        let (quiet, port, _) = try ChildProcess.proxyd(config: config, extraArguments: ["--log-level", "warn"])
        _ = try httpRequest(port: port, "POST", "/v1/chat/completions", headers: [("x-request-id", "trace-77")], body: #"{"model":"m"}"#)
        #expect(waitUntil(5) { quiet.stderr.contains(#""msg":"attempt""#) })
        let lines = quiet.stderr.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
        #expect(!lines.contains { $0["msg"]?.stringValue == "access" })
        #expect(lines.allSatisfy { $0["ts"] != nil && $0["level"] != nil && $0["msg"] != nil })
        let attempts = lines.filter { $0["msg"]?.stringValue == "attempt" }
        #expect(!attempts.isEmpty && attempts.allSatisfy { $0["request_id"]?.stringValue == "trace-77" })
        quiet.signal(SIGTERM)
        #expect(quiet.waitForExit(10) == 0)
    }

    @Test("SIGHUP reloads atomically: a stream in flight finishes on the old configuration, new requests use the new one; a bad file is ignored")
    func reload() throws {
        let old = FakeUpstream(), new = FakeUpstream()
        try old.start()
        try new.start()
        defer { old.stop(); new.stop() }
        func config(_ port: Int) -> String {
            #"{"inheritDefaults": false, "providers": {"p": {"baseUrl": "http://127.0.0.1:\#(port)", "models": ["m"]}}}"#
        }
        let (proxy, port, path) = try ChildProcess.proxyd(config: config(old.port))
        defer { unlink(path) }
        let c = try TestConnection(port: port)
        try c.sendRequest("POST", "/provider/p/v1/chat/completions", headers: [("x-fake-chunks", "10"), ("x-fake-delay-ms", "100")],
                          json: #"{"model":"m","stream":true}"#)
        let head = try c.readHead()
        var body = try c.readChunk() ?? []
        func write(_ text: String) {
            let f = fopen(path, "w"); fputs(text, f); fclose(f)
        }
        write(config(new.port))
        proxy.signal(SIGHUP)
        #expect(waitUntil(5) { proxy.stderr.contains("configuration reloaded") })
        let (fresh, _) = try httpRequest(port: port, "POST", "/provider/p/v1/chat/completions", body: #"{"model":"m"}"#)
        #expect(fresh.status == 200 && new.requests.count == 1)
        while let chunk = try c.readChunk() { body += chunk }
        #expect(head.status == 200 && String(decoding: body, as: UTF8.self).hasSuffix("data: [DONE]\n\n"))
        #expect(old.requests.count == 1)
        write("{ not json")
        proxy.signal(SIGHUP)
        #expect(waitUntil(5) { proxy.stderr.contains("reload failed") })
        let (still, _) = try httpRequest(port: port, "POST", "/provider/p/v1/chat/completions", body: #"{"model":"m"}"#)
        #expect(still.status == 200 && new.requests.count == 2)
        proxy.signal(SIGTERM)
        #expect(proxy.waitForExit(10) == 0)
    }
}
