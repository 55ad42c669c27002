/// `failover.circuitBreaker`: after `failures` consecutive failed attempts a provider is tried
/// last for `coolDownSeconds`; `failures: 0` turns the breaker off.
public struct CircuitBreakerSettings: Sendable, Equatable {
    public var failures = 3
    public var coolDownSeconds: Double = 30
    public init() {}
}

/// Remembers which providers keep failing, so a dead provider is tried last for a cool-down
/// period instead of adding its time-out to every request. Time is passed in.
public struct CircuitBreaker: Sendable {
    /// Consecutive failures that open the breaker.
    public let threshold: Int
    /// How long an open breaker keeps its provider at the back, in seconds.
    public let coolDown: Double

    struct State: Sendable {
        var failures = 0
        var openUntil: Double?
    }

    var states: [String: State] = [:]

    public init(threshold: Int = 3, coolDown: Double = 30) {
        self.threshold = threshold
        self.coolDown = coolDown
    }

    /// The breaker `failover.circuitBreaker` describes.
    public init(_ settings: CircuitBreakerSettings) {
        self.init(threshold: settings.failures, coolDown: settings.coolDownSeconds)
    }

    /// A threshold of 0 turns the breaker off: nothing is recorded, nobody cools down.
    public var isEnabled: Bool { threshold > 0 }

    /// Records an attempt's outcome at time `now`.
    public mutating func record(provider: String, failed: Bool, now: Double) {
        guard isEnabled else { return }
        // A provider that never failed has nothing to reset: no lookup-and-store per success.
        if !failed && states.isEmpty { return }
        var s = states[provider] ?? State()
        if failed {
            s.failures += 1
            if s.failures >= threshold { s.openUntil = now + coolDown }
        } else {
            s = State()
        }
        states[provider] = s
    }

    /// Whether `provider` is cooling down at `now` (to be tried last). After the cool-down the
    /// provider is tried normally again; one more failure reopens the breaker at once.
    public func isCoolingDown(_ provider: String, now: Double) -> Bool {
        guard let until = states[provider]?.openUntil else { return false }
        return now < until
    }
}
