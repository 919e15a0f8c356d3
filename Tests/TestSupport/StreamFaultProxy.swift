import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A byte-level proxy for reliability tests: it sits between Berth and a real service (the
/// registry, a git server, the engine's unix socket) and, on demand, goes down, resets
/// connections every N bytes, delays traffic, or dies when it sees a given request.
///
/// Unlike the registry's request-level proxy in RegistryTests it does not parse HTTP, so it
/// works for any protocol and for keep-alive connections; its faults are the ones a network
/// or a crashing daemon produces.
public final class StreamFaultProxy: @unchecked Sendable {
    public enum Endpoint: Sendable {
        case tcp(port: Int)
        case unix(path: String)
    }

    /// What goes wrong. Change it while traffic flows with `set(_:)`.
    public struct Faults: Sendable {
        /// Refuse new connections (accept, then reset) and cut the open ones.
        public var down = false
        /// Reset the connection that carries the byte crossing every this many bytes sent by
        /// clients (counted over all connections, so retries make progress).
        public var resetEveryBytes: Int?
        /// Wait this long before forwarding each chunk, in either direction.
        public var delay: Duration?
        /// Go down (as `down`) as soon as a client sends bytes containing this text, without
        /// forwarding them: a daemon dying in the middle of a request.
        public var dieOn: String?
        public init() {}
    }

    public let endpoint: Endpoint
    private let upstream: Endpoint
    private let listenFD: Int32
    private let lock = NSLock()
    private var faults = Faults()
    private var live: Set<Int32> = []
    private var counted = 0
    private var _resets = 0
    private var _connections = 0
    private var _died = false
    private var stopped = false

    /// TCP: `address` is "127.0.0.1:<port>". Unix: the socket path.
    public var address: String {
        switch endpoint {
        case .tcp(let port): return "127.0.0.1:\(port)"
        case .unix(let path): return path
        }
    }
    /// Connections reset by a fault (including those refused while down).
    public var resets: Int { lock.withLock { _resets } }
    public var connections: Int { lock.withLock { _connections } }
    /// Whether `dieOn` fired.
    public var died: Bool { lock.withLock { _died } }

    /// Listens on a kernel-chosen loopback port, or on `unixPath` when given, and forwards to
    /// `upstream`.
    public init(upstream: Endpoint, unixPath: String? = nil) throws {
        self.upstream = upstream
        if let unixPath {
            unlink(unixPath)
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0, Self.withUnixAddress(unixPath, { bind(fd, $0, $1) == 0 }), listen(fd, 64) == 0 else {
                throw ProxyError("cannot listen on \(unixPath): \(String(cString: strerror(errno)))")
            }
            listenFD = fd
            endpoint = .unix(path: unixPath)
        } else {
            guard let l = LoopbackListener.open(backlog: 64) else { throw ProxyError("cannot listen on 127.0.0.1") }
            listenFD = l.fd
            endpoint = .tcp(port: l.port)
        }
        Thread { [self] in acceptLoop() }.start()
    }

    deinit { stop() }

    public func set(_ change: (inout Faults) -> Void) {
        lock.withLock {
            change(&faults)
            if faults.dieOn == nil { _died = false }
            // Under the lock: a descriptor in `live` is still open.
            if faults.down { for fd in live { shutdown(fd, Int32(SHUT_RDWR)) } }
        }
    }

    public func stop() {
        let wasStopped = lock.withLock { () -> Bool in
            defer { stopped = true }
            if !stopped { for fd in live { shutdown(fd, Int32(SHUT_RDWR)) } }
            return stopped
        }
        guard !wasStopped else { return }
        shutdown(listenFD, Int32(SHUT_RDWR))
        close(listenFD)
        if case .unix(let path) = endpoint { unlink(path) }
    }

    public struct ProxyError: Error, CustomStringConvertible {
        public var description: String
        init(_ d: String) { description = "fault proxy: \(d)" }
    }

    // MARK: plumbing

    private func acceptLoop() {
        while true {
            let c = accept(listenFD, nil, nil)
            if c < 0 {
                if errno == EINTR { continue }
                return
            }
            let refuse: Bool = lock.withLock {
                _connections += 1
                if faults.down || stopped { _resets += 1; return true }
                live.insert(c)
                return false
            }
            if refuse { Self.reset(c); continue }
            Thread { [self] in pump(c) }.start()
        }
    }

    private func pump(_ client: Int32) {
        let server = connectUpstream()
        // Leave the live set before closing, so `set` never shuts down a reused descriptor.
        func finish(reset: Bool) {
            lock.withLock { _ = live.remove(client) }
            if reset { Self.reset(client) } else { close(client) }
            if server >= 0 { close(server) }
        }
        guard server >= 0 else { finish(reset: true); return }
        var fds = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: server, events: Int16(POLLIN), revents: 0)]
        var buf = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            fds[0].revents = 0
            fds[1].revents = 0
            if poll(&fds, 2, -1) < 0 {
                if errno == EINTR { continue }
                finish(reset: false)
                return
            }
            for (i, from, to) in [(0, client, server), (1, server, client)] where fds[i].revents != 0 {
                let n = read(from, &buf, buf.count)
                // One side finished or failed: end both, as the daemon would.
                if n <= 0 { finish(reset: false); return }
                var chunk = Array(buf[0..<n])
                let (reset, delay) = decide(fromClient: i == 0, chunk: &chunk)
                if let delay { Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18) }
                if !chunk.isEmpty && !writeAll(to, chunk) { finish(reset: false); return }
                if reset { finish(reset: true); return }
            }
        }
    }

    /// Applies the faults to a chunk a client sent (or the server answered): returns whether
    /// to reset the connection after forwarding what is left of the chunk.
    private func decide(fromClient: Bool, chunk: inout [UInt8]) -> (reset: Bool, delay: Duration?) {
        lock.withLock {
            if faults.down { chunk = []; _resets += 1; return (true, nil) }
            guard fromClient else { return (false, faults.delay) }
            if let needle = faults.dieOn, String(decoding: chunk, as: UTF8.self).contains(needle) {
                faults.down = true
                _died = true
                _resets += 1
                chunk = []
                for fd in live { shutdown(fd, Int32(SHUT_RDWR)) }
                return (true, nil)
            }
            if let every = faults.resetEveryBytes, every > 0, counted + chunk.count >= every {
                // Forward up to the boundary, then reset: the client sees a body cut mid-way.
                let keep = max(0, every - counted)
                chunk = Array(chunk.prefix(keep))
                counted = 0
                _resets += 1
                return (true, faults.delay)
            }
            counted += chunk.count
            return (false, faults.delay)
        }
    }

    private func connectUpstream() -> Int32 {
        switch upstream {
        case .tcp(let port):
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = UInt16(port).bigEndian
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            if !ok { close(fd); return -1 }
            return fd
        case .unix(let path):
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            if !Self.withUnixAddress(path, { connect(fd, $0, $1) == 0 }) { close(fd); return -1 }
            return fd
        }
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return true }
            var off = 0
            while off < raw.count {
                let n = send(fd, base + off, raw.count - off, Int32(MSG_NOSIGNAL))
                if n <= 0 { return false }
                off += n
            }
            return true
        }
    }

    /// Closes with RST (SO_LINGER 0) so the peer sees "connection reset", not a clean end.
    private static func reset(_ fd: Int32) {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        close(fd)
    }

    private static func withUnixAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Bool) -> Bool {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return false }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
