import Crypto
import Curl
import Foundation
import Reconcile
import TestSupport
import Testing
import Engine

/// Security checks from issue #9, end to end with the built binary: planted secrets never show
/// up in logs (at trace level), plans or API answers; build contexts cannot leave their folder;
/// credential files and the state dir get the permissions they need.
@Suite struct SecurityTests {
    /// Secrets unlikely to appear anywhere by chance.
    struct Planted {
        let webhook = "whsec-" + TestNames.unique("planted")
        let token = "apitok-" + TestNames.unique("planted")
        let registryPassword = "regpw-" + TestNames.unique("planted")
        let dbPasswordOld = "dbpw-old-" + TestNames.unique("planted")
        let dbPasswordNew = "dbpw-new-" + TestNames.unique("planted")
        let secretFile = "file-" + TestNames.unique("planted")
        var all: [String] { [webhook, token, registryPassword, dbPasswordOld, dbPasswordNew, secretFile] }

        /// The planted secrets found in `text`, for the failure message.
        func leaked(in text: String) -> [String] { all.filter { text.contains($0) } }
    }

    static func compose(password: String) -> String {
        """
        services:
          svc:
            image: berth.local/busybox:latest
            command: ["sleep", "100000"]
            environment:
              DB_PASSWORD: "\(password)"
              MODE: "\(password.hasPrefix("dbpw-old") ? "old" : "new")"
            secrets: [db]
            labels:
              dev.berth.test: "1"
        secrets:
          db:
            file: ./db.secret
        """
    }

    /// A compose project on disk whose plan changes a secret variable: the plan says it
    /// changed without printing it, in text and JSON, even with trace logging.
    @Test func plansAndTraceLogsDoNotPrintSecrets() async throws {
        let planted = Planted()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-sec"))
        let project = TestNames.unique("sec")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try planted.secretFile.write(to: dir.appendingPathComponent("db.secret"), atomically: true, encoding: .utf8)
        try Self.compose(password: planted.dbPasswordOld).write(to: dir.appendingPathComponent("compose.yaml"), atomically: true, encoding: .utf8)
        let env = ["BERTH_LOG_LEVEL": "trace", "BERTH_REGISTRY_PASSWORD": planted.registryPassword, "BERTH_REGISTRY_USER": "ci"]
        func berth(_ args: [String]) async throws -> Host.RunResult {
            try await Host.run(Host.berthBinary, args + ["-p", project, "--settle", "0.2"], environment: env, directory: dir.path)
        }
        var output = ""
        let first = try await berth(["reconcile"])
        #expect(first.status == 0, "\(first.stderr)")
        output += first.stdout + first.stderr

        try Self.compose(password: planted.dbPasswordNew).write(to: dir.appendingPathComponent("compose.yaml"), atomically: true, encoding: .utf8)
        let text = try await berth(["reconcile", "--dry-run"])
        let json = try await berth(["reconcile", "--dry-run", "--output", "json"])
        #expect(text.stdout.contains("environment.DB_PASSWORD: (redacted) → (redacted)"), "\(text.stdout)")
        #expect(text.stdout.contains(#"environment.MODE: "old" → "new""#), "other fields still show: \(text.stdout)")
        #expect(json.stdout.contains("environment.DB_PASSWORD"), "\(json.stdout)")
        let apply = try await berth(["reconcile"])
        #expect(apply.status == 0, "\(apply.stderr)")
        output += text.stdout + text.stderr + json.stdout + json.stderr + apply.stdout + apply.stderr
        #expect(output.contains("trace") || output.count > 1000, "trace logging was on")
        #expect(planted.leaked(in: output).isEmpty, "leaked: \(planted.leaked(in: output))")
        // The secret reaches the container, which is where it belongs.
        let c = try await Host.engine.inspectContainer("\(project)-svc-1")
        #expect(c.config?.env?.contains("DB_PASSWORD=\(planted.dbPasswordNew)") == true)
        await Host.cleanUp(project: project)
    }

    /// `berth serve` with a webhook secret and an API token: neither appears in its trace log
    /// nor in any API answer, the status page or metrics; forged signatures and wrong tokens
    /// are refused.
    @Test func serveKeepsItsSecrets() async throws {
        let planted = Planted()
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-secserve"))
        let repo = base.appendingPathComponent("repo")
        let state = base.appendingPathComponent("state")
        let app = TestNames.unique("secapp")
        try FileManager.default.createDirectory(at: repo.appendingPathComponent("apps/\(app)"), withIntermediateDirectories: true)
        func git(_ args: String...) async throws {
            _ = try await Shell.git(args, in: repo.path)
        }
        func commit(_ password: String) async throws {
            try Self.compose(password: password).write(to: repo.appendingPathComponent("apps/\(app)/compose.yaml"), atomically: true, encoding: .utf8)
            try planted.secretFile.write(to: repo.appendingPathComponent("apps/\(app)/db.secret"), atomically: true, encoding: .utf8)
            try await git("add", "-A")
            try await git("commit", "-qm", "deploy")
        }
        try "apps:\n  \(app):\n    path: apps/\(app)\n".write(to: repo.appendingPathComponent("berth.yaml"), atomically: true, encoding: .utf8)
        try await git("init", "-q", "-b", "main")
        try await commit(planted.dbPasswordOld)

        let port = try ServeTests.freePort()
        let url = "http://127.0.0.1:\(port)"
        let log = base.appendingPathComponent("serve.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Host.berthBinary)
        process.arguments = ["serve", "--repo", repo.path, "--listen", "127.0.0.1:\(port)", "--poll-interval", "300",
                             "--webhook-secret", planted.webhook, "--retry-backoff", "1"]
        var environment = ProcessInfo.processInfo.environment
        environment["BERTH_STATE_DIR"] = state.path
        environment["BERTH_API_TOKEN"] = planted.token
        environment["BERTH_SETTLE"] = "0.2"
        environment["BERTH_LOG_LEVEL"] = "trace"
        environment["BERTH_REGISTRY_USER"] = "ci"
        environment["BERTH_REGISTRY_PASSWORD"] = planted.registryPassword
        process.environment = environment
        let logHandle = try FileHandle(forWritingTo: log)
        process.standardOutput = logHandle
        process.standardError = logHandle
        try process.run()
        defer {
            if process.isRunning { process.terminate() }
            _ = try? Shell.runBlocking("/bin/chmod", ["-R", "u+w", base.path])
            try? FileManager.default.removeItem(at: base)
        }
        func serveLog() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        let client = HTTPClient(configuration: .init(retries: 0), logger: Host.logger)
        var answers = ""
        func request(_ method: HTTPMethod, _ path: String, headers: HTTPHeaders = HTTPHeaders(), body: Data? = nil) async throws -> HTTPResponse {
            let r = try await client.send(HTTPRequest(method: method, url: url + path, headers: headers, body: body.map { .data($0) } ?? .none,
                                                      timeout: .seconds(60)))
            answers += "\(r.status) \(r.headers) " + String(decoding: r.body, as: UTF8.self) + "\n"
            return r
        }
        func revisionValue() async throws -> String? {
            try await Host.engine.inspectContainer("\(app)-svc-1").config?.env?.first { $0.hasPrefix("MODE=") }
        }
        let up = await ServeTests.eventually { try await revisionValue() == "MODE=old" }
        try #require(up, "first sync: \(serveLog())")

        try await commit(planted.dbPasswordNew)
        let body = #"{"ref":"refs/heads/main"}"#
        func sign(_ secret: String) -> String {
            let mac = HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: SymmetricKey(data: Array(secret.utf8)))
            return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
        }
        // A signature made with a prefix of the secret, an empty one, and a malformed one: refused.
        for bad in [sign(String(planted.webhook.dropLast())), "sha256=", "md5=abc", ""] {
            let r = try await request(.post, "/hooks/git", headers: ["X-Hub-Signature-256": bad, "X-GitHub-Event": "push"], body: Data(body.utf8))
            #expect(r.status == 401, "signature \(bad) was accepted")
        }
        let good = try await request(.post, "/hooks/git", headers: ["X-Hub-Signature-256": sign(planted.webhook), "X-GitHub-Event": "push"],
                                     body: Data(body.utf8))
        #expect(good.status == 202)
        let deployed = await ServeTests.eventually { try await revisionValue() == "MODE=new" }
        #expect(deployed, "webhook deploy: \(serveLog())")

        // Wrong tokens: none, a prefix, another scheme, the webhook secret.
        for header in ["", "Bearer ", "Bearer \(planted.token.dropLast())", "Basic \(planted.token)", "Bearer \(planted.webhook)"] {
            let headers: HTTPHeaders = header.isEmpty ? HTTPHeaders() : ["Authorization": header]
            let r = try await request(.post, "/api/v1/apps/\(app)/sync", headers: headers)
            #expect(r.status == 401, "Authorization \(header.prefix(10))… was accepted")
        }
        let auth: HTTPHeaders = ["Authorization": "Bearer \(planted.token)"]
        // The right token: the sync runs (200 when it waited for it, 202 when queued).
        let synced = try await request(.post, "/api/v1/apps/\(app)/sync", headers: auth).status
        #expect(synced == 200 || synced == 202, "\(synced)")
        for path in ["/api/v1/apps", "/api/v1/apps/\(app)", "/api/v1/apps/\(app)/history", "/metrics", "/", "/healthz", "/readyz"] {
            _ = try await request(.get, path, headers: auth)
        }
        _ = await ServeTests.eventually(.seconds(10)) { !(answers.contains("\"syncing\":true")) }
        process.terminate()
        _ = await ServeTests.eventually(.seconds(30)) { !process.isRunning }

        let everything = serveLog() + answers
        #expect(serveLog().contains("trace") || serveLog().count > 2000, "trace logging was on: \(serveLog().prefix(500))")
        #expect(planted.leaked(in: everything).isEmpty, "leaked: \(planted.leaked(in: everything))")
        await Host.cleanUp(project: app)
    }

    /// Build contexts: a symlink to /etc/passwd and `COPY ../` are refused, naming the file,
    /// and no image is made.
    @Test func buildContextEscapesAreRefused() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-escape"))
        let ctx = dir.appendingPathComponent("app")
        try FileManager.default.createDirectory(at: ctx, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let project = TestNames.unique("esc")
        try "outside the context\n".write(to: dir.appendingPathComponent("outside"), atomically: true, encoding: .utf8)
        try """
        services:
          app:
            build: ./app
            image: berth.local/\(project):1
            labels:
              dev.berth.test: "1"
        """.write(to: dir.appendingPathComponent("compose.yaml"), atomically: true, encoding: .utf8)
        func build() async throws -> Host.RunResult {
            try await Host.run(Host.berthBinary, ["build", "-p", project, "--no-audit"], directory: dir.path)
        }

        try "FROM berth.local/busybox:latest\nLABEL dev.berth.test=1\nCOPY passwd /p\n".write(to: ctx.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: ctx.appendingPathComponent("passwd").path, withDestinationPath: "/etc/passwd")
        let link = try await build()
        #expect(link.status == 1)
        #expect((link.stdout + link.stderr).contains("passwd"), "\(link.stdout)\(link.stderr)")
        #expect((link.stdout + link.stderr).contains("absolute"), "\(link.stdout)\(link.stderr)")

        try FileManager.default.removeItem(at: ctx.appendingPathComponent("passwd"))
        try FileManager.default.createSymbolicLink(atPath: ctx.appendingPathComponent("up").path, withDestinationPath: "../outside")
        let up = try await build()
        #expect(up.status == 1)
        #expect((up.stdout + up.stderr).contains("outside the build context"), "\(up.stdout)\(up.stderr)")

        try FileManager.default.removeItem(at: ctx.appendingPathComponent("up"))
        try "FROM berth.local/busybox:latest\nLABEL dev.berth.test=1\nCOPY ../outside /o\n".write(to: ctx.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        let copy = try await build()
        #expect(copy.status == 1, "\(copy.stdout)\(copy.stderr)")
        #expect((copy.stdout + copy.stderr).contains("outside"), "\(copy.stdout)\(copy.stderr)")
        let images = try await Host.run("/usr/bin/docker", ["images", "-q", "berth.local/\(project)"])
        #expect(images.stdout.isEmpty, "an image was made")
    }

    /// A docker config.json others may read: a warning that names the file and the fix, and
    /// the credentials it holds never printed.
    @Test func readableDockerConfigIsWarnedAbout() async throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-home"))
        let docker = home.appendingPathComponent(".docker")
        try FileManager.default.createDirectory(at: docker, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let password = "cfgpw-" + TestNames.unique("planted")
        let auth = Data("ci:\(password)".utf8).base64EncodedString()
        let config = docker.appendingPathComponent("config.json")
        try #"{"auths":{"127.0.0.1:5000":{"auth":"\#(auth)"}}}"#.write(to: config, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: config.path)
        let repo = "berth-test/\(TestNames.unique("cfg"))"
        let r = try await Host.run(Host.berthBinary, ["push", Host.busybox, "--to", "127.0.0.1:5000/\(repo):1", "--no-cache"],
                                   environment: ["HOME": home.path, "DOCKER_CONFIG": docker.path, "BERTH_LOG_LEVEL": "trace"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains(config.path) || r.stderr.contains("config.json"), "\(r.stderr)")
        #expect(r.stderr.contains("chmod 600") || r.stderr.lowercased().contains("permission") || r.stderr.lowercased().contains("readable"),
                "\(r.stderr)")
        #expect(!(r.stdout + r.stderr).contains(password) && !(r.stdout + r.stderr).contains(auth))
    }

    /// A state dir Berth creates is private to its user.
    @Test func stateDirIsCreatedPrivate() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-state"))
        let state = base.appendingPathComponent("nested/state")
        defer { try? FileManager.default.removeItem(at: base) }
        let repo = "berth-test/\(TestNames.unique("state"))"
        let r = try await Host.run(Host.berthBinary, ["push", Host.busybox, "--to", "127.0.0.1:5000/\(repo):1", "--state-dir", state.path])
        #expect(r.status == 0, "\(r.stderr)")
        let mode = try FileManager.default.attributesOfItem(atPath: state.path)[.posixPermissions] as? Int
        #expect(mode == 0o700, "state dir mode \(String(mode ?? 0, radix: 8))")
    }
}
