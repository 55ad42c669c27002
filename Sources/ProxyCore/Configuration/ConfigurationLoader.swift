/// Values given on the command line; they beat the environment and the file.
public struct CommandLineOverrides: Sendable, Equatable {
    public var listen: String?
    public var workers: Int?
    public var logLevel: String?
    public init(listen: String? = nil, workers: Int? = nil, logLevel: String? = nil) {
        self.listen = listen
        self.workers = workers
        self.logLevel = logLevel
    }
}

/// Builds a `Configuration` from the built-in defaults, an optional JSON file's bytes, an
/// environment (passed in, never read here) and command-line overrides.
public enum ConfigurationLoader {
    /// Loads and validates; `dialects` are the APIs a provider may name. Throws every problem
    /// found, each with its key path.
    public static func load(file: [UInt8]?, environment: [String: String], overrides: CommandLineOverrides,
                            dialects: DialectRegistry) throws(ConfigurationError) -> Configuration {
        var reader = Reader(environment: environment, dialects: dialects)
        var root: JSONValue = .object([])
        if let file {
            do {
                root = try JSONValue.parse(file)
            } catch {
                throw ConfigurationError(problems: ["configuration is not valid JSON: \(error)"])
            }
            guard case .object = root else {
                throw ConfigurationError(problems: ["configuration must be a JSON object, not \(root.typeName)"])
            }
        }
        let config = reader.build(root: root, overrides: overrides)
        if !reader.problems.isEmpty { throw ConfigurationError(problems: reader.problems) }
        return config!
    }
}

/// Walks the JSON with key paths, collecting every problem instead of stopping at the first.
struct Reader {
    let environment: [String: String]
    let dialects: DialectRegistry
    var problems: [String] = []

    init(environment: [String: String], dialects: DialectRegistry) {
        self.environment = environment
        self.dialects = dialects
    }

    mutating func problem(_ path: String, _ message: String) { problems.append("\(path): \(message)") }

    /// The members of an object at `path`, checking that only `allowed` keys appear.
    mutating func object(_ value: JSONValue?, _ path: String, allowed: Set<String>) -> [(String, JSONValue)] {
        guard let value else { return [] }
        guard case .object(let members) = value else {
            problem(path, "must be an object, not \(value.typeName)")
            return []
        }
        for (k, _) in members where !allowed.contains(k) {
            problem(path.isEmpty ? k : "\(path).\(k)", "unknown key")
        }
        return members
    }

    mutating func string(_ v: JSONValue?, _ path: String) -> String? {
        guard let v else { return nil }
        guard case .string(let s) = v else { problem(path, "must be a string, not \(v.typeName)"); return nil }
        return s
    }

    mutating func bool(_ v: JSONValue?, _ path: String) -> Bool? {
        guard let v else { return nil }
        guard case .bool(let b) = v else { problem(path, "must be a boolean, not \(v.typeName)"); return nil }
        return b
    }

    mutating func int(_ v: JSONValue?, _ path: String, min: Int = 0) -> Int? {
        guard let v else { return nil }
        guard let i = v.intValue else { problem(path, "must be an integer, not \(v.typeName)"); return nil }
        guard i >= min else { problem(path, "must be at least \(min)"); return nil }
        return i
    }

    mutating func seconds(_ v: JSONValue?, _ path: String) -> Double? {
        guard let v else { return nil }
        guard let d = v.doubleValue else { problem(path, "must be a number, not \(v.typeName)"); return nil }
        guard d > 0 else { problem(path, "must be greater than 0"); return nil }
        return d
    }

    mutating func strings(_ v: JSONValue?, _ path: String) -> [String]? {
        guard let v else { return nil }
        guard case .array(let items) = v else { problem(path, "must be an array, not \(v.typeName)"); return nil }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            if let s = string(item, "\(path)[\(i)]") { out.append(s) }
        }
        return out
    }

    func member(_ members: [(String, JSONValue)], _ key: String) -> JSONValue? {
        members.first { $0.0 == key }?.1
    }

    /// Parses `host:port`.
    mutating func listen(_ text: String, _ path: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":") else { problem(path, "must be HOST:PORT"); return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let port = Int(text[text.index(after: colon)...]), port >= 0, port <= 65535, !host.isEmpty else {
            problem(path, "must be HOST:PORT with a port from 0 to 65535"); return nil
        }
        return (host, port)
    }

    /// A literal or `env:NAME`. Returns the value (nil when the variable is unset) and the variable.
    func secret(_ text: String) -> (value: String?, variable: String?) {
        if text.hasPrefix("env:") {
            let name = String(text.dropFirst(4))
            let value = environment[name].flatMap { $0.isEmpty ? nil : $0 }
            return (value, name)
        }
        return (text, nil)
    }

    mutating func build(root: JSONValue, overrides: CommandLineOverrides) -> Configuration? {
        let top = object(root, "", allowed: ["inheritDefaults", "server", "auth", "providers", "modelList",
                                               "genericProxy", "think", "debugRoutes", "log", "failover"])
        let inherit = bool(member(top, "inheritDefaults"), "inheritDefaults") ?? true

        // server
        var server = ServerSettings()
        let s = object(member(top, "server"), "server", allowed: ["listen", "workers", "maxBodyBytes", "maxHeaderBytes",
                                                                   "idleTimeoutSeconds", "shutdownGraceSeconds",
                                                                   "streamIdleTimeoutSeconds", "headerTimeoutSeconds",
                                                                   "bodyTimeoutSeconds", "maxResponseBytes", "maxEventBytes",
                                                                   "maxIdleUpstreamConnections"])
        if let l = string(member(s, "listen"), "server.listen"), let (h, p) = listen(l, "server.listen") {
            server.listenHost = h; server.listenPort = p
        }
        if let w = int(member(s, "workers"), "server.workers") { server.workers = w }
        if let b = int(member(s, "maxBodyBytes"), "server.maxBodyBytes", min: 1) { server.maxBodyBytes = b }
        if let b = int(member(s, "maxHeaderBytes"), "server.maxHeaderBytes", min: 256) { server.maxHeaderBytes = b }
        if let t = seconds(member(s, "idleTimeoutSeconds"), "server.idleTimeoutSeconds") { server.idleTimeoutSeconds = t }
        if let t = seconds(member(s, "shutdownGraceSeconds"), "server.shutdownGraceSeconds") { server.shutdownGraceSeconds = t }
        if let t = seconds(member(s, "streamIdleTimeoutSeconds"), "server.streamIdleTimeoutSeconds") { server.streamIdleTimeoutSeconds = t }
        if let t = seconds(member(s, "headerTimeoutSeconds"), "server.headerTimeoutSeconds") { server.headerTimeoutSeconds = t }
        if let t = seconds(member(s, "bodyTimeoutSeconds"), "server.bodyTimeoutSeconds") { server.bodyTimeoutSeconds = t }
        if let b = int(member(s, "maxResponseBytes"), "server.maxResponseBytes", min: 1024) { server.maxResponseBytes = b }
        if let b = int(member(s, "maxEventBytes"), "server.maxEventBytes", min: 1024) { server.maxEventBytes = b }
        if let n = int(member(s, "maxIdleUpstreamConnections"), "server.maxIdleUpstreamConnections", min: 1) {
            server.maxIdleUpstreamConnections = n
        }
        if let l = environment["PROXYD_LISTEN"], !l.isEmpty, let (h, p) = listen(l, "PROXYD_LISTEN") {
            server.listenHost = h; server.listenPort = p
        }
        if let l = overrides.listen, let (h, p) = listen(l, "--listen") { server.listenHost = h; server.listenPort = p }
        if let w = overrides.workers { server.workers = w }

        // auth
        var authKeys: [String] = []
        let a = object(member(top, "auth"), "auth", allowed: ["keys"])
        if let keys = strings(member(a, "keys"), "auth.keys") {
            for (i, k) in keys.enumerated() {
                let (value, variable) = secret(k)
                if let value { authKeys.append(value) } else if let variable {
                    problem("auth.keys[\(i)]", "environment variable \(variable) is not set")
                } else {
                    problem("auth.keys[\(i)]", "must not be empty")
                }
            }
        }

        // think
        var think = ThinkSettings()
        let t = object(member(top, "think"), "think", allowed: ["mode", "field", "tags", "assumeOpen"])
        if let m = string(member(t, "mode"), "think.mode") {
            if let mode = ThinkMode(rawValue: m) { think.mode = mode } else { problem("think.mode", "must be split, strip or off") }
        }
        if let f = string(member(t, "field"), "think.field") {
            if f == "reasoning_content" || f == "reasoning" { think.field = f } else {
                problem("think.field", "must be reasoning_content or reasoning")
            }
        }
        if let tags = strings(member(t, "tags"), "think.tags") {
            for (i, tag) in tags.enumerated() where tag.isEmpty || !tag.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") }) {
                problem("think.tags[\(i)]", "must be a tag name without spaces or angle brackets")
            }
            if tags.isEmpty { problem("think.tags", "must name at least one tag") } else { think.tags = tags }
        }
        if let o = bool(member(t, "assumeOpen"), "think.assumeOpen") { think.assumeOpen = o }

        // providers: built-in entries first (unless inheritDefaults is false), file entries merged over them.
        var entries: [(String, [(String, JSONValue)])] = inherit ? BuiltinProviders.entries.map { ($0.0, $0.1.objectValue ?? []) } : []
        if let pv = member(top, "providers") {
            if case .object(let fileProviders) = pv {
                for (id, value) in fileProviders {
                    guard case .object(let fields) = value else {
                        problem("providers.\(id)", "must be an object, not \(value.typeName)")
                        continue
                    }
                    if let i = entries.firstIndex(where: { $0.0 == id }) {
                        var merged = entries[i].1
                        for (k, v) in fields {
                            if let j = merged.firstIndex(where: { $0.0 == k }) { merged[j].1 = v } else { merged.append((k, v)) }
                        }
                        entries[i].1 = merged
                    } else {
                        entries.append((id, fields))
                    }
                }
            } else {
                problem("providers", "must be an object, not \(pv.typeName)")
            }
        }
        var providers: [Provider] = []
        for (id, fields) in entries {
            if let p = provider(id: id, fields: fields) { providers.append(p) }
        }

        // model list
        var modelList: ModelListSettings? = nil
        let ml = object(member(top, "modelList"), "modelList", allowed: ["url", "file", "refreshSeconds"])
        let mlURL = string(member(ml, "url"), "modelList.url")
        let mlFile = string(member(ml, "file"), "modelList.file")
        let refresh = seconds(member(ml, "refreshSeconds"), "modelList.refreshSeconds") ?? 300
        if let env = environment["MODEL_LIST_URL"], !env.isEmpty {
            do { modelList = ModelListSettings(source: .url(try UpstreamURL.parse(env)), refreshSeconds: refresh) } catch {
                problem("MODEL_LIST_URL", "must be an absolute http(s) URL: \(error.reason)")
            }
        } else if mlURL != nil && mlFile != nil {
            problem("modelList", "url and file cannot both be set")
        } else if let u = mlURL {
            do { modelList = ModelListSettings(source: .url(try UpstreamURL.parse(u)), refreshSeconds: refresh) } catch {
                problem("modelList.url", "must be an absolute http(s) URL: \(error.reason)")
            }
        } else if let f = mlFile {
            modelList = ModelListSettings(source: .file(f), refreshSeconds: refresh)
        } else if !ml.isEmpty {
            problem("modelList", "needs url or file")
        }

        // generic proxy
        let g = object(member(top, "genericProxy"), "genericProxy", allowed: ["enabled", "allowedHosts"])
        let enabled = bool(member(g, "enabled"), "genericProxy.enabled") ?? true
        var allowlist: HostAllowlist
        if let hosts = strings(member(g, "allowedHosts"), "genericProxy.allowedHosts") {
            let (list, bad) = HostAllowlist.parse(hosts)
            for (i, reason) in bad { problem("genericProxy.allowedHosts[\(i)]", reason) }
            allowlist = list
        } else {
            var seen = Set<String>()
            var texts: [String] = []
            for p in providers {
                for u in [p.baseURL, p.chatCompletionsURL] where seen.insert(u.authority).inserted {
                    texts.append(u.authority)
                }
            }
            allowlist = HostAllowlist.parse(texts).0
        }

        var breaker = CircuitBreakerSettings()
        let fo = object(member(top, "failover"), "failover", allowed: ["circuitBreaker"])
        let cb = object(member(fo, "circuitBreaker"), "failover.circuitBreaker", allowed: ["failures", "coolDownSeconds"])
        if let n = int(member(cb, "failures"), "failover.circuitBreaker.failures", min: 0) { breaker.failures = n }
        if let t = seconds(member(cb, "coolDownSeconds"), "failover.circuitBreaker.coolDownSeconds") { breaker.coolDownSeconds = t }

        let d = bool(member(top, "debugRoutes"), "debugRoutes") ?? false
        let lg = object(member(top, "log"), "log", allowed: ["level", "access"])
        var level = LogLevel.info
        if let l = string(member(lg, "level"), "log.level") {
            if let v = LogLevel(named: l) { level = v } else { problem("log.level", "must be debug, info, warn (or warning) or error") }
        }
        if let l = overrides.logLevel {
            if let v = LogLevel(named: l) { level = v } else { problem("--log-level", "must be debug, info, warn (or warning) or error") }
        }
        let access = bool(member(lg, "access"), "log.access") ?? true

        guard problems.isEmpty else { return nil }
        var config = Configuration(providers: providers, genericProxy: GenericProxySettings(enabled: enabled, allowedHosts: allowlist),
                                   dialects: dialects)
        config.server = server
        config.authKeys = authKeys
        config.modelList = modelList
        config.think = think
        config.circuitBreaker = breaker
        config.debugRoutes = d
        config.logLevel = level
        config.accessLog = access
        return config
    }

    static let providerKeys: Set<String> = [
        "baseUrl", "api", "chatCompletionsUrl", "allowedPaths", "apiKey", "requiresApiKey", "timeoutSeconds",
        "priority", "autoDetect", "models", "supportsNativeUsdCost", "headers", "think", "defaultMaxTokens",
    ]

    mutating func provider(id: String, fields: [(String, JSONValue)]) -> Provider? {
        let path = "providers.\(id)"
        let before = problems.count
        if Configuration.reservedSegments.contains(id) {
            problem(path, "'\(id)' is reserved for proxyd's own routes and cannot be a provider id")
        }
        if id.isEmpty || !id.utf8.allSatisfy({ UpstreamURL.isHostByte($0) || ($0 >= 0x41 && $0 <= 0x5A) }) {
            problem(path, "a provider id may use only letters, digits, '-', '_' and '.'")
        }
        let f = object(.object(fields), path, allowed: Reader.providerKeys)
        var base: UpstreamURL? = nil
        if let b = string(member(f, "baseUrl"), "\(path).baseUrl") {
            do {
                base = try UpstreamURL.parse(b)
                if base?.query != nil { problem("\(path).baseUrl", "must not have a query"); base = nil }
            } catch { problem("\(path).baseUrl", "must be an absolute http(s) URL: \(error.reason)") }
        } else if member(f, "baseUrl") == nil {
            problem("\(path).baseUrl", "is required")
        }
        var dialect = dialects.hub
        if let a = string(member(f, "api"), "\(path).api") {
            if let d = dialects.named(a) { dialect = d } else { problem("\(path).api", "must be \(dialects.names)") }
        }
        var chat: UpstreamURL? = nil
        if let c = string(member(f, "chatCompletionsUrl"), "\(path).chatCompletionsUrl") {
            do { chat = try UpstreamURL.parse(c) } catch {
                problem("\(path).chatCompletionsUrl", "must be an absolute http(s) URL: \(error.reason)")
            }
        }
        var patterns: [PathPattern] = []
        if let list = strings(member(f, "allowedPaths"), "\(path).allowedPaths") {
            for (i, text) in list.enumerated() {
                do { patterns.append(try PathPattern(text)) } catch {
                    problem("\(path).allowedPaths[\(i)]", error.message)
                }
            }
        }
        var key: String? = nil
        var keyVariable: String? = nil
        if let k = string(member(f, "apiKey"), "\(path).apiKey") {
            (key, keyVariable) = secret(k)
        }
        let requires = bool(member(f, "requiresApiKey"), "\(path).requiresApiKey") ?? false
        let timeout = seconds(member(f, "timeoutSeconds"), "\(path).timeoutSeconds") ?? 60
        let priority = int(member(f, "priority"), "\(path).priority", min: Int.min) ?? 100
        let autoDetect = bool(member(f, "autoDetect"), "\(path).autoDetect") ?? false
        let models = strings(member(f, "models"), "\(path).models") ?? []
        for (i, m) in models.enumerated() {
            if m.isEmpty || m == "*" { problem("\(path).models[\(i)]", "must name a model or a prefix ending in '*'") }
            else if m.dropLast().contains("*") { problem("\(path).models[\(i)]", "'*' may only end a pattern") }
        }
        let nativeCost = bool(member(f, "supportsNativeUsdCost"), "\(path).supportsNativeUsdCost") ?? false
        var headers: [(String, String)] = []
        // Header names are free-form: every key of `headers` is allowed.
        let headerNames = Set(member(f, "headers")?.objectValue?.map(\.0) ?? [])
        for (name, value) in object(member(f, "headers"), "\(path).headers", allowed: headerNames) {
            if let v = string(value, "\(path).headers.\(name)") {
                if name.isEmpty || !name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }) {
                    problem("\(path).headers.\(name)", "is not a valid header name")
                } else if v.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 }) {
                    problem("\(path).headers.\(name)", "must not contain control characters")
                } else {
                    headers.append((name, secret(v).value ?? ""))
                }
            }
        }
        var think: ThinkMode? = nil
        if let t = string(member(f, "think"), "\(path).think") {
            if let m = ThinkMode(rawValue: t) { think = m } else { problem("\(path).think", "must be split, strip or off") }
        }
        let maxTokens = int(member(f, "defaultMaxTokens"), "\(path).defaultMaxTokens", min: 1) ?? 4096
        guard problems.count == before, let base else { return nil }
        let chatURL = chat ?? base.appendingPath(dialect.chatPath)
        return Provider(id: id, baseURL: base, dialect: dialect, chatCompletionsURL: chatURL, allowedPaths: AllowedPaths(patterns),
                        apiKey: key, apiKeyVariable: keyVariable, requiresApiKey: requires, timeoutSeconds: timeout,
                        priority: priority, autoDetect: autoDetect, models: models, supportsNativeUsdCost: nativeCost,
                        headers: headers, think: think, defaultMaxTokens: maxTokens)
    }
}
