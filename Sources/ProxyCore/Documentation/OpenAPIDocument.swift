/// The OpenAPI 3.1 description of proxyd's routes served at `/openapi.json`: every route with
/// its summary, description, tags, parameters, request and response schemas, and every status it
/// can answer.
public enum OpenAPIDocument {
    typealias J = JSONValue

    static func ref(_ name: String) -> J { .object([("$ref", .string("#/components/schemas/\(name)"))]) }
    static func obj(_ members: [(String, J)]) -> J { .object(members) }
    static func str(_ s: String) -> J { .string(s) }
    static func type(_ t: String, _ extra: [(String, J)] = []) -> J { obj([("type", str(t))] + extra) }

    static let errorMeanings: [String: String] = [
        "400": "malformed request: bad JSON, missing model, unsafe path or base URL",
        "401": "missing or invalid proxy key (when auth.keys is set), or a provider needs an API key",
        "403": "path or host not allowed",
        "404": "unknown route, provider or model",
        "405": "method not allowed here (see the Allow header)",
        "413": "request body larger than server.maxBodyBytes",
        "431": "request line and headers larger than server.maxHeaderBytes",
        "502": "upstream connection failed or answered malformed data",
        "503": "no candidate left (the message names each attempt), or not ready",
        "504": "upstream did not send its response head in time",
    ]

    static func errors(_ codes: [String]) -> [(String, J)] {
        codes.map { ($0, obj([("description", str(errorMeanings[$0] ?? "error")),
                               ("content", obj([("application/json", obj([("schema", ref("Error"))]))]))])) }
    }

    static func json(_ description: String, _ schema: J) -> J {
        obj([("description", str(description)), ("content", obj([("application/json", obj([("schema", schema)]))]))])
    }

    static func operation(_ summary: String, _ description: String, tag: String, responses: [(String, J)],
                          parameters: [J] = [], body: J? = nil) -> J {
        var m: [(String, J)] = [("summary", str(summary)), ("description", str(description)), ("tags", .array([str(tag)]))]
        if !parameters.isEmpty { m.append(("parameters", .array(parameters))) }
        if let body {
            m.append(("requestBody", obj([("required", .bool(true)), ("content", obj([("application/json", obj([("schema", body)]))]))])))
        }
        m.append(("responses", obj(responses)))
        return obj(m)
    }

    static func pathParameter(_ name: String, _ description: String) -> J {
        obj([("name", str(name)), ("in", str("path")), ("required", .bool(true)), ("description", str(description)),
             ("schema", type("string", [("minLength", .int(1))]))])
    }

    static let chatResponses: [(String, J)] = [
        ("200", obj([("description", str("the chat completion: JSON, or an SSE stream of chunks when the request set stream")),
                     ("content", obj([("application/json", obj([("schema", ref("ChatCompletion"))])),
                                      ("text/event-stream", obj([("schema", type("string", [("description", str("data: lines, each a ChatCompletionChunk, then data: [DONE]"))]))]))]))])),
    ] + errors(["400", "401", "403", "404", "413", "502", "503", "504"])
        + [("default", obj([("description", str("an upstream's own error answer, passed through (OpenAI-shaped)")),
                            ("content", obj([("application/json", obj([("schema", ref("Error"))]))]))]))]

    static let passThroughResponses: [(String, J)] = errors(["400", "401", "403", "404", "413", "502", "503", "504"])
        + [("default", obj([("description", str("whatever the upstream answered, passed through")),
                            ("content", obj([("*/*", obj([("schema", obj([]))]))]))]))]

    /// The document.
    public static let document: JSONValue = {
        let chat = operation(
            "Chat completion routed by model",
            "Chooses providers for the body's model: catalog entries by priority, then a provider/model prefix, then auto-detecting providers. Fails over on connection errors, timeouts, 429 and 5xx before any byte reaches the client. Reasoning in <think> tags moves to reasoning_content; Anthropic providers are translated both ways.",
            tag: "openai", responses: chatResponses, body: ref("ChatCompletionRequest"))
        let models = operation("List models", "The merged model catalog (providers' models and the model list), each model once, owned by the provider tried first.",
                               tag: "openai", responses: [("200", json("the model list", ref("ModelList")))] + errors(["401"]))
        let oneModel = operation("Retrieve a model", "One model of the catalog, as the list shows it; 404 when no provider serves it. The id is the rest of the path, percent-decoded once, so ids with a slash work as clients send them.",
                                 tag: "openai", responses: [("200", json("the model", ref("Model")))] + errors(["401", "404"]),
                                 parameters: [pathParameter("id", "a model id; spans several segments")])
        let passMethods: [(String, J)] = ["get", "post", "put", "patch", "delete"].map { method in
            (method, operation(
                "Universal pass-through (\(method.uppercased()))",
                "Forwards to the provider's baseUrl followed by the rest of the path when the rest matches one of the provider's allowedPaths. Method, query, body and end-to-end headers pass through; unsafe paths (dot segments, //, encoded delimiters, control bytes) are refused.",
                tag: "forwarding", responses: passThroughResponses,
                parameters: [pathParameter("provider", "a provider id from the configuration"),
                             pathParameter("rest", "the upstream path after the provider id; spans several segments")]))
        }
        let debugMethods: [(String, J)] = ["get", "post"].map { method in
            (method, operation(
                "Routing dry run (\(method.uppercased()))",
                "Explains how /{provider}/{rest} would be routed: target URL, matched pattern or the refusal's status and reason, and the headers that would be sent with every secret redacted. 404 unless debugRoutes is on.",
                tag: "operations", responses: [("200", json("the explanation", ref("DryRun")))] + errors(["401", "404"]),
                parameters: [pathParameter("provider", "a provider id"),
                             pathParameter("rest", "the upstream path; spans several segments")]))
        }
        let rootInfo = operation("Service", "Names the service and its version; clients probe it at start-up. Needs no proxy key.",
                                 tag: "operations", responses: [("200", json("the service", ref("Service")))])
        let paths: [(String, J)] = [
            ("/", obj([("get", rootInfo), ("head", rootInfo)])),
            ("/healthz", obj([("get", operation("Liveness", "200 while the process serves.", tag: "operations",
                                                responses: [("200", json("serving", ref("Status")))]))])),
            ("/readyz", obj([("get", operation("Readiness", "200 when ready; 503 while a configured model list has never loaded.", tag: "operations",
                                               responses: [("200", json("ready", ref("Status")))] + errors(["503"])))])),
            ("/metrics", obj([("get", operation("Prometheus metrics", "Requests, durations, upstream time to first byte, requests in flight, tokens, cost, failovers and model-list refreshes in the Prometheus text exposition format.",
                                                tag: "operations",
                                                responses: [("200", obj([("description", str("metrics")), ("content", obj([("text/plain", obj([("schema", type("string"))]))]))]))] + errors(["401"])))])),
            ("/openapi.json", obj([("get", operation("This document", "The OpenAPI description of every route.", tag: "operations",
                                                     responses: [("200", json("the document", type("object")))] + errors(["401"])))])),
            ("/v1/models", obj([("get", models)])),
            ("/api/v1/models", obj([("get", models)])),
            ("/v1/models/{id}", obj([("get", oneModel)])),
            ("/api/v1/models/{id}", obj([("get", oneModel)])),
            ("/v1/chat/completions", obj([("post", chat)])),
            ("/api/v1/chat/completions", obj([("post", chat)])),
            ("/proxy/{base_url}/v1/chat/completions", obj([("post", operation(
                "Generic forwarder",
                "Forwards to the client-named base URL followed by /v1/chat/completions when its host is in genericProxy.allowedHosts (by default the configured providers' hosts). Configured keys are never sent here; the client's own Authorization is.",
                tag: "forwarding", responses: chatResponses,
                parameters: [obj([("name", str("base_url")), ("in", str("path")), ("required", .bool(true)),
                                  ("description", str("an http(s) base URL; spans several segments; may arrive with its // collapsed or percent-encoded")),
                                  ("schema", type("string", [("pattern", str(#"^[Hh][Tt][Tt][Pp][Ss]?(:|%3[Aa])(/|%2[Ff]){1,2}[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?)*((:|%3[Aa])[1-9][0-9]{0,3})?((/|%2[Ff])[A-Za-z0-9][A-Za-z0-9._~-]*)*$"#))]))])],
                body: ref("ChatCompletionRequest")))])),
            ("/provider/{id}/v1/chat/completions", obj([("post", operation(
                "Prebuilt provider", "Forwards to the provider's chatCompletionsUrl (translated for Anthropic providers).",
                tag: "forwarding", responses: chatResponses, parameters: [pathParameter("id", "a provider id")], body: ref("ChatCompletionRequest")))])),
            ("/debug/{provider}/{rest}", obj(debugMethods)),
            ("/{provider}/{rest}", obj(passMethods)),
        ]
        let nullableString = obj([("type", .array([str("string"), str("null")]))])
        let schemas: [(String, J)] = [
            ("Error", type("object", [("required", .array([str("error")])), ("properties", obj([("error", type("object", [
                ("required", .array([str("message"), str("type"), str("code")])),
                ("properties", obj([("message", type("string")), ("type", type("string")), ("code", obj([("type", .array([str("string"), str("null")]))]))])),
            ]))]))])),
            ("Service", type("object", [("required", .array([str("service"), str("version")])),
                                        ("properties", obj([("service", type("string")), ("version", type("string"))]))])),
            ("Status", type("object", [("required", .array([str("status")])), ("properties", obj([("status", type("string"))]))])),
            ("ChatCompletionRequest", type("object", [
                ("required", .array([str("model"), str("messages")])),
                ("properties", obj([
                    ("model", type("string", [("minLength", .int(1)), ("description", str("a catalog model id, or provider/model"))])),
                    ("messages", type("array", [("minItems", .int(1)), ("items", type("object", [("required", .array([str("role")])),
                        ("properties", obj([("role", type("string")), ("content", obj([]))]))]))])),
                    ("stream", type("boolean")),
                    ("stream_options", type("object", [("properties", obj([("include_usage", type("boolean"))]))])),
                    ("max_tokens", type("integer")), ("temperature", type("number")), ("top_p", type("number")),
                    ("stop", obj([])), ("tools", type("array")), ("tool_choice", obj([])), ("n", type("integer")),
                ])),
            ])),
            ("ChatCompletion", type("object", [
                ("required", .array([str("choices")])),
                ("properties", obj([
                    ("id", type("string")), ("object", type("string")), ("created", type("integer")), ("model", type("string")),
                    ("choices", type("array", [("items", type("object", [("properties", obj([
                        ("index", type("integer")),
                        ("message", type("object", [("properties", obj([
                            ("role", type("string")), ("content", nullableString),
                            ("reasoning_content", type("string", [("description", str("reasoning moved out of <think> tags, or an Anthropic thinking block"))])),
                            ("tool_calls", type("array")),
                        ]))])),
                        ("finish_reason", nullableString),
                    ]))]))])),
                    ("usage", type("object", [("properties", obj([("prompt_tokens", type("integer")), ("completion_tokens", type("integer")),
                                                                  ("total_tokens", type("integer"))]))])),
                ])),
            ])),
            ("Model", type("object", [
                ("required", .array([str("id"), str("object"), str("created"), str("owned_by")])),
                ("properties", obj([("id", type("string")), ("object", type("string")), ("created", type("integer")), ("owned_by", type("string"))])),
            ])),
            ("ModelList", type("object", [
                ("required", .array([str("object"), str("data")])),
                ("properties", obj([("object", type("string")), ("data", type("array", [("items", ref("Model"))]))])),
            ])),
            ("DryRun", type("object", [
                ("required", .array([str("route"), str("allowed"), str("headers")])),
                ("properties", obj([("route", nullableString), ("provider", nullableString), ("upstream_url", nullableString),
                                    ("allowed", type("boolean")), ("matched_pattern", type("string")), ("status", type("integer")),
                                    ("reason", type("string")), ("headers", type("object"))])),
            ])),
        ]
        return obj([
            ("openapi", str("3.1.0")),
            ("info", obj([("title", str("proxyd")), ("version", str(Version.string)),
                          ("description", str("An LLM API gateway: routing, reasoning normalization, dialect translation, failover and cost accounting."))])),
            ("paths", obj(paths)),
            ("components", obj([("schemas", obj(schemas)),
                                ("securitySchemes", obj([("proxyKey", obj([("type", str("http")), ("scheme", str("bearer")),
                                                                           ("description", str("one of auth.keys, when configured"))]))]))])),
            ("security", .array([obj([]), obj([("proxyKey", .array([]))])])),
        ])
    }()
}

/// proxyd's version.
public enum Version {
    public static let string = "0.1.0"
}
