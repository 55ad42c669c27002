import CLibevent
import Glibc

/// A bound, listening TCP socket descriptor.
public struct ListeningSocket: Sendable {
    public let fd: Int32
    /// The port actually bound (useful after binding port 0).
    public let port: Int

    /// Why a socket could not be set up, with the errno text.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Binds and listens on `host:port` (port 0 picks a free port). The socket is proxyd's alone:
    /// no `SO_REUSEPORT`, so a port another process listens on is an error here (EADDRINUSE),
    /// and no other process can join this one. proxyd's own loops share the one descriptor.
    public static func bind(host: String, port: Int) throws(Failure) -> ListeningSocket {
        let isV6 = host.contains(":")
        let fd = socket(isV6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var rc: Int32
        if isV6 {
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, host, &addr.sin6_addr) == 1 else {
                close(fd); throw Failure(description: "'\(host)' is not an IP address")
            }
            rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        } else {
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            let name = host == "localhost" ? "127.0.0.1" : host
            guard inet_pton(AF_INET, name, &addr.sin_addr) == 1 else {
                close(fd); throw Failure(description: "'\(host)' is not an IP address")
            }
            rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        guard rc == 0 else {
            let code = errno
            let e = String(cString: strerror(code)); close(fd)
            throw Failure(description: "bind \(host):\(port): \(e)" + (code == EADDRINUSE ? " (another process listens on this port)" : ""))
        }
        guard listen(fd, 1024) == 0 else {
            let e = String(cString: strerror(errno)); close(fd)
            throw Failure(description: "listen: \(e)")
        }
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let bound: UInt16 = withUnsafePointer(to: &storage) { p in
            isV6 ? p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
                 : p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
        return ListeningSocket(fd: fd, port: Int(bound))
    }
}
