/// Counters and histograms of one event loop. Each loop owns one and updates it without locks;
/// `/metrics` sums the loops' copies (`merge`) and renders the exposition.
public struct Metrics: Sendable {
    struct RequestKey: Hashable, Sendable { var route: String; var provider: String; var status: Int }
    struct ModelKey: Hashable, Sendable { var provider: String; var model: String }

    /// Histogram bucket upper bounds, in seconds.
    public static let buckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

    public struct Histogram: Sendable {
        public var counts = [Int](repeating: 0, count: Metrics.buckets.count)
        public var sum = 0.0
        public var count = 0

        mutating func observe(_ v: Double) {
            if let i = Metrics.buckets.firstIndex(where: { v <= $0 }) { counts[i] += 1 }
            sum += v
            count += 1
        }

        mutating func merge(_ o: Histogram) {
            for i in counts.indices { counts[i] += o.counts[i] }
            sum += o.sum
            count += o.count
        }
    }

    var requests: [RequestKey: Int] = [:]
    /// Tokens and cost per provider and model, kept together so a request costs one lookup.
    struct ModelUsage: Sendable {
        var prompt: Int?
        var completion: Int?
        var cost: Double?

        mutating func add(prompt p: Int?, completion c: Int?, cost d: Double?) {
            if let p { prompt = (prompt ?? 0) + p }
            if let c { completion = (completion ?? 0) + c }
            if let d { cost = (cost ?? 0) + d }
        }
    }
    var usage: [ModelKey: ModelUsage] = [:]
    var promptTokens: [ModelKey: Int] { usage.compactMapValues(\.prompt) }
    var completionTokens: [ModelKey: Int] { usage.compactMapValues(\.completion) }
    var cost: [ModelKey: Double] { usage.compactMapValues(\.cost) }
    var failovers: [String: Int] = [:]
    public var duration = Histogram()
    public var ttfb = Histogram()
    public var inFlight = 0
    public var modelListRefreshes: [String: Int] = [:]

    public init() {}

    /// Counts a finished exchange.
    public mutating func record(_ r: ExchangeRecord) {
        requests[RequestKey(route: r.route, provider: r.provider ?? "", status: r.status), default: 0] += 1
        duration.observe(r.durationSeconds)
        if let t = r.ttfbSeconds { ttfb.observe(t) }
        if r.promptTokens != nil || r.completionTokens != nil || r.costUSD != nil {
            usage[ModelKey(provider: r.provider ?? "", model: r.model ?? ""), default: ModelUsage()]
                .add(prompt: r.promptTokens, completion: r.completionTokens, cost: r.costUSD)
        }
    }

    /// Counts a failover away from `provider`.
    public mutating func recordFailover(from provider: String) { failovers[provider, default: 0] += 1 }

    /// Adds another loop's metrics into these.
    public mutating func merge(_ o: Metrics) {
        for (k, v) in o.requests { requests[k, default: 0] += v }
        for (k, v) in o.usage { usage[k, default: ModelUsage()].add(prompt: v.prompt, completion: v.completion, cost: v.cost) }
        for (k, v) in o.failovers { failovers[k, default: 0] += v }
        for (k, v) in o.modelListRefreshes { modelListRefreshes[k, default: 0] += v }
        duration.merge(o.duration)
        ttfb.merge(o.ttfb)
        inFlight += o.inFlight
    }

    /// The Prometheus text exposition (format 0.0.4).
    public func render() -> String {
        var out = ""
        func label(_ s: String) -> String {
            var r = ""
            for c in s {
                switch c {
                case "\\": r += "\\\\"
                case "\"": r += "\\\""
                case "\n": r += "\\n"
                default: r.append(c)
                }
            }
            return r
        }
        func number(_ d: Double) -> String {
            if d == d.rounded() && abs(d) < 1e15 { return String(Int(d)) }
            return "\(d)"
        }
        out += "# HELP proxyd_requests_total Requests answered, by route, provider and status.\n# TYPE proxyd_requests_total counter\n"
        for (k, v) in requests.sorted(by: { ($0.key.route, $0.key.provider, $0.key.status) < ($1.key.route, $1.key.provider, $1.key.status) }) {
            out += "proxyd_requests_total{route=\"\(label(k.route))\",provider=\"\(label(k.provider))\",status=\"\(k.status)\"} \(v)\n"
        }
        for (name, help, h) in [("proxyd_request_duration_seconds", "Time from request to the end of the reply.", duration),
                                ("proxyd_upstream_ttfb_seconds", "Time from request to the upstream's response head.", ttfb)] {
            out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
            var cumulative = 0
            for (i, b) in Metrics.buckets.enumerated() {
                cumulative += h.counts[i]
                out += "\(name)_bucket{le=\"\(number(b))\"} \(cumulative)\n"
            }
            out += "\(name)_bucket{le=\"+Inf\"} \(h.count)\n\(name)_sum \(h.sum)\n\(name)_count \(h.count)\n"
        }
        out += "# HELP proxyd_requests_in_flight Requests being answered.\n# TYPE proxyd_requests_in_flight gauge\nproxyd_requests_in_flight \(inFlight)\n"
        out += "# HELP proxyd_tokens_total Tokens reported by upstreams, by provider, model and kind.\n# TYPE proxyd_tokens_total counter\n"
        for (kind, table) in [("prompt", promptTokens), ("completion", completionTokens)] {
            for (k, v) in table.sorted(by: { ($0.key.provider, $0.key.model) < ($1.key.provider, $1.key.model) }) {
                out += "proxyd_tokens_total{provider=\"\(label(k.provider))\",model=\"\(label(k.model))\",kind=\"\(kind)\"} \(v)\n"
            }
        }
        out += "# HELP proxyd_cost_usd_total Cost of answered requests in US dollars.\n# TYPE proxyd_cost_usd_total counter\n"
        for (k, v) in cost.sorted(by: { ($0.key.provider, $0.key.model) < ($1.key.provider, $1.key.model) }) {
            out += "proxyd_cost_usd_total{provider=\"\(label(k.provider))\",model=\"\(label(k.model))\"} \(v)\n"
        }
        out += "# HELP proxyd_failovers_total Attempts abandoned for the next candidate, by the provider left.\n# TYPE proxyd_failovers_total counter\n"
        for (k, v) in failovers.sorted(by: { $0.key < $1.key }) {
            out += "proxyd_failovers_total{provider=\"\(label(k))\"} \(v)\n"
        }
        out += "# HELP proxyd_model_list_refreshes_total Model list loads, by result.\n# TYPE proxyd_model_list_refreshes_total counter\n"
        for (k, v) in modelListRefreshes.sorted(by: { $0.key < $1.key }) {
            out += "proxyd_model_list_refreshes_total{result=\"\(label(k))\"} \(v)\n"
        }
        return out
    }
}
