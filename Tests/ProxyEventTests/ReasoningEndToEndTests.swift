import ProxyCore
import Testing

@Suite("Reasoning end to end with the official openai SDK", .enabled(if: PythonClient.available))
struct ReasoningEndToEndTests {
    static let config = """
    {"inheritDefaults": false,
     "providers": {"fake": {"baseUrl": "http://FAKE", "allowedPaths": ["/v1/*"], "models": ["fake-reasoner"]}}}
    """

    @Test("reasoning_content and a clean content on every chat route", arguments: ["route6", "route7", "route8", "route10"])
    func everyRoute(route: String) throws {
        let h = try Harness(config: Self.config)
        let proxy = "http://127.0.0.1:\(h.port)"
        let base: String
        switch route {
        case "route6": base = proxy + "/v1"
        case "route7": base = proxy + "/proxy/http://127.0.0.1:\(h.fakePort)/v1"
        case "route8": base = proxy + "/provider/fake/v1"
        default: base = proxy + "/fake/v1"
        }
        let (status, out, err) = try PythonClient.run("openai_think.py", [base, "fake-reasoner"])
        #expect(status == 0, "\(err)")
        let result = try JSONValue.parse(out)
        #expect(result["stream"]?["content"]?.stringValue == "The answer is 4.")
        #expect(result["stream"]?["reasoning"]?.stringValue == "Two plus two is four.")
        #expect(result["stream"]?["finish"]?.stringValue == "stop")
        #expect(result["whole"]?["content"]?.stringValue == "The answer is 4.")
        #expect(result["whole"]?["reasoning"]?.stringValue == "Two plus two is four.")
        #expect(result["whole"]?["request_id"]?.stringValue?.isEmpty == false)
        #expect(result["whole"]?["provider"]?.stringValue?.isEmpty == false)
    }
}
