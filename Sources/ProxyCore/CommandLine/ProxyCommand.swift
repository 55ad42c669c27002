/// What the `proxyd` command line asks for.
public enum ProxyCommand: Equatable, Sendable {
    case serve(configPath: String?, overrides: CommandLineOverrides)
    case check(configPath: String?)
    case route(configPath: String?, method: String, path: String, model: String?)
    case help
    case version

    /// A usage error; the process exits 64.
    public struct UsageError: Error, Equatable, Sendable {
        public let message: String
    }

    public static let usage = """
    usage: proxyd [serve] [--config FILE] [--listen HOST:PORT] [--workers N] [--log-level LEVEL]
           proxyd check [--config FILE]
           proxyd route [--config FILE] METHOD PATH [--model M]
           proxyd --help | --version

    Environment: PROXYD_CONFIG, PROXYD_LISTEN, MODEL_LIST_URL, and the providers' key variables
    (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...).
    """

    /// Parses the arguments after the program name. `--flag=value` and `--flag value` both work.
    public static func parse(_ arguments: [String]) -> Result<ProxyCommand, UsageError> {
        var args = arguments[...]
        var verb = "serve"
        if let first = args.first, !first.hasPrefix("-") {
            verb = first
            args = args.dropFirst()
        }
        var config: String?
        var overrides = CommandLineOverrides()
        var model: String?
        var positional: [String] = []
        while let arg = args.popFirst() {
            var name = arg
            var inline: String?
            if arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") {
                name = String(arg[..<eq])
                inline = String(arg[arg.index(after: eq)...])
            }
            func value() -> String? { inline ?? args.popFirst() }
            switch name {
            case "--help", "-h": return .success(.help)
            case "--version": return .success(.version)
            case "--config":
                guard let v = value() else { return .failure(UsageError(message: "--config needs a file")) }
                config = v
            case "--listen" where verb == "serve":
                guard let v = value() else { return .failure(UsageError(message: "--listen needs HOST:PORT")) }
                overrides.listen = v
            case "--workers" where verb == "serve":
                guard let v = value(), let n = Int(v), n >= 0 else {
                    return .failure(UsageError(message: "--workers needs a whole number"))
                }
                overrides.workers = n
            case "--log-level" where verb == "serve":
                guard let v = value(), LogLevel(named: v) != nil else {
                    return .failure(UsageError(message: "--log-level needs debug, info, warn or error"))
                }
                overrides.logLevel = v
            case "--model" where verb == "route":
                guard let v = value() else { return .failure(UsageError(message: "--model needs a model id")) }
                model = v
            default:
                if arg.hasPrefix("-") { return .failure(UsageError(message: "unknown option \(arg) for '\(verb)'")) }
                positional.append(arg)
            }
        }
        switch verb {
        case "serve":
            guard positional.isEmpty else { return .failure(UsageError(message: "unexpected argument \(positional[0])")) }
            return .success(.serve(configPath: config, overrides: overrides))
        case "check":
            guard positional.isEmpty else { return .failure(UsageError(message: "unexpected argument \(positional[0])")) }
            return .success(.check(configPath: config))
        case "route":
            guard positional.count == 2 else { return .failure(UsageError(message: "route needs METHOD and PATH")) }
            guard positional[1].hasPrefix("/") else { return .failure(UsageError(message: "PATH must start with '/'")) }
            return .success(.route(configPath: config, method: positional[0].uppercased(), path: positional[1], model: model))
        default:
            return .failure(UsageError(message: "unknown command '\(verb)'"))
        }
    }
}
