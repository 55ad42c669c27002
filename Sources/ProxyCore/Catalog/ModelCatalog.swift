/// The models proxyd can route by name: the providers' static `models` and the model list.
/// Candidates for a model come out ordered by `priority`, ties in configuration
/// order. Built once per configuration and model list; looked up per request.
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
    /// `models` patterns (`gpt-*`): the prefix and its provider, longest prefix first, then
    /// `priority`, then configuration order.
    let patterns: [(prefix: String, providerID: String)]
    /// Model ids in first-seen order.
    let order: [String]
    /// When proxyd first saw each model id (Unix seconds): carried over from the catalog before,
    /// `now` for ids new in this one.
    public let firstSeen: [String: Int]

    /// - Parameters:
    ///   - now: the time (Unix seconds) to give ids this catalog is the first to hold.
    ///   - seen: the first-seen times of the catalog this one replaces.
    public init(configuration: Configuration, modelList: ModelList = ModelList(), now: Int = 0, seen: [String: Int] = [:]) {
        var byModel: [String: [(Int, Int, Entry)]] = [:]
        var order: [String] = []
        func add(_ entry: Entry, provider p: Provider, position: Int) {
            if byModel[entry.model] == nil { order.append(entry.model) }
            // One entry per provider and model: the model list's (it has the path and prices) wins.
            if let i = byModel[entry.model]?.firstIndex(where: { $0.2.providerID == entry.providerID }) {
                byModel[entry.model]![i].2 = entry
            } else {
                byModel[entry.model, default: []].append((p.priority, position, entry))
            }
        }
        let positions = Dictionary(uniqueKeysWithValues: configuration.providers.enumerated().map { ($0.element.id, $0.offset) })
        var patterns: [(prefix: String, priority: Int, position: Int, providerID: String)] = []
        for (position, p) in configuration.providers.enumerated() {
            for m in p.models {
                if m.hasSuffix("*") {
                    patterns.append((String(m.dropLast()), p.priority, position, p.id))
                } else {
                    add(Entry(model: m, providerID: p.id, url: p.chatCompletionsURL), provider: p, position: position)
                }
            }
        }
        self.patterns = patterns.sorted { a, b in
            let (la, lb) = (a.prefix.utf8.count, b.prefix.utf8.count)
            return la != lb ? la > lb : (a.priority, a.position) < (b.priority, b.position)
        }.map { ($0.prefix, $0.providerID) }
        for e in modelList.entries {
            guard let p = configuration.provider(e.providerID), let position = positions[e.providerID] else { continue }
            var url = p.baseURL.appendingPath(e.path)
            url.query = nil
            add(Entry(model: e.model, providerID: p.id, url: url, promptPrice1K: e.promptPrice1K, completionPrice1K: e.completionPrice1K),
                provider: p, position: position)
        }
        self.byModel = byModel.mapValues { $0.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2) }
        self.order = order
        var firstSeen: [String: Int] = [:]
        for m in order { firstSeen[m] = seen[m] ?? now }
        self.firstSeen = firstSeen
    }

    /// The entries serving `model`, in the order they are tried.
    public func entries(for model: String) -> [Entry] { byModel[model] ?? [] }

    /// The providers whose `models` patterns match `model`, in the order they are tried
    /// (longest prefix first, then `priority`); each provider once.
    public func patternProviders(for model: String) -> [String] {
        var out: [String] = []
        for p in patterns where model.utf8.starts(with: p.prefix.utf8) && !out.contains(p.providerID) { out.append(p.providerID) }
        return out
    }

    /// The entry of `provider` for `model`, for its prices.
    public func entry(model: String, provider: String) -> Entry? {
        byModel[model]?.first { $0.providerID == provider }
    }

    /// Every model id, in first-seen order.
    public var models: [String] { order }

    /// `GET /v1/models`: each model once, owned by the provider tried first.
    public var listing: JSONValue {
        .object([
            ("object", .string("list")),
            ("data", .array(order.map { model($0) })),
        ])
    }

    /// `GET /v1/models/{id}`: the one model, as the listing shows it; nil when unknown.
    public func describe(_ id: String) -> JSONValue? {
        byModel[id] == nil ? nil : model(id)
    }

    /// Unix seconds as an RFC 3339 UTC time (`2025-02-19T00:00:00Z`), from the civil calendar.
    static func rfc3339(_ seconds: Int) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secs = seconds - days * 86_400
        // Days since 1970-01-01 to year, month, day (proleptic Gregorian, eras of 400 years).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ v: Int, _ n: Int) -> String {
            let t = String(v)
            return String(repeating: "0", count: max(0, n - t.count)) + t
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secs / 3600, 2)):\(pad(secs % 3600 / 60, 2)):\(pad(secs % 60, 2))Z"
    }

    func model(_ m: String) -> JSONValue {
        .object([
            ("id", .string(m)),
            ("object", .string("model")),
            ("created", .int(firstSeen[m] ?? 0)),
            ("owned_by", .string(byModel[m]?.first?.providerID ?? "")),
        ])
    }
}
