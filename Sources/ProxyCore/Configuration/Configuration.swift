/// The listening side's settings (`server` in the file).
public struct ServerSettings: Sendable, Equatable {
    public var listenHost: String = "127.0.0.1"
    public var listenPort: Int = 8080
    /// Event loops; 0 means one per CPU core.
    public var workers: Int = 0
    public var maxBodyBytes: Int = 10 * 1024 * 1024
    public var maxHeaderBytes: Int = 64 * 1024
    public var idleTimeoutSeconds: Double = 75
    public var shutdownGraceSeconds: Double = 30
    public var streamIdleTimeoutSeconds: Double = 300
    /// From a request's first byte to the end of its head (then 408).
    public var headerTimeoutSeconds: Double = 10
    /// The longest pause between a request's body bytes (then 408).
    public var bodyTimeoutSeconds: Double = 30
    /// The most proxyd holds of one upstream answer it must read whole (then 502
    /// `response_too_large`).
    public var maxResponseBytes: Int = 64 * 1024 * 1024
    /// The most proxyd holds of one SSE event (then the stream ends with `event_too_large`).
    public var maxEventBytes: Int = 16 * 1024 * 1024
    /// Upstream connections each worker keeps open for reuse.
    public var maxIdleUpstreamConnections: Int = 32

    /// The event loops to run on a machine with `cores` CPU cores: `workers`, or one per core
    /// when it is 0.
    public func workerCount(cores: Int) -> Int { workers > 0 ? workers : max(1, cores) }

    public init() {}
}

/// Where the model list comes from (`modelList`).
public struct ModelListSettings: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        case url(UpstreamURL)
        case file(String)
    }
    public var source: Source
    public var refreshSeconds: Double = 300
}

/// The generic forwarder's settings (`genericProxy`).
public struct GenericProxySettings: Sendable, Equatable {
    public var enabled: Bool = true
    /// Explicit allow list; nil means the configured providers' hosts.
    public var allowedHosts: HostAllowlist
}

/// The whole configuration, validated and with every default applied. Immutable once built;
/// a reload builds a new one.
public struct Configuration: Sendable {
    public var server = ServerSettings()
    /// Proxy access keys (`auth.keys`), resolved. Empty means no key is required.
    public var authKeys: [String] = []
    /// Providers in configuration order.
    public var providers: [Provider] = []
    public var modelList: ModelListSettings?
    public var genericProxy: GenericProxySettings
    public var think = ThinkSettings()
    /// `failover.circuitBreaker`.
    public var circuitBreaker = CircuitBreakerSettings()
    public var debugRoutes = false
    public var logLevel: LogLevel = .info
    public var accessLog = true
    /// The APIs providers may speak, and the hub form.
    public let dialects: DialectRegistry

    /// The provider named `id`.
    public func provider(_ id: String) -> Provider? {
        providerIndex[id].map { providers[$0] }
    }

    var providerIndex: [String: Int] = [:]

    init(providers: [Provider], genericProxy: GenericProxySettings, dialects: DialectRegistry) {
        self.providers = providers
        self.genericProxy = genericProxy
        self.dialects = dialects
        for (i, p) in providers.enumerated() { providerIndex[p.id] = i }
    }

    /// The first path segments that belong to proxyd's own routes and can never be a provider id.
    public static let reservedSegments: Set<String> = [
        "healthz", "readyz", "metrics", "openapi.json", "v1", "api", "proxy", "provider", "debug",
    ]
}
