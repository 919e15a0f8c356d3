import Curl
import Foundation
import Testing
import TestSupport

@testable import Registry

/// The registries `ops/registries` runs beside the anonymous one: htpasswd auth and TLS with a
/// private CA. Their addresses, user, password and CA come from `$STATE/registries.env`.
struct OpsRegistries {
    var authRegistry: String
    var user: String
    var password: String
    var tlsRegistry: String
    var caFile: String

    static func load() throws -> OpsRegistries {
        let path = OpsSettings.path("registries")
        guard let env = OpsSettings.read("registries") else {
            throw RegistryError(.io, "\(path) is missing: the auth and TLS test registries are not running",
                hint: "Run ops/registries start (ops/setup does)")
        }
        guard let a = env["AUTH_REGISTRY"], let u = env["AUTH_USER"], let p = env["AUTH_PASSWORD"],
            let t = env["TLS_REGISTRY"], let ca = env["TLS_CA"]
        else { throw RegistryError(.io, "\(path) lacks a field", hint: "Run ops/registries start again") }
        return OpsRegistries(authRegistry: a, user: u, password: p, tlsRegistry: t, caFile: ca)
    }

    func credentials(password: String? = nil) -> CredentialStore {
        CredentialStore(explicit: Credentials(username: user, password: password ?? self.password), environment: [:],
            dockerConfigPath: nil)
    }
}

/// The docker CLI first on PATH, off the cooperative pool.
func docker(_ args: [String]) async throws -> Shell.Result { try await Shell.run("/usr/bin/env", ["docker"] + args) }

func tlsClient(caFile: String?, credentials: CredentialStore = .anonymous) -> RegistryClient {
    let logger = testLogger()
    return RegistryClient(http: HTTPClient(configuration: HTTPClient.Configuration(caFile: caFile), logger: logger),
        credentials: credentials, logger: logger)
}

@Suite(.serialized) struct OpsRegistryTests {
    @Test func htpasswdRegistryRightAndWrongPassword() async throws {
        let ops = try OpsRegistries.load()
        let ref = try uniqueRef("htpasswd", registry: ops.authRegistry)

        // Wrong password: 401 with the registry's code, naming the registry and the user; nothing stored.
        do {
            _ = try await makeClient(credentials: ops.credentials(password: "wrong-password")).push(
                saveTarball: busyboxTarball, to: ref)
            Issue.record("pushed with a wrong password")
        } catch let e as RegistryError {
            #expect(e.kind == .unauthorized)
            #expect(e.codes == ["UNAUTHORIZED"])
            let text = e.description
            #expect(text.contains("401"), "\(text)")
            #expect(text.contains("UNAUTHORIZED"), "\(text)")
            #expect(text.contains("\(ops.authRegistry) refused the credentials of user \(ops.user)"), "\(text)")
            #expect(!text.contains("wrong-password"))
        }
        let good = makeClient(credentials: ops.credentials())
        #expect(try await good.manifestDigest(of: ref) == nil)

        // Right password: pushed; what a plain GET with the credentials serves is what was pushed.
        let r = try await good.push(saveTarball: busyboxTarball, to: ref)
        #expect(r.blobsUploaded == 2)
        let get = try run(["curl", "-fsS", "-u", "\(ops.user):\(ops.password)", "-H",
            "Accept: \(ManifestFormat.docker.manifestMediaType)",
            "http://\(ops.authRegistry)/v2/\(ref.repository)/manifests/\(ref.tag ?? "")"])
        #expect(get.status == 0, "\(get.err)")
        #expect(Digest.of(Data(get.out.utf8)) == r.digest)
        // Without credentials the registry keeps it to itself.
        let anonymous = try run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
            "http://\(ops.authRegistry)/v2/\(ref.repository)/manifests/\(ref.tag ?? "")"])
        #expect(anonymous.out == "401")

        // The re-push from the cache authenticates as well, with HEAD requests only.
        let cacheDir = try tempDir()
        defer { try? FileManager.default.removeItem(at: cacheDir) }
        let cached = try await makeClient(credentials: ops.credentials()).push(saveTarball: busyboxTarball, to: ref,
            cache: BlobCache(directory: cacheDir))
        let again = try await makeClient(credentials: ops.credentials()).repush(imageID: cached.configDigest, to: ref,
            cache: BlobCache(directory: cacheDir))
        #expect(again?.digest == r.digest)
        await #expect {
            try await makeClient(credentials: ops.credentials(password: "wrong-password")).repush(
                imageID: cached.configDigest, to: ref, cache: BlobCache(directory: cacheDir))
        } throws: { e in
            (e as? RegistryError)?.kind == .unauthorized && "\(e)".contains("refused the credentials")
        }
    }

    @Test func tlsRegistryWithThePrivateCAAndWithout() async throws {
        let ops = try OpsRegistries.load()
        let ref = try uniqueRef("tls", registry: ops.tlsRegistry)

        // Without the CA: a TLS error that says to pass it; nothing stored.
        do {
            _ = try await tlsClient(caFile: nil).push(saveTarball: busyboxTarball, to: ref)
            Issue.record("pushed to a registry whose CA is not trusted")
        } catch let e as RegistryError {
            #expect(e.kind == .transport)
            #expect(e.underlying?.kind == .tls, "\(e)")
            #expect(e.description.contains("https://\(ops.tlsRegistry)/v2/"), "\(e)")
            #expect(e.description.contains("--ca-file"), "\(e)")
        }

        let client = tlsClient(caFile: ops.caFile)
        #expect(try await client.manifestDigest(of: ref) == nil)
        let r = try await client.push(saveTarball: busyboxTarball, to: ref)
        #expect(r.blobsUploaded == 2)
        #expect(try await client.manifestDigest(of: ref) == r.digest)
        for layer in r.layers {
            let served = try run(["sh", "-c",
                "curl -fsS --cacert '\(ops.caFile)' https://\(ops.tlsRegistry)/v2/\(ref.repository)/blobs/\(layer.digest) | sha256sum"])
            #expect("sha256:" + (served.out.split(separator: " ").first.map(String.init) ?? "") == layer.digest)
        }
        // The engine trusts the CA too (ops/registries put it in /etc/docker/certs.d).
        let pinned = r.pinnedReference
        let pull = try await docker(["pull", pinned])
        #expect(pull.status == 0, "\(pull.stderr)")
        let ran = try await docker(["run", "--rm", "--label", "dev.berth.test=1", pinned,
            "sh", "-c", "echo pulled-over-tls"])
        #expect(ran.stdout.contains("pulled-over-tls"), "\(ran.stderr)")
        _ = try await docker(["rmi", pinned])
    }
}

@Suite(.serialized) struct DockerPullTests {
    /// What berth pushed, docker pulls by tag and by digest (checking every layer against the
    /// config's diff-ids), and the image runs.
    @Test func dockerPullsByTagAndByDigestAndRuns() async throws {
        let ref = try uniqueRef("pull")
        let r = try await makeClient().push(saveStream: chunkedStream(busyboxTarball), image: busyboxImage, to: ref)
        let tagged = ref.description
        let pinned = r.pinnedReference
        #expect(pinned.hasPrefix("\(testRegistry)/\(ref.repository)@sha256:"))
        defer {
            _ = try? Shell.runBlocking("/usr/bin/env", ["docker", "rmi", tagged])
            _ = try? Shell.runBlocking("/usr/bin/env", ["docker", "rmi", pinned])
        }
        for name in [tagged, pinned] {
            let pull = try await docker(["pull", name])
            #expect(pull.status == 0, "docker pull \(name): \(pull.stderr)")
            let id = try await docker(["image", "inspect", "-f", "{{.Id}}", name])
            #expect(id.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == r.configDigest)
            let ran = try await docker(["run", "--rm", "--label", "dev.berth.test=1", name,
                "sh", "-c", "echo ran-\(r.digest.suffix(8))"])
            #expect(ran.stdout.contains("ran-\(r.digest.suffix(8))"), "docker run \(name): \(ran.stderr)")
        }
        let digests = try await docker(["image", "inspect", "-f", "{{join .RepoDigests \" \"}}", tagged])
        #expect(digests.stdout.contains(pinned))
    }
}
