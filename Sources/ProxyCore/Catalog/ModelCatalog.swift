/// The models proxyd can route by name: the providers' static `models` (the model list joins
/// them in a later step). Candidates for a model come out ordered by `priority`, ties in
/// configuration order.
public struct ModelCatalog: Sendable {
    public struct Entry: Sendable, Equatable {
        public var model: String
        public var providerID: String
        /// The upstream URL this entry is served at.
        public var url: UpstreamURL
        public var promptPrice1K: Double?
        public var completionPrice1K: Double?
    }

    /// Entries by model id, each list already in candidate order.
    let byModel: [String: [Entry]]
    /// Model ids in first-seen order.
    let order: [String]

    public init(configuration: Configuration) {
        var byModel: [String: [(Int, Int, Entry)]] = [:]
        var order: [String] = []
        for (position, p) in configuration.providers.enumerated() {
            for m in p.models {
                if byModel[m] == nil { order.append(m) }
                byModel[m, default: []].append((p.priority, position, Entry(model: m, providerID: p.id, url: p.chatCompletionsURL)))
            }
        }
        self.byModel = byModel.mapValues { $0.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2) }
        self.order = order
    }

    /// The entries serving `model`, in the order they are tried.
    public func entries(for model: String) -> [Entry] { byModel[model] ?? [] }

    /// `GET /v1/models`: each model once, owned by the provider tried first.
    public var listing: JSONValue {
        .object([
            ("object", .string("list")),
            ("data", .array(order.map { m in
                .object([
                    ("id", .string(m)),
                    ("object", .string("model")),
                    ("created", .int(0)),
                    ("owned_by", .string(byModel[m]?.first?.providerID ?? "")),
                ])
            })),
        ])
    }
}
