extension Gateway {
    /// The dry-run explanation of how `method path` would be routed, without a
    /// request body: the JSON that the dry run `/debug/{provider}{rest}` answers and `proxyd route`
    /// prints.
    public func explain(method: String, path: String, model: String?, headers: HTTPHeaders = HTTPHeaders()) -> JSONValue {
        var request = IncomingRequest(method: method, target: path, headers: headers)
        // A minimal request of the model named: enough for every dialect's translation (some
        // dialects need a message to translate).
        if let model {
            request.body = JSONValue.object([("model", .string(model)), ("messages", .array([
                .object([("role", .string("user")), ("content", .string("hi"))]),
            ]))]).encoded()
        }
        switch Router(debugRoutes: true).resolve(method: method, path: request.path) {
        case .notFound:
            return refusal(route: nil, status: 404, reason: "no route for \(method) \(request.path)")
        case .methodNotAllowed(let allowed):
            return refusal(route: nil, status: 405, reason: "use \(allowed.joined(separator: ", "))")
        case .route(.passThrough(let provider, let rest)), .route(.debug(let provider, let rest)):
            return explainPassThrough(method: method, provider: provider, rest: rest, request: request, requestID: "dry-run")
        case .route(let route):
            let decision = decide(request, context: RequestContext(newRequestID: "dry-run"))
            switch decision.action {
            case .forward(let plan):
                let a = plan.attempts[0]
                return .object([
                    ("route", .string(route.name)),
                    ("provider", a.providerID.map { .string($0) } ?? .null),
                    ("upstream_url", .string(a.url.description)),
                    ("allowed", .bool(true)),
                    ("candidates", .array(plan.attempts.map { .object([("provider", .string($0.label)), ("upstream_url", .string($0.url.description))]) })),
                    ("headers", .object(HeaderPolicy.redacted(a.headers).map { ($0.name, .string($0.value)) })),
                ])
            case .respond(let response) where response.status >= 400:
                let reason = (try? JSONValue.parse(response.body))?["error"]?["message"]?.stringValue ?? ""
                return refusal(route: route.name, status: response.status, reason: reason)
            default:
                return .object([("route", .string(route.name)), ("provider", .null), ("upstream_url", .null),
                                ("allowed", .bool(true)), ("headers", .object([]))])
            }
        }
    }

    func refusal(route: String?, status: Int, reason: String) -> JSONValue {
        .object([("route", route.map { .string($0) } ?? .null), ("provider", .null), ("upstream_url", .null),
                 ("allowed", .bool(false)), ("status", .int(status)), ("reason", .string(reason)), ("headers", .object([]))])
    }
}
