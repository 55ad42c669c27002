/// One `allowedPaths` entry: an exact path, or a prefix when it ends in `*`.
public struct PathPattern: Sendable, Equatable, CustomStringConvertible {
    public let text: String
    public let isPrefix: Bool
    let stem: [UInt8]

    /// Why a pattern was refused at load.
    public enum Problem: Error, Equatable, Sendable {
        case mustStartWithSlash
        case starNotAtEnd

        public var message: String {
            switch self {
            case .mustStartWithSlash: return "must start with '/'"
            case .starNotAtEnd: return "'*' may only end a pattern"
            }
        }
    }

    public init(_ text: String) throws(Problem) {
        guard text.hasPrefix("/") else { throw .mustStartWithSlash }
        let bytes = Array(text.utf8)
        if let star = bytes.firstIndex(of: UInt8(ascii: "*")), star != bytes.count - 1 { throw .starNotAtEnd }
        self.text = text
        isPrefix = bytes.last == UInt8(ascii: "*")
        stem = isPrefix ? Array(bytes.dropLast()) : bytes
    }

    public var description: String { text }

    /// Whether `path` (the raw bytes that will be sent) matches.
    public func matches(_ path: some Collection<UInt8>) -> Bool {
        if isPrefix { return path.count >= stem.count && path.prefix(stem.count).elementsEqual(stem) }
        return path.count == stem.count && path.elementsEqual(stem)
    }
}

/// A provider's `allowedPaths`: the pass-through rests it lets through.
public struct AllowedPaths: Sendable, Equatable {
    public let patterns: [PathPattern]

    public init(_ patterns: [PathPattern]) { self.patterns = patterns }

    /// The first pattern that matches `path`, or nil when the path is refused.
    public func match(_ path: some Collection<UInt8>) -> PathPattern? {
        patterns.first { $0.matches(path) }
    }
}
