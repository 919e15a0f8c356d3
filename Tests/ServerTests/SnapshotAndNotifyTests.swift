import Engine
import Foundation
import GitSource
import Hummingbird
import HummingbirdTesting
import Logging
@testable import Server
import Store
import TestSupport
import Testing

/// A git repo made with the CLI, one commit per call to `commit`.
struct ScratchRepo {
    let base: URL
    var repo: URL { base.appendingPathComponent("repo") }
    var state: URL { base.appendingPathComponent("state") }

    init() async throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-server"))
        try FileManager.default.createDirectory(at: repo, withIntermediateDirectories: true)
        _ = try await git("init", "-q", "-b", "main")
    }

    @discardableResult
    func git(_ args: String...) async throws -> String {
        try await Shell.git(args, in: repo.path)
    }

    func commit(_ files: [String: String]) async throws -> String {
        for (path, text) in files {
            let url = repo.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        try await git("add", "-A")
        try await git("commit", "-qm", "change")
        return try await git("rev-parse", "HEAD")
    }

    func remove() async {
        _ = try? await Shell.run("/bin/chmod", ["-R", "u+w", base.path])
        try? FileManager.default.removeItem(at: base)
    }
}

@Suite struct SnapshotKeeperTests {
    static var logger: Logger {
        var l = Logger(label: "berth.tests")
        l.logLevel = .critical
        return l
    }

    @Test func keepsTheSnapshotsOfTheLastReleasesAPinAndSyncsInFlight() async throws {
        let scratch = try await ScratchRepo()
        let git = try GitStore(stateDirectory: scratch.state, logger: Self.logger)
        let store = try Store(path: nil)
        let source = RepoSource(store: git, remote: GitRemote(url: scratch.repo.path), ref: nil, logger: Self.logger)
        var commits: [String] = []
        for i in 0..<7 {
            commits.append(try await scratch.commit(["apps/web/compose.yaml": "services: {w: {image: x:\(i)}}\n"]))
            _ = try await source.head()
            _ = try await source.checkout(commit: commits[i])
        }
        // web released commits 0…5 (0 is pinned after a rollback); api released 6; 6 is also being read.
        var released: [Release] = []
        for i in 0..<6 {
            released.append(try await store.recordRelease(Release(app: "web", commit: commits[i], images: ["w": "x:\(i)"])))
        }
        _ = try await store.recordRelease(Release(app: "api", commit: commits[6], images: [:]))
        try await store.setControl(AppControl(app: "web", pinnedRelease: released[0].id))
        let keeper = SnapshotKeeper(git: git, store: store, keepReleases: 2, logger: Self.logger)
        await keeper.begin(app: "web", commit: commits[3])
        await keeper.end(app: "web")
        await keeper.begin(app: "api", commit: commits[6])

        let removed = await keeper.collect()
        #expect(Set(removed) == Set([commits[1], commits[2], commits[3]]), "kept: the last 2 of web (4, 5), its pin (0), api's (6)")
        for (i, commit) in commits.enumerated() {
            let exists = FileManager.default.fileExists(atPath: git.snapshotDirectory(for: commit).path)
            #expect(exists == ![1, 2, 3].contains(i), "snapshot \(i)")
        }
        // A removed snapshot is written again from the mirror when a rollback needs it.
        let again = try await source.checkout(commit: commits[2])
        #expect(again.config.app(named: "web") != nil)
        await keeper.end(app: "api")
        await scratch.remove()
    }
}

@Suite struct NotifierRedactionTests {
    @Test func secretsAndURLCredentialsNeverLeave() {
        let notifier = Notifier(url: nil, secrets: ["hook-secret-1", "tok", "registry-pass", "hook-secret"], logger: SnapshotKeeperTests.logger)
        let text = "fetch https://ci:registry-pass@git.example/acme.git failed; token hook-secret-1 and hook-secret; ssh://git@host:22/x"
        let out = notifier.redact(text)
        #expect(!out.contains("registry-pass") && !out.contains("hook-secret"))
        #expect(out.contains("https://***@git.example/acme.git"))
        #expect(out.contains("ssh://***@host:22/x"))
        #expect(out.contains("token *** and ***"))
        #expect(notifier.redact("a tok b") == "a tok b", "secrets shorter than 4 characters are not replaced")
        let note = notifier.redacted(SyncNotification(app: "web", outcome: "failed", commit: "abc", release: nil,
                                                      error: "x hook-secret-1 y", time: Date(), trigger: "poll"))
        #expect(note.error == "x *** y")
    }

    actor Inbox {
        var bodies: [String] = []
        func add(_ body: String) { bodies.append(body) }
    }

    /// A failing sync notifies, with the error, and without the secrets the error mentions.
    @Test func aFailedSyncNotifiesWithoutSecrets() async throws {
        let inbox = Inbox()
        let router = Router()
        router.post("/notify") { request, _ in
            var request = request
            await inbox.add(String(buffer: try await request.collectBody(upTo: 1 << 20)))
            return HTTPResponse.Status.noContent
        }
        let logger = SnapshotKeeperTests.logger
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-notify"))
        defer { try? FileManager.default.removeItem(at: dir) }
        // The repo "URL" carries a password; the sync fails because nothing is there.
        let missing = "http://user:s3cret-pass@127.0.0.1:1/repo.git"
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { client in
            let port = try #require(client.port)
            let env = SyncEnvironment(
                source: RepoSource(store: try GitStore(stateDirectory: dir, logger: logger), remote: GitRemote(url: missing),
                                   ref: nil, logger: logger),
                deployer: Deployer(engine: EngineClient(logger: logger), logger: logger), store: try Store(path: nil),
                metrics: ServeMetrics(),
                notifier: Notifier(url: "http://127.0.0.1:\(port)/notify", secrets: ["s3cret-pass"], logger: logger), logger: logger)
            let syncer = AppSyncer(name: "web", environment: env)
            let loop = Task { await syncer.run() }
            let status = await syncer.syncAndWait(.api)
            #expect(status.health == .degraded)
            await syncer.stop()
            await loop.value
        }
        let bodies = await inbox.bodies
        #expect(bodies.count == 1)
        let body = bodies.first ?? ""
        #expect(body.contains("\"outcome\":\"failed\"") && body.contains("\"app\":\"web\""), "\(body)")
        #expect(!body.contains("s3cret-pass"), "\(body)")
    }
}
