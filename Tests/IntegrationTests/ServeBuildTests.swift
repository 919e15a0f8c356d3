import Crypto
import Curl
import Foundation
import Reconcile
import TestSupport
import Testing
import Engine

/// A GitOps repo on disk and `berth serve` (the built binary) following it.
final class ServeHarness: @unchecked Sendable {
    let base: URL
    var repo: URL { base.appendingPathComponent("repo") }
    var state: URL { base.appendingPathComponent("state") }
    var log: URL { base.appendingPathComponent("serve.log") }
    let port: Int
    var url: String { "http://127.0.0.1:\(port)" }
    let secret = "hook-secret-\(UUID().uuidString.prefix(8))"
    let token = "api-token-\(UUID().uuidString.prefix(8))"
    private(set) var process = Process()
    let client = HTTPClient(configuration: .init(retries: 0), logger: Host.logger)

    init() throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-serve"))
        try FileManager.default.createDirectory(at: base.appendingPathComponent("repo"), withIntermediateDirectories: true)
        port = try ServeTests.freePort()
    }

    @discardableResult
    func git(_ args: String...) async throws -> String {
        try await Shell.git(args, in: repo.path)
    }

    /// Writes the files, commits everything, returns the commit.
    func commit(_ files: [String: String]) async throws -> String {
        for (path, text) in files {
            let file = repo.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        if !FileManager.default.fileExists(atPath: repo.appendingPathComponent(".git").path) {
            try await git("init", "-q", "-b", "main")
        }
        try await git("add", "-A")
        try await git("commit", "-qm", "change")
        return try await git("rev-parse", "HEAD")
    }

    /// A Dockerfile whose image carries `marker` in /marker, to tell builds apart.
    static func markerDockerfile(_ marker: String) -> String {
        "FROM berth.local/busybox:latest\nRUN echo \(marker) > /marker\n"
    }

    /// The files of a repo with one app whose service `svc` sleeps in busybox, with `VALUE` in
    /// its environment when given (a new value replaces the container).
    static func sleepApp(_ app: String, value: String? = nil) -> [String: String] {
        ["berth.yaml": "apps:\n  \(app):\n    path: apps/\(app)\n",
         "apps/\(app)/compose.yaml": Host.sleepCompose(value: value, stopGracePeriod: "1s")]
    }

    /// Commits a repo with one app whose service `web` is built from `markerDockerfile(marker)`.
    func commitBuildApp(_ app: String, marker: String) async throws -> String {
        let compose = """
        services:
          web:
            build:
              context: .
              labels:
                dev.berth.test: "1"
            command: ["sleep", "100000"]
            labels:
              dev.berth.test: "1"
        """
        return try await commit(["berth.yaml": "apps:\n  \(app):\n    path: apps/\(app)\n",
                                 "apps/\(app)/compose.yaml": compose, "apps/\(app)/Dockerfile": Self.markerDockerfile(marker)])
    }

    /// Starts `berth serve` on `repo` (default: the local repo this harness commits to).
    func start(_ arguments: [String], environment extra: [String: String] = [:], repoURL: String? = nil) throws {
        // A Process runs once; a restart (same state directory and port) needs a new one.
        if process.processIdentifier != 0 { process = Process() }
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: Host.berthBinary)
        process.arguments = ["serve", "--repo", repoURL ?? repo.path, "--listen", "127.0.0.1:\(port)", "--webhook-secret", secret,
                             "--api-token", token, "--settle", "0.2", "--retry-backoff", "1"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["BERTH_STATE_DIR"] = state.path
        for (k, v) in extra { environment[k] = v }
        process.environment = environment
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    var serveLog: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    func request(_ method: HTTPMethod, _ path: String, headers: HTTPHeaders = HTTPHeaders(), body: Data? = nil) async throws -> HTTPResponse {
        try await client.send(HTTPRequest(method: method, url: url + path, headers: headers, body: body.map { .data($0) } ?? .none,
                                          timeout: .seconds(180)))
    }

    struct Status: Decodable {
        var name: String
        var health: String
        var revision: String?
        var release: Int64?
        var lastError: String?
        var syncing: Bool
        var syncs: Int
    }

    func status(_ app: String) async throws -> Status {
        try JSONDecoder().decode(Status.self, from: try await request(.get, "/api/v1/apps/\(app)").body)
    }

    /// Waits until the app's last sync finished with `health` (and, when given, at `revision`).
    func waitFor(_ app: String, health: String, revision: String? = nil, timeout: Duration = .seconds(180)) async -> Bool {
        await ServeTests.eventually(timeout) {
            let s = try await self.status(app)
            return s.health == health && !s.syncing && (revision == nil || s.revision == revision)
        }
    }

    /// A signed push webhook for main.
    func hook() async throws -> HTTPResponse {
        let body = #"{"ref":"refs/heads/main"}"#
        let mac = HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: SymmetricKey(data: Array(secret.utf8)))
        let signature = "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
        return try await request(.post, "/hooks/git", headers: ["X-Hub-Signature-256": signature, "X-GitHub-Event": "push",
                                                                "Content-Type": "application/json"], body: Data(body.utf8))
    }

    /// SIGTERM, then waits for the exit; returns the exit status (nil when it did not exit).
    func stop() async -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        process.terminate()
        let exited = await ServeTests.eventually(.seconds(30)) { !self.process.isRunning }
        return exited ? process.terminationStatus : nil
    }

    func remove() async {
        if process.isRunning { process.terminate() }
        _ = try? await Host.run("/bin/chmod", ["-R", "u+w", base.path])
        try? FileManager.default.removeItem(at: base)
    }
}

/// A loopback HTTP receiver for the notify webhook: answers 204 and keeps the bodies.
final class NotifyInbox: @unchecked Sendable {
    private let lock = NSLock()
    private var received: [String] = []
    let port: Int
    private let fd: Int32

    init() throws {
        guard let (fd, port) = LoopbackListener.open() else { throw POSIXError(.EADDRINUSE) }
        self.fd = fd
        self.port = port
        Thread.detachNewThread { [self] in self.serve() }
    }

    var url: String { "http://127.0.0.1:\(port)/notify" }
    var bodies: [String] { lock.withLock { received } }

    private func serve() {
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 { return }
            var data = Data()
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(client, &buffer, buffer.count)
                if n <= 0 { break }
                data.append(contentsOf: buffer[0..<n])
                if let end = data.range(of: Data("\r\n\r\n".utf8)) {
                    let head = String(decoding: data[..<end.lowerBound], as: UTF8.self).lowercased()
                    let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                    if data.count - end.upperBound >= length {
                        let body = String(decoding: data[end.upperBound..<(end.upperBound + length)], as: UTF8.self)
                        lock.withLock { received.append(body) }
                        break
                    }
                }
            }
            let reply = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
            _ = reply.withCString { write(client, $0, strlen($0)) }
            close(client)
        }
    }

    deinit {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}

/// `berth serve --build`: a sync builds what changed, pushes it, and runs the pushed digest.
@Suite(.serialized) struct ServeBuildTests {
    static let registry = "127.0.0.1:5000/berth-test"

    @Test func buildsPushesAndRunsTheDigestThenKeepsLastGoodOnABrokenBuild() async throws {
        let h = try ServeHarness()
        let inbox = try NotifyInbox()
        let app = TestNames.unique("bapp")
        let container = "\(app)-web-1"
        let first = try await h.commitBuildApp(app, marker: "one")
        // The registry password only reaches the notifier's redaction list: it must never be sent.
        try h.start(["--build", "--poll-interval", "300", "--notify-url", inbox.url, "--keep-releases", "1"],
                    environment: ["BERTH_REGISTRY": Self.registry])
        var localTags: [String] = []
        defer { if h.process.isRunning { h.process.terminate() } }

        func running() async throws -> (reference: String?, imageID: String, revision: String?, marker: String) {
            let c = try await Host.engine.inspectContainer(container)
            let marker = try await Host.run("/usr/bin/docker", ["exec", container, "cat", "/marker"])
            return (c.config?.labels?[Labels.image], c.image ?? "", c.config?.labels?[Labels.revision],
                    marker.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        /// The digest the registry serves for the commit's tag.
        func registryDigest(_ commit: String) async throws -> String? {
            let r = try await h.client.send(HTTPRequest(method: .head, url: "http://127.0.0.1:5000/v2/berth-test/\(app)-web/manifests/\(commit.prefix(12))",
                                                        headers: ["Accept": "application/vnd.docker.distribution.manifest.v2+json"]))
            return r.headers["Docker-Content-Digest"]
        }

        #expect(await h.waitFor(app, health: "Synced", revision: first), "first sync: \(h.serveLog)")
        localTags.append("\(Self.registry)/\(app)-web:\(first.prefix(12))")
        let one = try await running()
        let prefix = "\(Self.registry)/\(app)-web@sha256:"
        #expect(one.reference?.hasPrefix(prefix) == true, "runs a digest reference: \(one.reference ?? "nil")")
        #expect(one.revision == first)
        #expect(one.marker == "one")
        let digest1 = try #require(one.reference.flatMap { $0.split(separator: "@").last.map(String.init) })
        #expect(try await registryDigest(first) == digest1, "the registry serves the digest that runs")
        #expect(try await Host.engine.inspectImage(try #require(one.reference)).id == one.imageID)

        // The release records the digest; /metrics has the build and push figures.
        let history = String(decoding: try await h.request(.get, "/api/v1/apps/\(app)/history").body, as: UTF8.self)
        #expect(history.contains(prefix + digest1.dropFirst("sha256:".count)), "\(history)")
        let metrics = String(decoding: try await h.request(.get, "/metrics").body, as: UTF8.self)
        #expect(metrics.contains("berth_build_duration_seconds_count{app=\"\(app)\"} 1"), "\(metrics)")
        #expect(metrics.contains("berth_push_duration_seconds_count{app=\"\(app)\"} 1"))
        #expect(metrics.contains("berth_images_built_total{app=\"\(app)\"} 1"))
        #expect(metrics.contains("berth_push_uploaded_bytes_total{app=\"\(app)\"}"))

        // A resync of the same commit builds nothing and changes nothing.
        let resync = try await h.request(.post, "/api/v1/apps/\(app)/sync", headers: ["Authorization": "Bearer \(h.token)"])
        #expect(resync.status == 200)
        #expect(try await running().imageID == one.imageID)

        // A new Dockerfile: webhook → build → push → the new digest runs.
        let second = try await h.commit(["apps/\(app)/Dockerfile": ServeHarness.markerDockerfile("two")])
        #expect(try await h.hook().status == 202)
        #expect(await h.waitFor(app, health: "Synced", revision: second), "second sync: \(h.serveLog)")
        localTags.append("\(Self.registry)/\(app)-web:\(second.prefix(12))")
        let two = try await running()
        #expect(two.marker == "two")
        #expect(two.reference?.hasPrefix(prefix) == true && two.reference != one.reference)
        #expect(try await registryDigest(second) == two.reference.flatMap { $0.split(separator: "@").last.map(String.init) })

        // Snapshot clean-up kept only the last release's commit (--keep-releases 1).
        let snapshots = try FileManager.default.contentsOfDirectory(atPath: h.state.appendingPathComponent("snapshots").path)
            .filter { !$0.hasPrefix(".") }
        #expect(snapshots == [second], "\(snapshots)")

        // A build that fails changes nothing: Degraded, the error names the step, the old container runs.
        let broken = try await h.commit(["apps/\(app)/Dockerfile": "FROM berth.local/busybox:latest\nRUN exit 3\n"])
        #expect(try await h.hook().status == 202)
        #expect(await h.waitFor(app, health: "Degraded"), "broken build: \(h.serveLog)")
        let bad = try await h.status(app)
        #expect(bad.revision == second)
        #expect(bad.lastError?.contains("build failed") == true && bad.lastError?.contains("RUN exit 3") == true, "\(bad.lastError ?? "")")
        #expect(try await running().imageID == two.imageID)
        _ = broken

        // Notifications: two deploys and one failure, none carrying the secrets.
        let notified = await ServeTests.eventually(.seconds(10)) { inbox.bodies.count >= 3 }
        #expect(notified, "\(inbox.bodies)")
        let bodies = inbox.bodies
        #expect(bodies.filter { $0.contains("\"outcome\":\"deployed\"") }.count == 2, "\(bodies)")
        #expect(bodies.contains { $0.contains("\"outcome\":\"failed\"") && $0.contains("build failed") }, "\(bodies)")
        #expect(!bodies.contains { $0.contains(h.secret) || $0.contains(h.token) })

        // Rollback runs the first release's digest again, without building.
        let rollback = try await h.request(.post, "/api/v1/apps/\(app)/rollback", headers: ["Authorization": "Bearer \(h.token)"])
        #expect(rollback.status == 202, "\(String(decoding: rollback.body, as: UTF8.self))")
        #expect(await h.waitFor(app, health: "Synced", revision: first), "rollback: \(h.serveLog)")
        let back = try await running()
        #expect(back.reference == one.reference)
        #expect(back.marker == "one")
        let after = String(decoding: try await h.request(.get, "/metrics").body, as: UTF8.self)
        #expect(after.contains("berth_build_duration_seconds_count{app=\"\(app)\"} 2"), "the rollback built nothing: \(after)")

        let historyBefore = String(decoding: try await h.request(.get, "/api/v1/apps/\(app)/history").body, as: UTF8.self)
        #expect(await h.stop() == 0, "\(h.serveLog)")

        // A restart reads the same database: every release and run is still there, the app
        // still runs the rolled-back digest, and nothing is redeployed.
        try h.start(["--build", "--poll-interval", "300", "--keep-releases", "1"], environment: ["BERTH_REGISTRY": Self.registry])
        #expect(await h.waitFor(app, health: "Synced", revision: first), "after restart: \(h.serveLog)")
        let historyAfter = String(decoding: try await h.request(.get, "/api/v1/apps/\(app)/history").body, as: UTF8.self)
        for id in ["\"deployed\"", "\"failed\"", String(first.prefix(12)), String(digest1.dropFirst("sha256:".count))] {
            #expect(historyBefore.contains(id) == historyAfter.contains(id), "\(id) before: \(historyBefore) after: \(historyAfter)")
        }
        #expect(historyAfter.count >= historyBefore.count)
        #expect(try await running().reference == one.reference)
        #expect(await h.stop() == 0, "\(h.serveLog)")
        await Host.cleanUp(project: app)
        for tag in localTags { _ = try? await Host.engine.removeImage(tag, force: true) }
        await h.remove()
    }
}
