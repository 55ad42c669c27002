import Glibc
import ProxyCore

/// A blocking HTTP/1.1 client over one TCP connection, for tests that need control over
/// reading speed, disconnects and connection reuse.
final class TestConnection {
    struct Failure: Error, CustomStringConvertible { let description: String }

    struct Head {
        var status: Int
        var headers: HTTPHeaders
    }

    let fd: Int32
    private var buffer: [UInt8] = []
    /// Every byte received on the connection so far.
    private(set) var received = 0

    init(port: Int, timeoutSeconds: Int = 20) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(fd); throw Failure(description: "connect to \(port) failed: errno \(errno)") }
    }

    deinit { close(fd) }

    /// Makes the kernel's receive buffer small, so a slow reader pushes back quickly.
    func setReceiveBuffer(_ bytes: Int32) {
        var b = bytes
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &b, socklen_t(MemoryLayout<Int32>.size))
    }

    func sendRaw(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 && (errno == EPIPE || errno == ECONNRESET) { return }  // the server answered early and closed
            guard n > 0 else { throw Failure(description: "send failed: errno \(errno)") }
            offset += n
        }
    }

    /// Sends a request. `Content-Length` is added for a body; `Host` always.
    func sendRequest(_ method: String, _ target: String, headers: [(String, String)] = [], body: [UInt8] = []) throws {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (n, v) in headers { head += "\(n): \(v)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        try sendRaw(Array(head.utf8) + body)
    }

    func sendRequest(_ method: String, _ target: String, headers: [(String, String)] = [], json: String) throws {
        try sendRequest(method, target, headers: [("Content-Type", "application/json")] + headers, body: Array(json.utf8))
    }

    /// Reads more bytes into the buffer; false on EOF.
    private func fill(max: Int = 65536) throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: max)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
        if n == 0 { return false }
        if n < 0 {
            if errno == ECONNRESET { return false }
            throw Failure(description: "recv failed: errno \(errno)")
        }
        buffer.append(contentsOf: chunk[0..<n])
        received += n
        return true
    }

    private func take(_ n: Int) -> [UInt8] {
        let out = Array(buffer[0..<n])
        buffer.removeFirst(n)
        return out
    }

    private func line() throws -> [UInt8]? {
        while true {
            if let i = buffer.indices.first(where: { $0 + 1 < buffer.count && buffer[$0] == 13 && buffer[$0 + 1] == 10 }) {
                let l = take(i)
                _ = take(2)
                return l
            }
            guard try fill() else { return nil }
        }
    }

    func readHead() throws -> Head {
        guard let status = try line() else { throw Failure(description: "connection closed before a response") }
        let parts = String(decoding: status, as: UTF8.self).split(separator: " ")
        guard parts.count >= 2, let code = Int(parts[1]) else { throw Failure(description: "bad status line") }
        var headers = HTTPHeaders()
        while let l = try line(), !l.isEmpty {
            let s = String(decoding: l, as: UTF8.self)
            if let c = s.firstIndex(of: ":") {
                headers.add(String(s[..<c]), String(s[s.index(after: c)...]).trimmingCharacters())
            }
        }
        return Head(status: code, headers: headers)
    }

    /// The next chunk of a chunked body: its bytes, nil at the terminating chunk.
    /// Throws when the connection ends before the terminating chunk (a truncated transfer).
    func readChunk() throws -> [UInt8]? {
        guard let sizeLine = try line() else { throw Truncated() }
        let hex = String(decoding: sizeLine, as: UTF8.self).split(separator: ";")[0]
        guard let size = Int(hex, radix: 16) else { throw Failure(description: "bad chunk size '\(hex)'") }
        if size == 0 {
            _ = try line()
            return nil
        }
        while buffer.count < size + 2 { guard try fill() else { throw Truncated() } }
        let data = take(size)
        _ = take(2)
        return data
    }

    struct Truncated: Error {}

    /// Bytes already read from the socket and not yet consumed (they came with the head).
    func takeBuffered() -> [UInt8] { take(buffer.count) }

    /// Reads a whole body after `head`: chunked, by length, or to EOF.
    func readBody(_ head: Head) throws -> [UInt8] {
        if head.status == 204 || head.status == 304 || head.status < 200 { return [] }
        if head.headers["Transfer-Encoding"]?.lowercased() == "chunked" {
            var out: [UInt8] = []
            while let c = try readChunk() { out += c }
            return out
        }
        if let len = head.headers["Content-Length"].flatMap({ Int($0) }) {
            while buffer.count < len { guard try fill() else { throw Truncated() } }
            return take(len)
        }
        while try fill() {}
        return take(buffer.count)
    }

    /// Sends a request and reads the whole response.
    func exchange(_ method: String, _ target: String, headers: [(String, String)] = [], body: [UInt8] = []) throws -> (Head, [UInt8]) {
        try sendRequest(method, target, headers: headers, body: body)
        let head = try readHead()
        return (head, try readBody(head))
    }

    /// Whether the peer has closed the connection (waits up to `seconds`).
    func peerClosed(within seconds: Double) -> Bool {
        let deadline = monotonic() + seconds
        while monotonic() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 50) > 0 {
                var b: UInt8 = 0
                let n = recv(fd, &b, 1, Int32(MSG_PEEK))
                if n == 0 || n < 0 { return true }
                return false
            }
        }
        return false
    }
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}

/// One-shot request on a fresh connection.
func httpRequest(port: Int, _ method: String, _ target: String, headers: [(String, String)] = [], body: String? = nil) throws -> (TestConnection.Head, String) {
    let c = try TestConnection(port: port)
    var h = headers
    if body != nil && !h.contains(where: { $0.0.lowercased() == "content-type" }) { h.append(("Content-Type", "application/json")) }
    let (head, bytes) = try c.exchange(method, target, headers: h, body: Array((body ?? "").utf8))
    return (head, String(decoding: bytes, as: UTF8.self))
}

func monotonic() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Waits until `condition` holds, polling, for at most `seconds`. Returns whether it held.
func waitUntil(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = monotonic() + seconds
    while monotonic() < deadline {
        if condition() { return true }
        usleep(5000)
    }
    return condition()
}
