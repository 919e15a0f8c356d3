import Foundation
import Logging
import Testing

@testable import Curl

#if canImport(Glibc)
    import Glibc
#endif

/// A failed connect to a unix socket must name the socket, not the placeholder host and port
/// of the URL ("Failed to connect to localhost port 80" sent people looking for a web server).
@Suite struct UnixSocketErrorTests {
    private let client = HTTPClient(configuration: .init(retries: 0), logger: Logger(label: "curl-unix-tests"))

    private func failure(_ socketPath: String) async -> CurlError? {
        await #expect(throws: CurlError.self) {
            try await client.send(HTTPRequest(url: "http://localhost/_ping", unixSocketPath: socketPath, timeout: .seconds(5)))
        }
    }

    @Test func missingSocketSaysNoSuchFile() async throws {
        let path = NSTemporaryDirectory() + "berth-missing-\(UUID().uuidString).sock"
        let error = try #require(await failure(path))
        #expect(error.kind == .couldNotConnect)
        #expect(error.message == "cannot connect to unix socket \(path): no such file")
        #expect(!error.description.contains("port 80"))
        #expect(error.description.contains("the socket exists"))
    }

    @Test func regularFileIsNotASocket() async throws {
        let path = NSTemporaryDirectory() + "berth-not-a-socket-\(UUID().uuidString)"
        try Data("x".utf8).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        let error = try #require(await failure(path))
        #expect(error.kind == .couldNotConnect)
        #expect(error.message.contains("\(path): it exists but is not a socket"))
    }

    @Test func socketWithoutListenerIsRefused() async throws {
        let path = NSTemporaryDirectory() + "berth-refused-\(UUID().uuidString.prefix(8)).sock"
        // Bound but never listening: connect(2) gets ECONNREFUSED, as with a dead dockerd
        // that left its socket file behind.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd); unlink(path) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)
        let error = try #require(await failure(path))
        #expect(error.kind == .couldNotConnect)
        #expect(error.message == "cannot connect to unix socket \(path): connection refused (the socket exists but nothing listens on it)")
    }

    @Test func wordingWithoutTheFilesystem() {
        #expect(Transfer.unixSocketFailure(path: "/nonexistent/d.sock", errno: ENOENT)
            == "cannot connect to unix socket /nonexistent/d.sock: no such file")
    }
}
