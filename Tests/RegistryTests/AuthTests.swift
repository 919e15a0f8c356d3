import Foundation
import Testing
import TestSupport

@testable import Registry

/// A free TCP port on loopback (bound, read, released).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw RegistryError(.io, "socket failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
        }
    }
    guard ok else { throw RegistryError(.io, "bind failed") }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// A registry of its own on a free loopback port, optionally with htpasswd basic auth; fresh
/// storage, so nothing can be skipped or mounted from earlier runs.
final class ScratchRegistry {
    let dir: URL
    let process = Process()
    let address: String

    init(basicAuth: Bool) throws {
        dir = try tempDir()
        var auth = ""
        if basicAuth {
            let hash = try run(["htpasswd", "-Bbn", BasicAuthRegistry.user, BasicAuthRegistry.password])
            guard hash.status == 0 else { throw RegistryError(.io, "htpasswd failed: \(hash.err)") }
            try Data(hash.out.utf8).write(to: dir.appendingPathComponent("htpasswd"))
            auth = """

                auth:
                  htpasswd:
                    realm: berth-test
                    path: \(dir.path)/htpasswd
                """
        }
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
            """ + auth
        try Data(config.utf8).write(to: dir.appendingPathComponent("config.yml"))
        process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
        process.arguments = ["serve", dir.appendingPathComponent("config.yml").path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 {
            let r = try run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://\(address)/v2/"])
            if r.out == (basicAuth ? "401" : "200") { return }
            usleep(50_000)
        }
        stop()
        throw RegistryError(.io, "the scratch registry did not start on \(address)")
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: dir)
    }
}

enum BasicAuthRegistry {
    static let user = "berth"
    static let password = "s3cret-pw"
}

@Suite(.serialized) struct BasicAuthTests {
    @Test func goodWrongAndMissingCredentials() async throws {
        let registry = try ScratchRegistry(basicAuth: true)
        defer { registry.stop() }
        let ref = try uniqueRef("auth", registry: registry.address)

        // No credentials: a clear error naming where credentials come from.
        do {
            _ = try await makeClient().push(saveTarball: busyboxTarball, to: ref)
            Issue.record("pushed without credentials")
        } catch let e as RegistryError {
            #expect(e.kind == .unauthorized)
            #expect(e.description.contains("BERTH_REGISTRY_USER"))
            #expect(e.description.contains(registry.address))
        }

        // Wrong password.
        let wrong = CredentialStore(explicit: Credentials(username: BasicAuthRegistry.user, password: "nope"),
            environment: [:], dockerConfigPath: nil)
        do {
            _ = try await makeClient(credentials: wrong).push(saveTarball: busyboxTarball, to: ref)
            Issue.record("pushed with a wrong password")
        } catch let e as RegistryError {
            #expect(e.kind == .unauthorized)
            #expect(!e.description.contains("nope"))
        }

        // Right credentials, from the environment variables.
        let good = CredentialStore(
            environment: ["BERTH_REGISTRY_USER": BasicAuthRegistry.user, "BERTH_REGISTRY_PASSWORD": BasicAuthRegistry.password],
            dockerConfigPath: nil)
        let r = try await makeClient(credentials: good).push(saveTarball: busyboxTarball, to: ref)
        #expect(r.blobsUploaded == 2)
        let inspected = try skopeoInspect(ref, creds: "\(BasicAuthRegistry.user):\(BasicAuthRegistry.password)")
        #expect(inspected.Digest == r.digest)
        #expect(try await makeClient(credentials: good).manifestDigest(of: ref) == r.digest)

        // And from a docker config.json.
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let auth = Data("\(BasicAuthRegistry.user):\(BasicAuthRegistry.password)".utf8).base64EncodedString()
        let path = dir.appendingPathComponent("config.json").path
        try Data(#"{"auths":{"\#(registry.address)":{"auth":"\#(auth)"}}}"#.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
        let fromConfig = CredentialStore(environment: [:], dockerConfigPath: path)
        #expect(try await makeClient(credentials: fromConfig).manifestDigest(of: ref) == r.digest)
    }
}
