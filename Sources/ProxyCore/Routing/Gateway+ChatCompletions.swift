extension Gateway {
    /// Route 6: candidates for the body's `model` in SPEC §4's order.
    func plan(chatCompletions request: IncomingRequest, requestID: String, routeName: String,
              answer: (LocalResponse) -> Decision) -> Decision {
        let members: [String: JSONScanner.Member]
        do {
            members = try request.body.withUnsafeBytes { try JSONScanner.topLevelMembers($0, keys: ["model"]) }
        } catch {
            return answer(.error(.badRequest("request body is not a valid JSON object: \(error)", code: "invalid_json")))
        }
        guard let modelMember = members["model"], modelMember.isString else {
            return answer(.error(.badRequest("request body has no 'model' string", code: "missing_model")))
        }
        // A model with escapes in it is rare: decode that one value properly.
        let model = modelMember.plainString
            ?? (try? JSONValue.parse(request.body[modelMember.range]))?.stringValue ?? ""
        guard !model.isEmpty else {
            return answer(.error(.badRequest("request body has an empty 'model'", code: "missing_model")))
        }
        var candidates: [(Provider, UpstreamURL, String)] = []
        for entry in catalog.entries(for: model) {
            if let p = configuration.provider(entry.providerID) { candidates.append((p, entry.url, model)) }
        }
        if candidates.isEmpty, let slash = model.firstIndex(of: "/"),
           let p = configuration.provider(String(model[..<slash])) {
            candidates.append((p, p.chatCompletionsURL, String(model[model.index(after: slash)...])))
        }
        if candidates.isEmpty {
            let auto = configuration.providers.enumerated().filter { $0.element.autoDetect }
                .sorted { ($0.element.priority, $0.offset) < ($1.element.priority, $1.offset) }
            candidates = auto.map { ($0.element, $0.element.chatCompletionsURL, model) }
        }
        guard !candidates.isEmpty else {
            return answer(.error(.notFound("no provider serves model '\(model.prefix(200))'", code: "model_not_found")))
        }
        var attempts: [UpstreamAttempt] = []
        for (provider, url, upstreamModel) in candidates {
            let forwardedBody = upstreamModel == model ? request.body
                : Gateway.replacing(modelMember.range, in: request.body, with: .string(upstreamModel))
            switch attempt(provider, url: url.addingQuery(request.query), request: request, keys: .provider(provider),
                           requestID: requestID, chat: true, body: forwardedBody) {
            case .success(let a): attempts.append(a)
            case .failure(let e): if candidates.count == 1 { return answer(.error(e)) }
            }
        }
        guard !attempts.isEmpty else {
            return answer(.error(.unauthorized("no candidate provider for '\(model)' has an API key", code: "missing_api_key")))
        }
        return Decision(action: .forward(ForwardPlan(attempts: attempts, isChatCompletion: true, model: model)),
                        route: routeName, requestID: requestID)
    }
}

extension Gateway {
    /// `body` with the bytes in `range` replaced by `value`'s JSON text; every other byte kept.
    static func replacing(_ range: Range<Int>, in body: [UInt8], with value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 16)
        out.append(contentsOf: body[..<range.lowerBound])
        value.encode(into: &out)
        out.append(contentsOf: body[range.upperBound...])
        return out
    }
}
