import Foundation
import Testing
import TestSupport

@testable import Registry

/// A tiny loopback token service for the registry's `auth: token:` mode: checks basic
/// credentials, grants the requested scopes in an RS256 JWT signed with a throw-away key whose
/// self-signed certificate travels in `x5c` and is the registry's root bundle.
final class TokenServer: @unchecked Sendable {
    let fd: Int32
    let port: Int
    let dir: URL
    let certDER: String
    static let issuer = "berth-test-issuer"
    static let service = "berth-test-registry"
    private let lock = NSLock()
    private var _requests: [String] = []
    var requests: [String] { lock.withLock { _requests } }

    init(dir: URL) throws {
        self.dir = dir
        let key = dir.appendingPathComponent("key.pem").path
        let cert = dir.appendingPathComponent("cert.pem").path
        let r = try run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
            "-days", "1", "-subj", "/CN=berth-token"])
        guard r.status == 0 else { throw RegistryError(.io, "openssl req failed: \(r.err)") }
        let pem = try String(contentsOfFile: cert, encoding: .utf8)
        certDER = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()

        guard let listener = LoopbackListener.open(backlog: 16) else { throw RegistryError(.io, "token server: bind failed") }
        fd = listener.fd
        port = listener.port
        let t = Thread { [self] in serve() }
        t.start()
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    private func serve() {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 { return }
            handle(c)
            close(c)
        }
    }

    private func handle(_ c: Int32) {
        var data = Data()
        var buf = [UInt8](repeating: 0, count: 4096)
        while !data.contains("\r\n\r\n".data(using: .utf8)!) {
            let n = read(c, &buf, buf.count)
            if n <= 0 { return }
            data.append(contentsOf: buf[0..<n])
        }
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        let target = lines[0].split(separator: " ").dropFirst().first.map(String.init) ?? ""
        lock.withLock { _requests.append(target) }
        let auth = lines.first { $0.lowercased().hasPrefix("authorization:") }
            .map { String($0.dropFirst("authorization:".count)).trimmingCharacters(in: .whitespaces) }
        let expected = "Basic " + Data("\(BasicAuthRegistry.user):\(BasicAuthRegistry.password)".utf8).base64EncodedString()
        var status = "401 Unauthorized"
        var body = #"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#
        if auth == expected, let token = try? makeToken(scopes: URLComponents(string: target)?.queryItems?
            .filter { $0.name == "scope" }.compactMap(\.value) ?? [])
        {
            status = "200 OK"
            body = #"{"token":"\#(token)","expires_in":300}"#
        }
        let response = "HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
            + "Connection: close\r\n\r\n\(body)"
        _ = response.withCString { write(c, $0, strlen($0)) }
    }

    private func b64url(_ d: Data) -> String {
        d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private func makeToken(scopes: [String]) throws -> String {
        let access = scopes.compactMap { scope -> [String: Any]? in
            let parts = scope.split(separator: ":")
            guard parts.count == 3 else { return nil }
            return ["type": String(parts[0]), "name": String(parts[1]),
                "actions": parts[2].split(separator: ",").map(String.init)]
        }
        let now = Int(Date().timeIntervalSince1970)
        let header: [String: Any] = ["typ": "JWT", "alg": "RS256", "x5c": [certDER]]
        let claims: [String: Any] = ["iss": Self.issuer, "sub": BasicAuthRegistry.user, "aud": Self.service,
            "exp": now + 300, "nbf": now - 10, "iat": now, "jti": UUID().uuidString, "access": access]
        let signingInput = b64url(try JSONSerialization.data(withJSONObject: header)) + "."
            + b64url(try JSONSerialization.data(withJSONObject: claims))
        let inputPath = dir.appendingPathComponent("input-\(UUID().uuidString)").path
        try Data(signingInput.utf8).write(to: URL(fileURLWithPath: inputPath))
        let sigPath = inputPath + ".sig"
        let r = try run(["openssl", "dgst", "-sha256", "-sign", dir.appendingPathComponent("key.pem").path,
            "-out", sigPath, inputPath])
        guard r.status == 0 else { throw RegistryError(.io, "openssl dgst failed: \(r.err)") }
        return signingInput + "." + b64url(try Data(contentsOf: URL(fileURLWithPath: sigPath)))
    }
}

/// A registry with token auth pointing at a `TokenServer`.
final class TokenAuthRegistry {
    let dir: URL
    let process = Process()
    let address: String
    let tokens: TokenServer

    init() throws {
        dir = try tempDir()
        tokens = try TokenServer(dir: dir)
        address = "127.0.0.1:\(try freePort())"
        let config = """
            version: 0.1
            log:
              level: error
            storage:
              filesystem:
                rootdirectory: \(dir.path)/data
            http:
              addr: \(address)
            auth:
              token:
                realm: http://127.0.0.1:\(tokens.port)/token
                service: \(TokenServer.service)
                issuer: \(TokenServer.issuer)
                rootcertbundle: \(dir.path)/cert.pem
            """
        try Data(config.utf8).write(to: dir.appendingPathComponent("config.yml"))
        process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
        process.arguments = ["serve", dir.appendingPathComponent("config.yml").path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 {
            let r = try run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://\(address)/v2/"])
            if r.out == "401" { return }
            usleep(50_000)
        }
        stop()
        throw RegistryError(.io, "the token-auth registry did not start on \(address)")
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        tokens.stop()
        try? FileManager.default.removeItem(at: dir)
    }
}

@Suite(.serialized) struct BearerAuthTests {
    @Test func tokenAuthPushAndTokenCaching() async throws {
        let registry = try TokenAuthRegistry()
        defer { registry.stop() }
        let ref = try uniqueRef("bearer", registry: registry.address)

        let wrong = CredentialStore(explicit: Credentials(username: BasicAuthRegistry.user, password: "wrong"),
            environment: [:], dockerConfigPath: nil)
        do {
            _ = try await makeClient(credentials: wrong).push(saveTarball: busyboxTarball, to: ref)
            Issue.record("pushed with wrong credentials")
        } catch let e as RegistryError {
            #expect(e.kind == .unauthorized)
            #expect(e.description.contains("refused the credentials"))
            #expect(e.codes == ["UNAUTHORIZED"])
        }

        let good = CredentialStore(explicit: Credentials(username: BasicAuthRegistry.user, password: BasicAuthRegistry.password),
            environment: [:], dockerConfigPath: nil)
        let before = registry.tokens.requests.count
        let client = makeClient(credentials: good)
        let r = try await client.push(saveTarball: busyboxTarball, to: ref)
        #expect(r.blobsUploaded == 2)
        let requests = registry.tokens.requests.dropFirst(before)
        // Tokens are cached per scope: a push of ~8 registry requests needs only a couple.
        #expect(requests.count >= 1 && requests.count <= 3, "\(requests)")
        #expect(requests.contains { $0.contains("scope=repository%3Aberth-test%2F") || $0.contains("scope=repository:berth-test/") })
        #expect(requests.allSatisfy { $0.contains("service=\(TokenServer.service)") })
        let inspected = try skopeoInspect(ref, creds: "\(BasicAuthRegistry.user):\(BasicAuthRegistry.password)")
        #expect(inspected.Digest == r.digest)
        // The same client pushing again reuses its tokens.
        let count = registry.tokens.requests.count
        let again = try await client.push(saveTarball: busyboxTarball, to: ref)
        #expect(again.bytesUploaded == 0)
        #expect(registry.tokens.requests.count == count)
    }
}
