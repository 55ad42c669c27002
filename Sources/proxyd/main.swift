import Glibc
import ProxyCore
import ProxyEvent

let environment = processEnvironment()

/// Loads the configuration from `path` (or PROXYD_CONFIG, or none).
func loadConfiguration(path: String?, overrides: CommandLineOverrides = CommandLineOverrides()) -> Result<Configuration, ConfigurationError> {
    var file: [UInt8]? = nil
    if let p = path ?? environment["PROXYD_CONFIG"].flatMap({ $0.isEmpty ? nil : $0 }) {
        switch readWholeFile(p) {
        case .success(let bytes): file = bytes
        case .failure(let why): return .failure(ConfigurationError(problems: ["cannot read configuration: \(p): \(why.reason)"]))
        }
    }
    do { return .success(try ConfigurationLoader.load(file: file, environment: environment, overrides: overrides)) } catch {
        return .failure(error)
    }
}

let command: ProxyCommand
switch ProxyCommand.parse(Array(CommandLine.arguments.dropFirst())) {
case .success(let c): command = c
case .failure(let e):
    printError("proxyd: \(e.message)\n\n\(ProxyCommand.usage)")
    exit(64)
}

switch command {
case .help:
    printOut(ProxyCommand.usage)
case .version:
    printOut("proxyd \(Version.string)")
case .check(let path):
    switch loadConfiguration(path: path) {
    case .failure(let e):
        for p in e.problems { printError("error: \(p)") }
        exit(1)
    case .success(let c):
        printOut(ConfigurationSummary.render(c))
    }
case .route(let path, let method, let target, let model):
    switch loadConfiguration(path: path) {
    case .failure(let e):
        for p in e.problems { printError("error: \(p)") }
        exit(1)
    case .success(let c):
        // What a running proxyd would see: the model list too, when one is configured.
        var list = ModelList()
        if let settings = c.modelList {
            switch ModelListOnce.load(settings, providers: Set(c.providers.map(\.id))) {
            case .success(let l):
                list = l
                for w in l.warnings { printError("warning: model list entry skipped: \(w)") }
            case .failure(let e):
                printError("warning: model list not loaded (\(e.reason)); routing without it")
            }
        }
        printOut(Gateway(configuration: c, modelList: list).explain(method: method, path: target, model: model).jsonText)
    }
case .serve(let path, let overrides):
    let configuration: Configuration
    switch loadConfiguration(path: path, overrides: overrides) {
    case .failure(let e):
        for p in e.problems { printError("error: \(p)") }
        exit(1)
    case .success(let c): configuration = c
    }
    let logger = Logger(level: configuration.logLevel, accessLog: configuration.accessLog)
    // libevent's own messages become JSON lines like every other.
    EventLoop.routeLibraryMessages { severity, message in
        let level: LogLevel = severity >= 3 ? .error : severity == 2 ? .warn : severity == 1 ? .info : .debug
        logger.log(level, "libevent", [("message", .string(message))])
    }
    let server = ProxyServer(configuration: configuration, logger: logger)
    do { try server.start() } catch {
        logger.error("cannot listen", [("error", .string(error.description))])
        exit(1)
    }
    let mainLoop = EventLoop()
    // Written whatever the log level: it is how an operator (or a script) learns the port.
    logger.log(.info, "listening", [("address", .string("\(configuration.server.listenHost):\(server.port)")),
                                    ("workers", .int(server.workerCount)), ("version", .string(Version.string))], always: true)
    var grace = configuration.server.shutdownGraceSeconds
    let stop = {
        logger.info("shutting down", [("grace_seconds", .double(grace))])
        let cut = server.shutdown(grace: grace)
        logger.info("stopped", [("cut", .int(cut))])
        exit(0)
    }
    let term = SignalWatcher(loop: mainLoop, signal: SIGTERM, stop)
    let int = SignalWatcher(loop: mainLoop, signal: SIGINT, stop)
    let hup = SignalWatcher(loop: mainLoop, signal: SIGHUP) {
        switch loadConfiguration(path: path, overrides: overrides) {
        case .failure(let e):
            logger.error("reload failed; keeping the running configuration", [("errors", .array(e.problems.map { .string($0) }))])
        case .success(let c):
            server.replace(configuration: c)
            grace = c.server.shutdownGraceSeconds
            logger.info("configuration reloaded", [("providers", .int(c.providers.count))])
        }
    }
    withExtendedLifetime((term, int, hup)) { mainLoop.run() }
}
