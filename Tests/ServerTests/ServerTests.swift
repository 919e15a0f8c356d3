import Engine
import Foundation
import GitSource
import Hummingbird
import HummingbirdTesting
import Logging
import Server
import Store
import TestSupport
import Testing

@Suite struct AuthTests {
    @Test func signatureMatchesOnlyTheExactBodyAndSecret() {
        let body = Array(#"{"ref":"refs/heads/main"}"#.utf8)
        let signature = Auth.signature(body: body, secret: "s3cret")
        #expect(signature.hasPrefix("sha256=") && signature.count == 7 + 64)
        #expect(Auth.signatureMatches(signature, body: body, secret: "s3cret"))
        #expect(Auth.signatureMatches(signature.uppercased().replacingOccurrences(of: "SHA256=", with: "sha256="), body: body, secret: "s3cret"))
        #expect(!Auth.signatureMatches(signature, body: body + [0x20], secret: "s3cret"))
        #expect(!Auth.signatureMatches(signature, body: body, secret: "other"))
        #expect(!Auth.signatureMatches(nil, body: body, secret: "s3cret"))
        #expect(!Auth.signatureMatches(String(signature.dropFirst(7)), body: body, secret: "s3cret"), "the sha256= prefix is required")
    }

    @Test func bearerTokenComparison() {
        #expect(Auth.bearerMatches("Bearer tok", token: "tok"))
        #expect(Auth.bearerMatches("bearer tok", token: "tok"))
        #expect(!Auth.bearerMatches("Bearer to", token: "tok"))
        #expect(!Auth.bearerMatches("Bearer tokk", token: "tok"))
        #expect(!Auth.bearerMatches("Basic dG9rOg==", token: "tok"))
        #expect(!Auth.bearerMatches(nil, token: "tok"))
        #expect(Auth.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        #expect(!Auth.constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
    }
}

/// The HTTP side without Docker: a supervisor whose repo does not exist, driven in process.
@Suite struct HTTPAPITests {
    static func makeAPI(secret: String? = "hook", token: String? = "tok") throws -> (HTTPAPI, URL) {
        var logger = Logger(label: "berth.tests")
        logger.logLevel = .critical
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-http"))
        let git = try GitStore(stateDirectory: dir, logger: logger)
        let store = try Store(path: nil)
        let metrics = ServeMetrics()
        let env = SyncEnvironment(source: RepoSource(store: git, remote: GitRemote(url: dir.appendingPathComponent("missing").path),
                                                     ref: nil, logger: logger),
                                  deployer: Deployer(engine: EngineClient(logger: logger), logger: logger), store: store,
                                  metrics: metrics, notifier: Notifier(url: nil, logger: logger), logger: logger)
        return (HTTPAPI(supervisor: Supervisor(environment: env), store: store, metrics: metrics, webhookSecret: secret,
                        apiToken: token, logger: logger), dir)
    }

    @Test func healthReadinessAndMetrics() async throws {
        let (api, dir) = try Self.makeAPI()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await Application(router: api.router()).test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable, "no sync has run yet")
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            }
            try await client.execute(uri: "/api/v1/apps", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).trimmingCharacters(in: .whitespacesAndNewlines) == "[\n\n]" ||
                        String(buffer: response.body).contains("[]"))
            }
            try await client.execute(uri: "/api/v1/apps/nope", method: .get) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("No apps yet"))
            }
        }
    }

    @Test func webhookNeedsTheRightSignature() async throws {
        let (api, dir) = try Self.makeAPI()
        defer { try? FileManager.default.removeItem(at: dir) }
        let body = #"{"ref":"refs/heads/main"}"#
        try await Application(router: api.router()).test(.router) { client in
            try await client.execute(uri: "/hooks/git", method: .post, body: ByteBuffer(string: body)) { response in
                #expect(response.status == .unauthorized)
                #expect(String(buffer: response.body).contains("X-Hub-Signature-256"))
            }
            let wrong = Auth.signature(body: Array(body.utf8), secret: "not-the-secret")
            try await client.execute(uri: "/hooks/git", method: .post, headers: [HTTPFields.Element.Name("X-Hub-Signature-256")!: wrong],
                                     body: ByteBuffer(string: body)) { response in
                #expect(response.status == .unauthorized)
            }
            let right = Auth.signature(body: Array("{}".utf8), secret: "hook")
            try await client.execute(uri: "/hooks/git", method: .post,
                                     headers: [HTTPFields.Element.Name("X-Hub-Signature-256")!: right, HTTPFields.Element.Name("X-GitHub-Event")!: "ping"],
                                     body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("pong"))
            }
        }
    }

    @Test func webhookIsOffWithoutASecret() async throws {
        let (api, dir) = try Self.makeAPI(secret: nil)
        defer { try? FileManager.default.removeItem(at: dir) }
        try await Application(router: api.router()).test(.router) { client in
            try await client.execute(uri: "/hooks/git", method: .post, body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .forbidden)
                #expect(String(buffer: response.body).contains("BERTH_WEBHOOK_SECRET"))
            }
        }
    }

    @Test func apiCallsNeedTheBearerToken() async throws {
        let (api, dir) = try Self.makeAPI()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await Application(router: api.router()).test(.router) { client in
            for action in ["sync", "suspend", "resume", "rollback"] {
                try await client.execute(uri: "/api/v1/apps/web/\(action)", method: .post) { response in
                    #expect(response.status == .unauthorized, "\(action)")
                }
                try await client.execute(uri: "/api/v1/apps/web/\(action)", method: .post,
                                         headers: [.authorization: "Bearer wrong"]) { response in
                    #expect(response.status == .unauthorized, "\(action)")
                }
                try await client.execute(uri: "/api/v1/apps/web/\(action)", method: .post,
                                         headers: [.authorization: "Bearer tok"]) { response in
                    #expect(response.status == .notFound, "\(action): authorised, but there is no such app")
                }
            }
        }
        let (readOnly, dir2) = try Self.makeAPI(token: nil)
        defer { try? FileManager.default.removeItem(at: dir2) }
        try await Application(router: readOnly.router()).test(.router) { client in
            try await client.execute(uri: "/api/v1/apps/web/sync", method: .post, headers: [.authorization: "Bearer "]) { response in
                #expect(response.status == .forbidden)
                #expect(String(buffer: response.body).contains("BERTH_API_TOKEN"))
            }
        }
    }
}

@Suite struct NotifierTests {
    actor Inbox {
        var bodies: [String] = []
        var types: [String] = []
        func add(_ body: String, _ type: String) { bodies.append(body); types.append(type) }
    }

    @Test func postsTheSyncAsJSON() async throws {
        let inbox = Inbox()
        let router = Router()
        router.post("/notify") { request, _ in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            await inbox.add(String(buffer: body), request.headers[.contentType] ?? "")
            return HTTPResponse.Status.noContent
        }
        var quiet = Logger(label: "berth.tests")
        quiet.logLevel = .critical
        let logger = quiet
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { client in
            let port = try #require(client.port)
            let notifier = Notifier(url: "http://127.0.0.1:\(port)/notify", logger: logger)
            await notifier.send(SyncNotification(app: "web", outcome: "failed", commit: "abc", release: nil,
                                                 error: "compose.yaml:3:5: bad", time: Date(timeIntervalSince1970: 0), trigger: "webhook"))
            // A receiver that is down is logged, not fatal.
            await Notifier(url: "http://127.0.0.1:1/nothing", logger: logger).send(
                SyncNotification(app: "web", outcome: "deployed", commit: nil, release: 1, error: nil, time: Date(), trigger: "poll"))
        }
        let bodies = await inbox.bodies
        #expect(bodies.count == 1)
        let doc = try JSONSerialization.jsonObject(with: Data((bodies.first ?? "").utf8)) as? [String: Any]
        #expect(doc?["app"] as? String == "web")
        #expect(doc?["outcome"] as? String == "failed")
        #expect(doc?["error"] as? String == "compose.yaml:3:5: bad")
        #expect(doc?["time"] as? String == "1970-01-01T00:00:00Z")
        #expect(await inbox.types.first == "application/json")
    }
}
