/// The OpenAPI 3.1 description of proxyd's routes served at `/openapi.json`.
public enum OpenAPIDocument {
    static func errorResponses(_ codes: [(String, String)]) -> [(String, JSONValue)] {
        codes.map { ($0.0, .object([
            ("description", .string($0.1)),
            ("content", .object([("application/json", .object([("schema", .object([("$ref", .string("#/components/schemas/Error"))]))]))])),
        ])) }
    }

    static func operation(_ summary: String, _ description: String, tag: String, ok: String,
                          errors: [(String, String)], parameters: [JSONValue] = [], body: Bool = false) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("summary", .string(summary)),
            ("description", .string(description)),
            ("tags", .array([.string(tag)])),
        ]
        if !parameters.isEmpty { members.append(("parameters", .array(parameters))) }
        if body {
            members.append(("requestBody", .object([
                ("required", .bool(true)),
                ("content", .object([("application/json", .object([("schema", .object([("type", .string("object"))]))]))])),
            ])))
        }
        members.append(("responses", .object([("200", .object([("description", .string(ok))]))] + errorResponses(errors))))
        return .object(members)
    }

    static func pathParameter(_ name: String, _ description: String) -> JSONValue {
        .object([("name", .string(name)), ("in", .string("path")), ("required", .bool(true)),
                 ("description", .string(description)), ("schema", .object([("type", .string("string"))]))])
    }

    static let unauthorized = ("401", "missing or invalid proxy key (when auth.keys is set)")
    static let upstreamErrors = [("502", "upstream connection failed or answered malformed data"),
                                 ("503", "no candidate left"), ("504", "upstream timed out before its response head")]

    /// The document.
    public static let document: JSONValue = {
        let chat = operation("Chat completion routed by model",
                             "Chooses providers for the body's model: catalog entries by priority, then a provider/model prefix, then auto-detecting providers. Fails over on connection errors, timeouts, 429 and 5xx before any byte reaches the client.",
                             tag: "openai", ok: "the upstream's chat completion, JSON or an SSE stream",
                             errors: [("400", "malformed JSON or missing model"), unauthorized, ("404", "no provider serves the model")] + upstreamErrors,
                             body: true)
        let models = operation("List models", "The merged model catalog in the OpenAI list format, each model once.",
                               tag: "openai", ok: "a model list", errors: [unauthorized])
        let pass: [(String, JSONValue)] = ["get", "post", "put", "patch", "delete"].map { method in
            (method, operation("Universal pass-through (\(method.uppercased()))",
                               "Forwards to the provider's baseUrl followed by the rest of the path when the rest matches one of the provider's allowedPaths. Method, query, body and end-to-end headers pass through.",
                               tag: "forwarding", ok: "the upstream's answer",
                               errors: [("400", "unsafe path"), unauthorized, ("403", "path not allowed"), ("404", "unknown provider")] + upstreamErrors,
                               parameters: [pathParameter("provider", "a provider id from the configuration"),
                                            pathParameter("rest", "the upstream path; spans several segments")]))
        }
        let debug: [(String, JSONValue)] = ["get", "post"].map { method in
            (method, operation("Routing dry run", "Explains how /{provider}/{rest} would be routed: target URL, matched pattern or refusal, headers with secrets redacted. 404 unless debugRoutes is on.",
                               tag: "operations", ok: "the explanation", errors: [unauthorized, ("404", "debug routes are off")],
                               parameters: [pathParameter("provider", "a provider id"),
                                            pathParameter("rest", "the upstream path; spans several segments")]))
        }
        let paths: [(String, JSONValue)] = [
            ("/healthz", .object([("get", operation("Liveness", "200 while the process serves.", tag: "operations", ok: "status ok", errors: []))])),
            ("/readyz", .object([("get", operation("Readiness", "200 when ready; 503 while a configured model list has never loaded.", tag: "operations", ok: "ready", errors: [("503", "the model list has not loaded")]))])),
            ("/metrics", .object([("get", operation("Prometheus metrics", "Counters and histograms in the Prometheus text exposition format.", tag: "operations", ok: "metrics text", errors: [unauthorized]))])),
            ("/openapi.json", .object([("get", operation("This document", "The OpenAPI description of every route.", tag: "operations", ok: "the document", errors: [unauthorized]))])),
            ("/v1/models", .object([("get", models)])),
            ("/api/v1/models", .object([("get", models)])),
            ("/v1/chat/completions", .object([("post", chat)])),
            ("/api/v1/chat/completions", .object([("post", chat)])),
            ("/proxy/{base_url}/v1/chat/completions", .object([("post", operation(
                "Generic forwarder", "Forwards to the client-named base URL followed by /v1/chat/completions when its host is in genericProxy.allowedHosts. Configured keys are never sent here.",
                tag: "forwarding", ok: "the upstream's chat completion",
                errors: [("400", "malformed base URL"), unauthorized, ("403", "host not allowed"), ("404", "forwarder disabled")] + upstreamErrors,
                parameters: [pathParameter("base_url", "an http(s) base URL; spans several segments, may be percent-encoded")], body: true))])),
            ("/provider/{id}/v1/chat/completions", .object([("post", operation(
                "Prebuilt provider", "Forwards to the provider's chatCompletionsUrl.", tag: "forwarding", ok: "the upstream's chat completion",
                errors: [unauthorized, ("404", "unknown provider")] + upstreamErrors,
                parameters: [pathParameter("id", "a provider id")], body: true))])),
            ("/debug/{provider}/{rest}", .object(debug)),
            ("/{provider}/{rest}", .object(pass)),
        ]
        return .object([
            ("openapi", .string("3.1.0")),
            ("info", .object([("title", .string("proxyd")), ("version", .string(Version.string)),
                              ("description", .string("An LLM API gateway: routing, reasoning normalization, dialect translation, failover and cost accounting."))])),
            ("paths", .object(paths)),
            ("components", .object([("schemas", .object([("Error", .object([
                ("type", .string("object")),
                ("required", .array([.string("error")])),
                ("properties", .object([("error", .object([
                    ("type", .string("object")),
                    ("required", .array([.string("message"), .string("type"), .string("code")])),
                    ("properties", .object([
                        ("message", .object([("type", .string("string"))])),
                        ("type", .object([("type", .string("string"))])),
                        ("code", .object([("type", .string("string"))])),
                    ])),
                ]))])),
            ]))]))])),
        ])
    }()
}

/// proxyd's version.
public enum Version {
    public static let string = "0.1.0"
}
