/// The planner: given a configuration and a request, decides every routing question and
/// returns a `Decision`. Pure; one value per configuration snapshot.
public final class Gateway: Sendable {
    public let configuration: Configuration
    let router: Router
    /// Built once per configuration, looked up per request.
    public let catalog: ModelCatalog

    /// The model list this snapshot was built with.
    public let modelList: ModelList

    /// - Parameters:
    ///   - now: the time (Unix seconds) this snapshot is made at, the `created` of models first
    ///     seen in it.
    ///   - replacing: the snapshot this one replaces, whose models keep their `created`.
    public init(configuration: Configuration, modelList: ModelList = ModelList(), now: Int = 0, replacing previous: Gateway? = nil) {
        self.configuration = configuration
        self.modelList = modelList
        router = Router(debugRoutes: configuration.debugRoutes)
        catalog = ModelCatalog(configuration: configuration, modelList: modelList, now: now, seen: previous?.catalog.firstSeen ?? [:])
    }

    /// Decides what to do with `request`.
    public func decide(_ request: IncomingRequest, context: RequestContext) -> Decision {
        let requestID = request.headers["x-request-id"].flatMap { HeaderPolicy.isUsableRequestID($0) ? $0 : nil }
            ?? context.newRequestID
        let resolution = router.resolve(method: request.method, path: request.path)
        var routeName = "unknown"
        if case .route(let r) = resolution { routeName = r.name }
        func answer(_ response: LocalResponse) -> Decision {
            var r = response
            r.headers.set("x-request-id", requestID)
            return Decision(action: .respond(r), route: routeName, requestID: requestID)
        }
        // 401 comes first wherever auth.keys guards the route (every route but health and readiness).
        let guarded: Bool
        if case .route(let r) = resolution { guarded = r.requiresProxyKey } else { guarded = true }
        if guarded, !configuration.authKeys.isEmpty {
            let presented = request.headers["Authorization"].flatMap { v -> String? in
                v.count > 7 && v.prefix(7).lowercased() == "bearer " ? String(v.dropFirst(7)) : nil
            }
            guard let presented, HeaderPolicy.proxyKeyMatches(presented, keys: configuration.authKeys) else {
                return answer(.error(.unauthorized(presented == nil ? "missing proxy key: send Authorization: Bearer <key>"
                                                                    : "invalid proxy key")))
            }
        }
        let route: Route
        switch resolution {
        case .notFound:
            return answer(.error(.notFound("no route for \(request.method) \(String(request.path).prefix(200))")))
        case .methodNotAllowed(let allowed):
            return answer(.error(.methodNotAllowed(request.method, allowed: allowed)))
        case .route(let r):
            route = r
        }
        switch route {
        case .root:
            return answer(.json(200, .object([("service", .string("proxyd")), ("version", .string(Version.string))])))
        case .health:
            return answer(.json(200, .object([("status", .string("ok"))])))
        case .ready:
            return answer(context.ready ? .json(200, .object([("status", .string("ready"))]))
                                        : .error(.unavailable("the model list has not loaded yet", code: "not_ready")))
        case .metrics:
            return Decision(action: .metrics, route: routeName, requestID: requestID)
        case .openAPI:
            return answer(.json(200, OpenAPIDocument.document))
        case .models:
            let anthropic = request.headers.contains("anthropic-version")
            return answer(.json(200, anthropic ? catalog.anthropicListing : catalog.listing))
        case .model(let raw):
            // The id is the rest of the path, percent-decoded once (ids may hold a slash).
            guard let id = PathSafety.percentDecodedOnce(raw) else {
                return answer(.error(.badRequest("model id is not valid percent-encoded UTF-8", code: "invalid_path")))
            }
            let anthropic = request.headers.contains("anthropic-version")
            guard let model = anthropic ? catalog.describeForAnthropic(id) : catalog.describe(id) else {
                return answer(.error(.notFound("no such model: \(id.prefix(200))", code: "model_not_found")))
            }
            return answer(.json(200, model))
        case .chatCompletions:
            return plan(chatCompletions: request, requestID: requestID, routeName: routeName, context: context, answer: answer)
        case .genericProxy(let base):
            guard configuration.genericProxy.enabled else {
                return answer(.error(.notFound("the generic forwarder is disabled")))
            }
            let url: UpstreamURL
            switch GenericTarget.resolve(rawBase: base, query: request.query, allowlist: configuration.genericProxy.allowedHosts) {
            case .failure(let e): return answer(.error(e))
            case .success(let u): url = u
            }
            let (body, hide, model) = Gateway.askingForUsage(request.body)
            switch attempt(nil, url: url, request: request, keys: .clientOnly, requestID: requestID, chat: true, body: body) {
            case .failure(let e): return answer(.error(e))
            case .success(let a):
                return Decision(action: .forward(ForwardPlan(attempts: [a], isChatCompletion: true, model: model, hideUsage: hide)),
                                route: routeName, requestID: requestID)
            }
        case .prebuiltProvider(let id):
            guard let provider = configuration.provider(String(id)) else {
                return answer(.error(.notFound("unknown provider '\(id)'", code: "unknown_provider")))
            }
            let url = provider.chatCompletionsURL.addingQuery(request.query)
            if provider.api == .anthropic {
                switch anthropicAttempt(provider, url: url, model: nil, request: request, requestID: requestID, context: context) {
                case .failure(let e): return answer(.error(e))
                case .success(let a):
                    return Decision(action: .forward(ForwardPlan(attempts: [a], isChatCompletion: true, model: Gateway.modelOf(request.body))),
                                    route: routeName, requestID: requestID)
                }
            }
            let (body, hide, model) = Gateway.askingForUsage(request.body)
            switch attempt(provider, url: url, request: request, keys: .provider(provider), requestID: requestID, chat: true, body: body) {
            case .failure(let e): return answer(.error(e))
            case .success(var a):
                if let model { a.prices = prices(model: model, provider: provider) }
                return Decision(action: .forward(ForwardPlan(attempts: [a], isChatCompletion: true, model: model, hideUsage: hide)),
                                route: routeName, requestID: requestID)
            }
        case .debug(let provider, let rest):
            let explanation = explainPassThrough(method: request.method, provider: provider, rest: rest, request: request,
                                                 requestID: requestID)
            return answer(.json(200, explanation))
        case .passThrough(let providerID, let rest):
            switch passThrough(providerID: providerID, rest: rest, request: request, requestID: requestID) {
            case .failure(let e): return answer(.error(e))
            case .success(let plan): return Decision(action: .forward(plan), route: routeName, requestID: requestID)
            }
        }
    }

    /// Routes 7 and 8: the body with `stream_options.include_usage` asked for when a streamed
    /// client did not, whether to keep the usage chunk from it, and the body's model.
    static func askingForUsage(_ body: [UInt8]) -> ([UInt8], Bool, String?) {
        guard let parsed = ChatRequestBody(body) else { return (body, false, nil) }
        guard parsed.shouldAskForUsage else { return (body, false, parsed.model) }
        return (parsed.edited(model: nil, askForUsage: true), true, parsed.model)
    }

    /// The prices for `model` at `provider`: its catalog entry's, and whether the provider
    /// reports its own cost.
    func prices(model: String, provider: Provider) -> Usage.Prices {
        let e = catalog.entry(model: model, provider: provider.id)
        return Usage.Prices(prompt1K: e?.promptPrice1K, completion1K: e?.completionPrice1K, nativeUSD: provider.supportsNativeUsdCost)
    }

    static func modelOf(_ body: [UInt8]) -> String? { ChatRequestBody(body)?.model }

    /// An attempt at a provider that speaks the Anthropic Messages API: the request translated,
    /// the answer to be translated back.
    func anthropicAttempt(_ provider: Provider, url: UpstreamURL, model: String?, request: IncomingRequest, requestID: String,
                          context: RequestContext) -> Result<UpstreamAttempt, ProxyError> {
        guard let body = try? JSONValue.parse(request.body) else {
            return .failure(.badRequest("request body is not valid JSON", code: "invalid_json"))
        }
        guard let upstreamModel = model ?? body["model"]?.stringValue else {
            return .failure(.badRequest("request body has no 'model' string", code: "missing_model"))
        }
        let translated: Anthropic.Request
        switch AnthropicRequestTranslator.translate(body, model: upstreamModel, defaultMaxTokens: provider.defaultMaxTokens) {
        case .failure(let e): return .failure(e)
        case .success(let r): translated = r
        }
        var client = request.headers
        // The OpenAI SDK can only send a Bearer key; Anthropic wants it in x-api-key.
        if provider.apiKey == nil, !client.contains("x-api-key"), let auth = client["Authorization"],
           auth.lowercasedASCII.hasPrefix("bearer "), configuration.authKeys.isEmpty {
            client.remove("Authorization")
            client.add("x-api-key", String(auth.dropFirst(7)))
        }
        var req = request
        req.headers = client
        return attempt(provider, url: url, request: req, keys: .provider(provider), requestID: requestID, chat: true,
                       body: translated.json.encoded()).map { a in
            var a = a
            a.headers.set("Content-Type", "application/json")
            if !a.headers.contains("anthropic-version") { a.headers.add("anthropic-version", "2023-06-01") }
            a.prices = prices(model: body["model"]?.stringValue ?? upstreamModel, provider: provider)
            let think = a.think
            a.translation = AnthropicTranslation(created: context.unixTime,
                                                 includeUsage: body["stream_options"]?["include_usage"]?.boolValue ?? false,
                                                 reasoningField: think.field, keepReasoning: think.mode != .strip)
            return a
        }
    }

    func attempt(_ provider: Provider?, url: UpstreamURL, request: IncomingRequest, keys: HeaderPolicy.KeySource,
                 requestID: String, chat: Bool, body: [UInt8]? = nil) -> Result<UpstreamAttempt, ProxyError> {
        HeaderPolicy.upstreamRequestHeaders(client: request.headers, keys: keys,
                                            proxyKeysConfigured: !configuration.authKeys.isEmpty,
                                            requestID: requestID, identityEncoding: chat).map { headers in
            var think = configuration.think
            if let mode = provider?.think { think.mode = mode }
            var a = UpstreamAttempt(providerID: provider?.id, url: url, method: request.method, headers: headers,
                                    body: body ?? request.body, timeoutSeconds: provider?.timeoutSeconds ?? 60, think: think)
            a.decodesAnswer = chat
            return a
        }
    }

    /// Route 10's decision: provider lookup, path safety, allowed paths.
    func passThrough(providerID: Substring, rest: Substring, request: IncomingRequest,
                     requestID: String) -> Result<ForwardPlan, ProxyError> {
        guard let provider = configuration.provider(String(providerID)) else {
            return .failure(.notFound("unknown provider '\(providerID.prefix(100))'", code: "unknown_provider"))
        }
        let restBytes = rest.utf8
        do { try PathSafety.check(restBytes) } catch {
            return .failure(.badRequest(error.message, code: "invalid_path"))
        }
        guard provider.allowedPaths.match(restBytes) != nil else {
            return .failure(.forbidden("path is not in providers.\(provider.id).allowedPaths", code: "path_not_allowed"))
        }
        var url = provider.baseURL.appendingPath(String(rest))
        url.query = nil
        url = url.addingQuery(request.query)
        let isChat = rest.hasSuffix("/chat/completions")
        return attempt(provider, url: url, request: request, keys: .provider(provider), requestID: requestID, chat: isChat)
            .map { ForwardPlan(attempts: [$0], isChatCompletion: isChat, model: nil) }
    }

    /// Route 9's answer: how `/{provider}{rest}` would be routed, secrets redacted.
    func explainPassThrough(method: String, provider: Substring, rest: Substring, request: IncomingRequest,
                            requestID: String) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("route", .string("passthrough")),
            ("provider", .string(String(provider))),
        ]
        switch passThrough(providerID: provider, rest: rest, request: request, requestID: requestID) {
        case .success(let plan):
            let a = plan.attempts[0]
            let pattern = configuration.provider(String(provider))?.allowedPaths.match(rest.utf8)?.text ?? ""
            members += [
                ("upstream_url", .string(a.url.description)),
                ("allowed", .bool(true)),
                ("matched_pattern", .string(pattern)),
                ("method", .string(method)),
                ("headers", .object(HeaderPolicy.redacted(a.headers).map { ($0.name, .string($0.value)) })),
            ]
        case .failure(let e):
            let p = configuration.provider(String(provider))
            let url = p.map { u -> JSONValue in .string(u.baseURL.appendingPath(String(rest)).description) } ?? .null
            members += [
                ("upstream_url", url),
                ("allowed", .bool(false)),
                ("status", .int(e.status)),
                ("reason", .string(e.message)),
                ("method", .string(method)),
                ("headers", .object([])),
            ]
        }
        return .object(members)
    }
}
