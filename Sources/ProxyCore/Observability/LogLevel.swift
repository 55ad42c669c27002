/// How much the log says, least to most severe.
public enum LogLevel: String, Sendable, Equatable, Comparable, CaseIterable {
    case debug, info, warn, error

    var rank: Int {
        switch self {
        case .debug: return 0
        case .info: return 1
        case .warn: return 2
        case .error: return 3
        }
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rank < rhs.rank }

    /// A level as written in a configuration or on the command line: the four names, and
    /// `warning` for `warn`.
    public init?(named text: String) {
        if text == "warning" { self = .warn; return }
        self.init(rawValue: text)
    }
}
