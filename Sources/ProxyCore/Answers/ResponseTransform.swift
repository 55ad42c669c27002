/// What an upstream answer goes through on its way to the client. Every body kind has this one
/// shape: pass-through, a whole answer read and rewritten, a `<think>` stream, and each dialect's
/// translation. The exchange feeds it the upstream's bytes as they arrive and sends what it
/// appends; at the end it asks how the answer finishes.
public protocol ResponseTransform {
    /// When the client's response head may go out.
    var headTiming: HeadTiming { get }
    /// Whether the client's body may differ from the upstream's (its `Content-Length` is then
    /// not the upstream's and is dropped).
    var rewritesBody: Bool { get }
    /// The usage the answer reported so far, if any.
    var usage: Usage? { get }

    /// Takes upstream bytes and appends what the client gets now to `out` (which is empty on entry).
    func feed(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) -> TransformStep

    /// The upstream's transfer is over (`upstreamComplete`: it ended cleanly; otherwise `reason`
    /// says why). Appends the answer's last bytes to `out` and says how the answer ends.
    func finish(upstreamComplete: Bool, reason: String, into out: inout [UInt8]) -> TransformEnding
}

/// When a transform lets the client's response head go out.
public enum HeadTiming: Sendable, Equatable {
    /// As soon as proxyd commits to the answer.
    case atCommit
    /// With the first bytes for the client: until then an upstream error can still become an
    /// HTTP error that failover acts on.
    case atFirstOutput
    /// With the whole body, once the upstream has sent all of it.
    case withBody
}

/// What the exchange does after a `feed`.
public enum TransformStep: Sendable, Equatable {
    /// Send what was appended to `out` (it may be nothing).
    case output
    /// Send the fed bytes as they came (the transform appended nothing).
    case passInput
    /// Send what was appended, then take no more: the upstream is cancelled and `finish` says
    /// how the answer ends.
    case stop
    /// Before anything reached the client, the upstream reported this failure in its body: it
    /// counts as the attempt's answer (failover may try the next candidate).
    case failed(status: Int, error: ProxyError)
}

/// How an answer ends, from `finish`.
public enum TransformEnding: Sendable, Equatable {
    /// The streamed answer ends after what was appended. `complete` is false when it ended
    /// other than properly (the client was told, in the stream, where that is possible).
    case stream(complete: Bool)
    /// A streamed answer passed through as it came broke off: the client's transfer is cut
    /// short, so it can tell.
    case truncate
    /// The whole answer to send now, with the upstream's status.
    case whole([UInt8])
    /// Nothing was sent yet: answer this error instead. `upstreamBroke` marks an answer that
    /// broke off (for the access log).
    case error(ProxyError, upstreamBroke: Bool)
}

/// The limits a transform keeps to, whatever the upstream sends.
public struct AnswerLimits: Sendable, Equatable {
    /// The largest whole answer held to be rewritten.
    public var maxResponseBytes: Int
    /// The largest single event held while it is incomplete.
    public var maxEventBytes: Int

    public init(maxResponseBytes: Int = 64 << 20, maxEventBytes: Int = 16 << 20) {
        self.maxResponseBytes = maxResponseBytes
        self.maxEventBytes = maxEventBytes
    }
}

/// The facts of a response head a transform is chosen by.
public struct AnswerHead: Sendable, Equatable {
    public enum Body: Sendable, Equatable { case eventStream, json, other }
    public var status: Int
    public var body: Body

    public init(status: Int, contentType: String?) {
        self.status = status
        let type = (contentType ?? "").lowercasedASCII
        body = type.hasPrefix("text/event-stream") ? .eventStream : type.hasPrefix("application/json") ? .json : .other
    }

    public var isSuccess: Bool { status >= 200 && status < 300 }
}

/// How the answers of one upstream attempt reach the client: picks the transform for each
/// response head. A dialect supplies one for the requests it makes.
public protocol AnswerMapping: Sendable {
    func transform(for head: AnswerHead, limits: AnswerLimits) -> any ResponseTransform
}

/// Answers that go to the client exactly as they came.
public struct UntouchedAnswers: AnswerMapping {
    public init() {}
    public func transform(for head: AnswerHead, limits: AnswerLimits) -> any ResponseTransform { PassThroughAnswer.shared }
}

/// Bytes go to the client as they come; a break cuts the client's transfer short. It keeps no
/// state, so one serves every exchange.
public final class PassThroughAnswer: ResponseTransform, Sendable {
    public static let shared = PassThroughAnswer()
    init() {}
    public var headTiming: HeadTiming { .atCommit }
    public var rewritesBody: Bool { false }
    public var usage: Usage? { nil }
    public func feed(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) -> TransformStep { .passInput }
    public func finish(upstreamComplete: Bool, reason: String, into out: inout [UInt8]) -> TransformEnding {
        upstreamComplete ? .stream(complete: true) : .truncate
    }
}
