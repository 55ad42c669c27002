extension Gateway {
    /// By model: the candidates for the body's `model`. The first step that finds any gives
    /// them all: the catalog's exact entries by `priority`; else a `provider/model` prefix
    /// naming a provider; else the providers whose `models` pattern matches; else the
    /// `autoDetect` providers.
    func plan(chatCompletions request: IncomingRequest, requestID: String, routeName: String, context: RequestContext,
              answer: (LocalResponse) -> Decision) -> Decision {
        guard let body = ChatRequestBody(request.body) else {
            return answer(.error(.badRequest("request body is not a valid JSON object", code: "invalid_json")))
        }
        guard body.hasModel, let model = body.model else {
            return answer(.error(.badRequest("request body has no 'model' string", code: "missing_model")))
        }
        guard !model.isEmpty else {
            return answer(.error(.badRequest("request body has an empty 'model'", code: "missing_model")))
        }
        var candidates: [(Provider, UpstreamURL, String)] = []
        var autoDetected = false
        for entry in catalog.entries(for: model) {
            if let p = configuration.provider(entry.providerID) { candidates.append((p, entry.url, model)) }
        }
        if candidates.isEmpty, let slash = model.firstIndex(of: "/"),
           let p = configuration.provider(String(model[..<slash])) {
            candidates.append((p, p.chatCompletionsURL, String(model[model.index(after: slash)...])))
        }
        if candidates.isEmpty {
            for id in catalog.patternProviders(for: model) {
                if let p = configuration.provider(id) { candidates.append((p, p.chatCompletionsURL, model)) }
            }
        }
        if candidates.isEmpty {
            var auto = configuration.providers.enumerated().filter { $0.element.autoDetect }
                .sorted { ($0.element.priority, $0.offset) < ($1.element.priority, $1.offset) }.map(\.element)
            if let remembered = context.rememberedProvider(model), let i = auto.firstIndex(where: { $0.id == remembered }) {
                auto.insert(auto.remove(at: i), at: 0)
            }
            candidates = auto.map { ($0, $0.chatCompletionsURL, model) }
            autoDetected = !candidates.isEmpty
        }
        // Providers whose circuit breaker is open go last, keeping their order.
        let (cool, warm) = (candidates.filter { context.isCoolingDown($0.0.id) }, candidates.filter { !context.isCoolingDown($0.0.id) })
        candidates = warm + cool
        guard !candidates.isEmpty else {
            return answer(.error(.notFound("no provider serves model '\(model.prefix(200))'", code: "model_not_found")))
        }
        var attempts: [UpstreamAttempt] = []
        var refusals: [ProxyError] = []
        for (provider, url, upstreamModel) in candidates {
            switch chatAttempt(provider, url: url.addingQuery(request.query), request: request, parsed: body,
                               upstreamModel: upstreamModel == model ? nil : upstreamModel, keys: .provider(provider),
                               requestID: requestID, context: context) {
            case .success(let a): attempts.append(a)
            case .failure(let e): refusals.append(e)
            }
        }
        if attempts.isEmpty, let first = refusals.first { return answer(.error(first)) }
        guard !attempts.isEmpty else {
            return answer(.error(.unauthorized("no candidate provider for '\(model)' has an API key", code: "missing_api_key")))
        }
        return Decision(action: .forward(ForwardPlan(attempts: attempts, isChatCompletion: true, model: model, autoDetected: autoDetected)),
                        route: routeName, requestID: requestID)
    }
}

