/// The planner: given a configuration and a request, decides every routing question and
/// returns a `Decision`. Pure; one value per configuration snapshot.
public final class Gateway: Sendable {
    public let configuration: Configuration
    let router: Router
    /// Built once per configuration, looked up per request.
    public let catalog: ModelCatalog

    /// The model list this snapshot was built with.
    public let modelList: ModelList

    /// Shapes `GET /v1/models` answers in besides the hub form's, asked for by headers.
    let modelListings: [any ModelListingShape]

    /// - Parameters:
    ///   - now: the time (Unix seconds) this snapshot is made at, the `created` of models first
    ///     seen in it.
    ///   - replacing: the snapshot this one replaces, whose models keep their `created`.
    ///   - modelListings: shapes of the model listing besides the hub form's.
    public init(configuration: Configuration, modelList: ModelList = ModelList(), now: Int = 0, replacing previous: Gateway? = nil,
                modelListings: [any ModelListingShape] = StandardDialects.modelListings) {
        self.configuration = configuration
        self.modelListings = modelListings
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
            let presented = request.headers.bearerToken
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
            let shape = modelListings.first { $0.isAsked(by: request.headers) }
            return answer(.json(200, shape?.listing(of: catalog) ?? catalog.listing))
        case .model(let raw):
            // Errors go in the shape of the clients that asked for this listing's shape.
            let shape = modelListings.first { $0.isAsked(by: request.headers) }
            func refuse(_ e: ProxyError) -> Decision { answer(shape?.reply(e) ?? .error(e)) }
            // The id is the rest of the path, percent-decoded once (ids may hold a slash).
            guard let id = PathSafety.percentDecodedOnce(raw) else {
                return refuse(.badRequest("model id is not valid percent-encoded UTF-8", code: "invalid_path"))
            }
            guard let model = shape.map({ $0.describe(id, in: catalog) }) ?? catalog.describe(id) else {
                return refuse(.notFound("no such model: \(id.prefix(200))", code: "model_not_found"))
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
            let parsed = ChatRequestBody(request.body)
            switch chatAttempt(nil, url: url, request: request, parsed: parsed, keys: .clientOnly, requestID: requestID, context: context) {
            case .failure(let e): return answer(.error(e))
            case .success(let a):
                return Decision(action: .forward(ForwardPlan(attempts: [a], isChatCompletion: true, model: parsed?.model)),
                                route: routeName, requestID: requestID)
            }
        case .prebuiltProvider(let id):
            guard let provider = configuration.provider(String(id)) else {
                return answer(.error(.notFound("unknown provider '\(id)'", code: "unknown_provider")))
            }
            let url = provider.chatCompletionsURL.addingQuery(request.query)
            let parsed = ChatRequestBody(request.body)
            switch chatAttempt(provider, url: url, request: request, parsed: parsed, keys: .provider(provider), requestID: requestID,
                               context: context) {
            case .failure(let e): return answer(.error(e))
            case .success(let a):
                return Decision(action: .forward(ForwardPlan(attempts: [a], isChatCompletion: true, model: parsed?.model)),
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

    /// The prices for `model` at `provider`: its catalog entry's, and whether the provider
    /// reports its own cost.
    func prices(model: String, provider: Provider) -> Usage.Prices {
        let e = catalog.entry(model: model, provider: provider.id)
        return Usage.Prices(prompt1K: e?.promptPrice1K, completion1K: e?.completionPrice1K, nativeUSD: provider.supportsNativeUsdCost)
    }

    /// A chat request to `provider` (nil: the generic forwarder), in its dialect: the header
    /// policy's headers, then the dialect's request and its way back. `dialect` overrides the
    /// provider's (a chat path passed through is read in the hub form whatever the provider).
    func chatAttempt(_ provider: Provider?, url: UpstreamURL, request: IncomingRequest, parsed: ChatRequestBody?,
                     upstreamModel: String? = nil, keys: HeaderPolicy.KeySource, requestID: String, context: RequestContext,
                     dialect: (any UpstreamDialect)? = nil) -> Result<UpstreamAttempt, ProxyError> {
        let headers: HTTPHeaders
        switch HeaderPolicy.upstreamRequestHeaders(client: request.headers, keys: keys, proxyKeysConfigured: !configuration.authKeys.isEmpty,
                                                   requestID: requestID, identityEncoding: true) {
        case .failure(let e): return .failure(e)
        case .success(let h): headers = h
        }
        var think = configuration.think
        if let mode = provider?.think { think.mode = mode }
        var draft = ChatRequestDraft(headers: headers, body: request.body, request: parsed, upstreamModel: upstreamModel, think: think,
                                     defaultMaxTokens: provider?.defaultMaxTokens ?? 4096, unixTime: context.unixTime)
        if let refusal = (dialect ?? provider?.dialect ?? configuration.dialects.hub).prepareChat(&draft) { return .failure(refusal) }
        var a = UpstreamAttempt(providerID: provider?.id, url: url, method: request.method, headers: draft.headers, body: draft.body,
                                timeoutSeconds: provider?.timeoutSeconds ?? 60)
        a.answers = draft.answers
        a.decodesAnswer = true
        if let provider, let model = parsed?.model { a.prices = prices(model: model, provider: provider) }
        return .success(a)
    }

    /// A request passed through as it is, its answer too.
    func plainAttempt(_ provider: Provider, url: UpstreamURL, request: IncomingRequest, requestID: String) -> Result<UpstreamAttempt, ProxyError> {
        HeaderPolicy.upstreamRequestHeaders(client: request.headers, keys: .provider(provider), proxyKeysConfigured: !configuration.authKeys.isEmpty,
                                            requestID: requestID, identityEncoding: false).map { headers in
            UpstreamAttempt(providerID: provider.id, url: url, method: request.method, headers: headers, body: request.body,
                            timeoutSeconds: provider.timeoutSeconds)
        }
    }

    /// The pass-through decision: provider lookup, path safety, allowed paths.
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
        // A chat path's answer is read as a chat completion; its request goes as it came.
        let isChat = rest.hasSuffix("/chat/completions")
        let attempt = isChat ? chatAttempt(provider, url: url, request: request, parsed: nil, keys: .provider(provider), requestID: requestID,
                                           context: RequestContext(newRequestID: requestID), dialect: configuration.dialects.hub)
                             : plainAttempt(provider, url: url, request: request, requestID: requestID)
        return attempt.map { ForwardPlan(attempts: [$0], isChatCompletion: isChat, model: nil) }
    }

    /// The dry run's answer: how `/{provider}{rest}` would be routed, secrets redacted.
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
