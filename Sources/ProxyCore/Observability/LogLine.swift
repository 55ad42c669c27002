/// Renders one JSON log line: `ts`, `level`, `msg`, then the given fields.
public enum LogLine {
    /// - Parameters:
    ///   - timestamp: RFC 3339 time, passed in (ProxyCore reads no clock).
    public static func render(timestamp: String, level: LogLevel, message: String, fields: [(String, JSONValue)]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        let value = JSONValue.object([("ts", .string(timestamp)), ("level", .string(level.rawValue)), ("msg", .string(message))] + fields)
        value.encode(into: &out)
        out.append(0x0A)
        return out
    }
}
