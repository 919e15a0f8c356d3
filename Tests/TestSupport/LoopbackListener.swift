import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A listening TCP socket on 127.0.0.1 with a port the kernel picks, for the small servers
/// and proxies tests start.
public enum LoopbackListener {
    /// Returns the listening descriptor and its port, or nil when bind/listen failed.
    public static func open(backlog: Int32 = 16) -> (fd: Int32, port: Int)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && listen(fd, backlog) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        guard ok else { close(fd); return nil }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }

    /// Starts a thread that accepts connections on `fd` until it is shut down, serving each on
    /// a thread of its own; `serve` owns the connection and closes it.
    public static func serveEach(_ fd: Int32, _ serve: @escaping @Sendable (Int32) -> Void) {
        Thread {
            while true {
                let c = accept(fd, nil, nil)
                if c < 0 {
                    if errno == EINTR { continue }
                    return
                }
                Thread { serve(c) }.start()
            }
        }.start()
    }
}
