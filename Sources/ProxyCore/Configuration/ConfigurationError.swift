/// Everything wrong with a configuration, each problem naming its key path
/// (`providers.openrouter.allowedPaths[2]: '*' may only end a pattern`).
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [String]

    public init(problems: [String]) { self.problems = problems }

    public var description: String { problems.joined(separator: "\n") }
}
