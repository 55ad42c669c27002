/// The text `proxyd check` prints for a valid configuration.
public enum ConfigurationSummary {
    public static func render(_ c: Configuration) -> String {
        var lines = ["configuration OK", "listen: \(c.server.listenHost):\(c.server.listenPort)",
                     "workers: \(c.server.workers == 0 ? "one per core" : String(c.server.workers))",
                     "providers (\(c.providers.count)):"]
        for p in c.providers {
            let key = p.apiKey != nil ? "key set" : (p.apiKeyVariable.map { "no key (\($0) unset)" } ?? "no key")
            let paths = p.allowedPaths.patterns.map(\.text).joined(separator: " ")
            lines.append("  \(p.id): \(p.dialect.name) \(p.baseURL) priority \(p.priority), \(key), allowedPaths: \(paths.isEmpty ? "none" : paths)")
        }
        lines.append("generic proxy: \(c.genericProxy.enabled ? "on, hosts: " + c.genericProxy.allowedHosts.entries.map(\.text).joined(separator: " ") : "off")")
        lines.append("proxy keys: \(c.authKeys.isEmpty ? "none (open)" : "\(c.authKeys.count) configured")")
        lines.append("debug routes: \(c.debugRoutes ? "on" : "off")")
        lines.append("routes: /healthz /readyz /metrics /openapi.json /v1/models /v1/chat/completions /proxy/{base_url}/v1/chat/completions /provider/{id}/v1/chat/completions /debug/{provider}/{rest} /{provider}/{rest}")
        return lines.joined(separator: "\n")
    }
}
