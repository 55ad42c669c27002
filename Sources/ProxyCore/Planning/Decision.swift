/// What to do with a client's request.
public struct Decision: Sendable {
    public enum Action: Sendable {
        /// Answer locally.
        case respond(LocalResponse)
        /// Answer with the metrics exposition (the I/O layer holds the counters).
        case metrics
        /// Forward upstream.
        case forward(ForwardPlan)
    }

    public var action: Action
    public var route: String
    public var requestID: String
}
