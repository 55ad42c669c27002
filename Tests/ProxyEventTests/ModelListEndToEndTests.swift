import FakeUpstream
import Glibc
import ProxyCore
import Testing

@Suite("Model list loading and the OpenAI-compatible endpoints end to end")
struct ModelListEndToEndTests {
    static let config = """
    {"inheritDefaults": false,
     "modelList": {"url": "http://FAKE/model-list.json", "refreshSeconds": 0.2},
     "providers": {"fake": {"baseUrl": "http://FAKE", "models": ["static-model"]}}}
    """

    static func list(_ models: [String], price: Double = 0.001) -> String {
        "[" + models.map { #"{"model_version":"\#($0)","handle":"/fake/v1/chat/completions","prompt_price_1k":\#(price),"completion_price_1k":\#(price * 2)}"# }
            .joined(separator: ",") + "]"
    }

    func models(_ h: Harness) throws -> [String] {
        let (head, body) = try httpRequest(port: h.port, "GET", "/v1/models")
        guard head.status == 200 else { return [] }
        return try JSONValue.parse(body)["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
    }

    func status(_ h: Harness, _ path: String) throws -> Int { try httpRequest(port: h.port, "GET", path).0.status }

    @Test("not ready until the first list loads; refreshes follow the list; a failed refresh keeps the last good one")
    func refreshCycle() throws {
        let h = try Harness(config: Self.config)
        #expect(try status(h, "/readyz") == 503)
        #expect(try status(h, "/healthz") == 200)
        h.fake.setModelList(status: 200, body: Self.list(["listed-a"]))
        #expect(waitUntil(10) { (try? status(h, "/readyz")) == 200 })
        #expect(waitUntil(10) { (try? models(h)) == ["static-model", "listed-a"] })
        h.fake.setModelList(status: 200, body: Self.list(["listed-a", "listed-b"]))
        #expect(waitUntil(10) { (try? models(h)) == ["static-model", "listed-a", "listed-b"] })
        h.fake.setModelList(status: 500, body: "{}")
        #expect(waitUntil(10) { h.log.contains("model list load failed") })
        #expect(try models(h) == ["static-model", "listed-a", "listed-b"])
        #expect(try status(h, "/readyz") == 200)
        h.fake.setModelList(status: 200, body: "not json")
        #expect(waitUntil(10) { h.log.contains("not valid JSON") })
        #expect(try models(h) == ["static-model", "listed-a", "listed-b"])
        h.fake.setModelList(status: 200, body: Self.list(["listed-c"]))
        #expect(waitUntil(10) { (try? models(h)) == ["static-model", "listed-c"] })
        let (_, metrics) = try httpRequest(port: h.port, "GET", "/metrics")
        #expect(metrics.contains(#"proxyd_model_list_refreshes_total{result="failure"}"#))
        #expect(metrics.contains(#"proxyd_model_list_refreshes_total{result="success"}"#))
        // The legacy alias answers the same.
        let (legacy, body) = try httpRequest(port: h.port, "GET", "/api/v1/models")
        #expect(legacy.status == 200 && body.contains("listed-c"))
    }

    /// proxyd with the model list serving `priced` (prompt 0.5 per 1K tokens), once it has loaded.
    func harnessServingPriced() throws -> Harness {
        let h = try Harness(config: Self.config)
        h.fake.setModelList(status: 200, body: Self.list(["priced"], price: 0.5))
        #expect(waitUntil(10) { (try? models(h))?.contains("priced") == true })
        return h
    }

    @Test("a model from the list is routed by its handle and costs its entry's prices")
    func routedAndPriced() throws {
        let h = try harnessServingPriced()
        let (head, body) = try httpRequest(port: h.port, "POST", "/v1/chat/completions", body: #"{"model":"priced","messages":[]}"#)
        #expect(head.status == 200)
        let usage = try JSONValue.parse(body)["usage"]
        let p = Double(usage?["prompt_tokens"]?.intValue ?? 0), c = Double(usage?["completion_tokens"]?.intValue ?? 0)
        let expected = p / 1000 * 0.5 + c / 1000 * 1.0
        #expect(abs((Double(head.headers["x-proxyd-cost-usd"] ?? "") ?? -1) - expected) < 1e-9)
        #expect(head.headers["x-proxyd-provider"] == "fake")
        #expect(waitUntil(5) { h.log.contains(#""cost_usd":"#) && h.log.contains(#""prompt_tokens":\#(Int(p))"#) })
    }

    @Test("a streamed request gets usage counted without the client seeing the usage chunk")
    func hiddenUsage() throws {
        let h = try harnessServingPriced()
        let (_, body) = try httpRequest(port: h.port, "POST", "/v1/chat/completions", body: #"{"model":"priced","stream":true}"#)
        #expect(!body.contains("prompt_tokens") && body.hasSuffix("data: [DONE]\n\n"))
        let sent = try JSONValue.parse(try #require(h.fake.requests.last?.body))
        #expect(sent["stream_options"]?["include_usage"]?.boolValue == true)
        #expect(waitUntil(5) { h.accessLines(route: "chat_completions").first?["completion_tokens"]?.intValue ?? 0 > 0 })
        let (_, asked) = try httpRequest(port: h.port, "POST", "/v1/chat/completions",
                                         body: #"{"model":"priced","stream":true,"stream_options":{"include_usage":true}}"#)
        #expect(asked.contains("prompt_tokens"))
    }

    @Test("a model list file works too, and MODEL_LIST_URL replaces the file's source")
    func fileAndEnvironment() throws {
        let (fd, path) = makeTemporaryFile("proxyd-models")
        defer { unlink(path) }
        _ = Array(Self.list(["from-file"]).utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let config = """
        {"inheritDefaults": false, "modelList": {"file": "\(path)"},
         "providers": {"fake": {"baseUrl": "http://FAKE"}}}
        """
        let h = try Harness(config: config)
        #expect(waitUntil(10) { (try? models(h)) == ["from-file"] })
        let probe = FakeUpstream()
        try probe.start()
        defer { probe.stop() }
        probe.setModelList(status: 200, body: Self.list(["from-env"]))
        let h2 = try Harness(config: config, environment: ["MODEL_LIST_URL": "http://127.0.0.1:\(probe.port)/model-list.json"])
        #expect(waitUntil(10) { (try? models(h2)) == ["from-env"] })
    }
}

@Suite("The official openai SDK on the model catalog", .enabled(if: PythonClient.available))
struct CatalogSDKTests {
    @Test("lists models, sees cost and provider headers on a whole answer, streams, gets NotFoundError")
    func sdk() throws {
        let h = try Harness(config: ModelListEndToEndTests.config)
        h.fake.setModelList(status: 200, body: ModelListEndToEndTests.list(["listed"], price: 0.25))
        #expect(waitUntil(10) { (try? httpRequest(port: h.port, "GET", "/readyz").0.status) == 200 })
        let (status, out, err) = try PythonClient.run("openai_catalog.py", ["http://127.0.0.1:\(h.port)/v1", "listed"])
        #expect(status == 0, "\(err)")
        let r = try JSONValue.parse(out)
        #expect(r["models"]?.arrayValue?.compactMap(\.stringValue) == ["static-model", "listed"])
        // `created`: when proxyd first saw the id, never 0.
        let now = Int(time(nil))
        for c in r["created"]?.arrayValue?.compactMap(\.intValue) ?? [] { #expect(c > now - 600 && c <= now) }
        #expect(r["retrieved"]?["id"]?.stringValue == "listed" && r["retrieved"]?["owned_by"]?.stringValue == "fake")
        #expect((r["retrieved"]?["created"]?.intValue ?? 0) > now - 600)
        #expect(r["retrieve_unknown"]?["status"]?.intValue == 404)
        #expect(r["whole"]?["provider"]?.stringValue == "fake")
        #expect(Double(r["whole"]?["cost"]?.stringValue ?? "") ?? 0 > 0)
        #expect(r["whole"]?["content"]?.stringValue == "Hello from the fake upstream.")
        #expect(r["stream"]?["content"]?.stringValue == "Hello from the fake upstream.")
        #expect(r["stream"]?["usage_seen"]?.boolValue == false)
        #expect(r["unknown_model"]?["status"]?.intValue == 404)
    }

    @Test("proxyd route sees the model list as a running proxyd does (URL and file); an unreachable list is a warning")
    func routeSeesModelList() throws {
        let fake = FakeUpstream()
        try fake.start()
        defer { fake.stop() }
        fake.setModelList(status: 200, body: ModelListEndToEndTests.list(["list-only"]))
        let config = ModelListEndToEndTests.config.replacing("FAKE", with: "127.0.0.1:\(fake.port)")
        let (fd, path) = makeTemporaryFile("proxyd-route-config")
        _ = Array(config.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        defer { unlink(path) }
        func route(_ configPath: String, model: String = "list-only") throws -> (Int32, String, String) {
            let (outFD, outPath) = makeTemporaryFile("proxyd-route-out")
            defer { close(outFD); unlink(outPath) }
            let child = try ChildProcess(executable: ChildProcess.buildDirectory + "/proxyd",
                                         arguments: ["route", "POST", "/v1/chat/completions", "--model", model, "--config", configPath],
                                         stdoutFD: outFD)
            let status = child.waitForExit(30) ?? -1
            return (status, readAll(outPath), child.stderr)
        }
        let (status, out, err) = try route(path)
        #expect(status == 0, "\(err)")
        #expect(out.contains(#""upstream_url":"http://127.0.0.1:\#(fake.port)/v1/chat/completions""#), "\(out)")
        // From a file.
        let (lfd, listPath) = makeTemporaryFile("proxyd-route-list")
        _ = Array(ModelListEndToEndTests.list(["file-only"]).utf8).withUnsafeBytes { write(lfd, $0.baseAddress, $0.count) }
        close(lfd)
        defer { unlink(listPath) }
        let fileConfig = #"{"inheritDefaults": false, "modelList": {"file": "\#(listPath)"}, "providers": {"fake": {"baseUrl": "http://127.0.0.1:\#(fake.port)"}}}"#
        let (cfd, filePath) = makeTemporaryFile("proxyd-route-config2")
        _ = Array(fileConfig.utf8).withUnsafeBytes { write(cfd, $0.baseAddress, $0.count) }
        close(cfd)
        defer { unlink(filePath) }
        let (_, out2, _) = try route(filePath, model: "file-only")
        #expect(out2.contains(#""upstream_url":"http://127.0.0.1:\#(fake.port)/v1/chat/completions""#), "\(out2)")
        // An unreachable list: the route is explained without it, with a warning.
        fake.setModelList(status: 500, body: "{}")
        let (status3, out3, err3) = try route(path)
        #expect(status3 == 0 && out3.contains(#""status":404"#) && err3.contains("model list not loaded"), "\(out3) \(err3)")
    }

    @Test("the anthropic SDK lists and retrieves the catalog in Anthropic's shape, and gets an unknown model's 404 in its error shape", .enabled(if: PythonClient.available))
    func anthropicModels() throws {
        let h = try Harness(config: ModelListEndToEndTests.config)
        h.fake.setModelList(status: 200, body: ModelListEndToEndTests.list(["listed"]))
        #expect(waitUntil(10) { (try? httpRequest(port: h.port, "GET", "/readyz").0.status) == 200 })
        let (status, out, err) = try PythonClient.run("anthropic_models.py", ["http://127.0.0.1:\(h.port)", "listed"])
        #expect(status == 0, "\(err)")
        let r = try JSONValue.parse(out)
        #expect(r["ids"]?.arrayValue?.compactMap(\.stringValue) == ["static-model", "listed"])
        #expect(r["types"]?.arrayValue?.allSatisfy { $0.stringValue == "model" } == true)
        #expect(r["retrieved"]?["id"]?.stringValue == "listed")
        #expect(r["retrieved"]?["created_at"]?.stringValue?.hasPrefix("20") == true)
        // An unknown id: the SDK's NotFoundError, with the body in the Messages API's error shape.
        #expect(r["unknown"]?["status"]?.intValue == 404)
        #expect(r["unknown"]?["type"]?.stringValue == "error" && r["unknown"]?["error_type"]?.stringValue == "not_found_error")
        #expect(r["unknown"]?["message"]?.stringValue == "no such model: no-such-model")
    }
}
