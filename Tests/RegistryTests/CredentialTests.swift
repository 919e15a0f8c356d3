import Foundation
import Logging
import TestSupport
import Testing

@testable import Registry

@Suite struct CredentialTests {
    func writeConfig(_ json: String, mode: Int = 0o600) throws -> (URL, String) {
        let dir = try tempDir()
        let path = dir.appendingPathComponent("config.json").path
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, mode_t(mode))
        return (dir, path)
    }

    @Test func readsDockerConfigAuths() throws {
        let auth = Data("alice:s3cr:et".utf8).base64EncodedString()
        let hub = Data("bob:hubpass".utf8).base64EncodedString()
        let (dir, path) = try writeConfig("""
            {"auths": {"127.0.0.1:5000": {"auth": "\(auth)"},
                       "https://index.docker.io/v1/": {"auth": "\(hub)"},
                       "https://reg.example.com/v2/": {"username": "carol", "password": "pw"}}}
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = CredentialStore(environment: [:], dockerConfigPath: path)
        #expect(store.credentials(for: "127.0.0.1:5000") == Credentials(username: "alice", password: "s3cr:et"))
        #expect(store.credentials(for: "docker.io") == Credentials(username: "bob", password: "hubpass"))
        #expect(store.credentials(for: "reg.example.com") == Credentials(username: "carol", password: "pw"))
        #expect(store.credentials(for: "other:5000") == nil)
    }

    @Test func precedenceExplicitThenEnvironmentThenConfig() throws {
        let auth = Data("alice:pw".utf8).base64EncodedString()
        let (dir, path) = try writeConfig(#"{"auths": {"r:5000": {"auth": "\#(auth)"}}}"#)
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ["BERTH_REGISTRY_USER": "envuser", "BERTH_REGISTRY_PASSWORD": "envpw"]
        #expect(CredentialStore(environment: [:], dockerConfigPath: path).credentials(for: "r:5000")?.username == "alice")
        #expect(CredentialStore(environment: env, dockerConfigPath: path).credentials(for: "r:5000")?.username == "envuser")
        let explicit = Credentials(username: "flag", password: "x")
        #expect(CredentialStore(explicit: explicit, environment: env, dockerConfigPath: path).credentials(for: "r:5000") == explicit)
        #expect(CredentialStore.anonymous.credentials(for: "r:5000") == nil)
    }

    @Test func warnsAboutReadableConfigWithoutLoggingSecrets() throws {
        let auth = Data("alice:topsecret".utf8).base64EncodedString()
        let (dir, path) = try writeConfig(#"{"auths": {"r:5000": {"auth": "\#(auth)"}}}"#, mode: 0o644)
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = CapturedLog()
        let store = CredentialStore(environment: [:], dockerConfigPath: path, logger: log.logger())
        #expect(store.credentials(for: "r:5000")?.password == "topsecret")
        let text = log.text
        #expect(text.contains("readable by group or others"))
        #expect(!text.contains("topsecret"))
        #expect(!text.contains(auth))
        #expect(!"\(Credentials(username: "u", password: "topsecret"))".contains("topsecret"))
    }

    @Test func parsesChallenges() throws {
        let b = try #require(AuthChallenge.parse(
            #"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push""#))
        #expect(b.scheme == .bearer)
        #expect(b.parameters["realm"] == "https://auth.example.com/token")
        #expect(b.parameters["service"] == "registry.example.com")
        #expect(b.parameters["scope"] == "repository:a/b:pull,push")
        let basic = try #require(AuthChallenge.parse(#"Basic realm="Registry Realm""#))
        #expect(basic.scheme == .basic)
        #expect(basic.parameters["realm"] == "Registry Realm")
        let unquoted = try #require(AuthChallenge.parse("bearer realm=http://127.0.0.1:1/t, service=x"))
        #expect(unquoted.parameters["realm"] == "http://127.0.0.1:1/t")
        #expect(unquoted.parameters["service"] == "x")
        #expect(AuthChallenge.parse("Negotiate abc") == nil)
    }
}
