import Glibc
import ProxyCore

/// Writes JSON log lines to stderr. Each line is one `write(2)`, so lines from different loops
/// never interleave.
public final class Logger: Sendable {
    public let level: LogLevel
    public let accessLog: Bool
    let fd: Int32

    public init(level: LogLevel, accessLog: Bool = true, fd: Int32 = 2) {
        self.level = level
        self.accessLog = accessLog
        self.fd = fd
    }

    public func log(_ level: LogLevel, _ message: String, _ fields: [(String, JSONValue)] = [], always: Bool = false) {
        guard always || level >= self.level else { return }
        let line = LogLine.render(timestamp: Logger.timestamp(), level: level, message: message, fields: fields)
        line.withUnsafeBytes { buf in
            var offset = 0
            while offset < buf.count {
                let n = write(fd, buf.baseAddress! + offset, buf.count - offset)
                if n <= 0 { if errno == EINTR { continue }; return }
                offset += n
            }
        }
    }

    public func debug(_ m: String, _ f: [(String, JSONValue)] = []) { log(.debug, m, f) }
    public func info(_ m: String, _ f: [(String, JSONValue)] = []) { log(.info, m, f) }
    public func warn(_ m: String, _ f: [(String, JSONValue)] = []) { log(.warn, m, f) }
    public func error(_ m: String, _ f: [(String, JSONValue)] = []) { log(.error, m, f) }

    /// Now, as RFC 3339 UTC with milliseconds.
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(ts.tv_nsec / 1_000_000), 3))Z"
    }
}
