import Foundation
import Logging
import TestSupport
import Testing

@testable import Curl

/// A throw-away CA, server and client certificate, and `openssl s_server` requiring a client
/// certificate, as a TCP+TLS Docker endpoint does.
private struct TLSFixture {
    let dir: URL
    let port: Int
    let server: Process

    static func make() throws -> TLSFixture {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-tls"))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let script = """
            set -e
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=berth-test-ca
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1
            printf 'subjectAltName=IP:127.0.0.1\\n' > server.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext
            openssl req -newkey rsa:2048 -nodes -keyout key.pem -out client.csr -subj /CN=berth-client
            printf 'extendedKeyUsage=clientAuth\\n' > client.ext
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 2 -extfile client.ext
            """
        let gen = Process()
        gen.executableURL = URL(fileURLWithPath: "/bin/sh")
        gen.arguments = ["-c", script]
        gen.currentDirectoryURL = dir
        gen.standardOutput = FileHandle.nullDevice
        gen.standardError = FileHandle.nullDevice
        try gen.run()
        gen.waitUntilExit()
        guard gen.terminationStatus == 0 else { throw FixtureError.openssl }

        let port = try freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        server.arguments = [
            "s_server", "-accept", "127.0.0.1:\(port)", "-cert", "server.pem", "-key", "server.key",
            "-CAfile", "ca.pem", "-Verify", "1", "-www", "-quiet",
        ]
        server.currentDirectoryURL = dir
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        return TLSFixture(dir: dir, port: port, server: server)
    }

    enum FixtureError: Error { case openssl, port }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        guard ok else { throw FixtureError.port }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func stop() {
        // SIGKILL: s_server started from the test process does not die on SIGTERM here.
        kill(server.processIdentifier, SIGKILL)
        server.waitUntilExit()
        try? FileManager.default.removeItem(at: dir)
    }
}

@Suite struct TLSTests {
    @Test func caFileClientCertificateAndInsecure() async throws {
        let fx = try TLSFixture.make()
        defer { fx.stop() }
        let logger = Logger(label: "tls-test")
        let url = "https://127.0.0.1:\(fx.port)/"
        let request = HTTPRequest(url: url, timeout: .seconds(10))

        func get(_ config: HTTPClient.Configuration) async throws -> HTTPResponse {
            try await HTTPClient(configuration: config, logger: logger).send(request)
        }

        // Wait for s_server to listen.
        var ready = false
        for _ in 0..<50 {
            do {
                _ = try await get(.init(insecure: true))
            } catch let e as CurlError where e.kind == .couldNotConnect {
                try await Task.sleep(for: .milliseconds(100))
                continue
            } catch {}
            ready = true
            break
        }
        try #require(ready)

        // The system CAs do not know our CA.
        let untrusted = await #expect(throws: CurlError.self) {
            try await get(.init(clientCertificateFile: fx.path("cert.pem"), clientKeyFile: fx.path("key.pem")))
        }
        #expect(untrusted?.kind == .tls)

        // Trusted CA and client certificate: the server answers.
        let ok = try await get(
            .init(caFile: fx.path("ca.pem"), clientCertificateFile: fx.path("cert.pem"), clientKeyFile: fx.path("key.pem")))
        #expect(ok.status == 200)
        #expect(ok.text.contains("s_server"))

        // Insecure skips server verification but still presents the client certificate.
        let insecure = try await get(
            .init(clientCertificateFile: fx.path("cert.pem"), clientKeyFile: fx.path("key.pem"), insecure: true))
        #expect(insecure.status == 200)

        // Without a client certificate the server refuses the handshake.
        await #expect(throws: CurlError.self) { try await get(.init(caFile: fx.path("ca.pem"))) }
    }
}
