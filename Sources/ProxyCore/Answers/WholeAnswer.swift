/// Turns a whole upstream answer into the client's.
public protocol WholeAnswerRewrite: Sendable {
    /// The client's body and the usage the answer reports, or the error to answer instead.
    func rewrite(_ body: [UInt8]) -> Result<(body: [UInt8], usage: Usage?), ProxyError>
}

/// A whole answer: held (up to `maxResponseBytes`) until the upstream has sent all of it, then
/// rewritten once and sent with its head. One that grows past the limit is dropped at once and
/// answered with a 502; one that breaks off is never sent as if it were whole.
public final class WholeAnswer<Rewrite: WholeAnswerRewrite>: ResponseTransform {
    let rewrite: Rewrite
    let limit: Int
    var body: [UInt8] = []
    var tooLarge = false
    public private(set) var usage: Usage?

    public init(_ rewrite: Rewrite, limit: Int) {
        self.rewrite = rewrite
        self.limit = limit
    }

    public var headTiming: HeadTiming { .withBody }
    public var rewritesBody: Bool { true }

    public func feed(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) -> TransformStep {
        if body.count + bytes.count > limit {
            tooLarge = true
            body = []
            return .stop
        }
        body.appendBytes(bytes)
        return .output
    }

    public func finish(upstreamComplete: Bool, reason: String, into out: inout [UInt8]) -> TransformEnding {
        if tooLarge { return .error(.responseTooLarge(limit: limit), upstreamBroke: false) }
        guard upstreamComplete else {
            return .error(.badGateway("upstream answer broke off: \(reason)", code: "upstream_incomplete"), upstreamBroke: true)
        }
        switch rewrite.rewrite(body) {
        case .success(let done):
            usage = done.usage
            return .whole(done.body)
        case .failure(let error):
            return .error(error, upstreamBroke: false)
        }
    }
}

extension ProxyError {
    /// The 502 for a whole answer over `limit` bytes, announced or sent.
    public static func responseTooLarge(limit: Int) -> ProxyError {
        .badGateway("upstream answer is larger than maxResponseBytes (\(limit) bytes)", code: "response_too_large")
    }
}
