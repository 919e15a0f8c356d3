import Crypto
import Foundation
import Hummingbird
import Logging
import Store

/// Request checks that must not leak through timing.
public enum Auth {
    /// Compares two byte strings in time that depends only on their lengths.
    public static func constantTimeEqual<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        // Hash both first so the loop length does not depend on the secret's length either.
        let x = Array(SHA256.hash(data: Array(a)))
        let y = Array(SHA256.hash(data: Array(b)))
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }

    /// `Authorization: Bearer <token>` against the configured token.
    public static func bearerMatches(_ header: String?, token: String) -> Bool {
        guard let header, header.lowercased().hasPrefix("bearer ") else { return false }
        let given = header.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces)
        return constantTimeEqual(Array(given.utf8), Array(token.utf8))
    }

    /// GitHub/Gitea `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
    public static func signatureMatches(_ header: String?, body: [UInt8], secret: String) -> Bool {
        guard let header, header.hasPrefix("sha256=") else { return false }
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        let expected = mac.map { String(format: "%02x", $0) }.joined()
        return constantTimeEqual(Array(header.dropFirst(7).lowercased().utf8), Array(expected.utf8))
    }

    public static func signature(body: [UInt8], secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }
}

/// The HTTP side of `serve`: health, metrics, the JSON API, the git webhook and the status page.
public struct HTTPAPI: Sendable {
    let supervisor: Supervisor
    let store: Store
    let metrics: ServeMetrics
    let webhookSecret: String?
    let apiToken: String?
    let logger: Logger

    public init(supervisor: Supervisor, store: Store, metrics: ServeMetrics, webhookSecret: String?, apiToken: String?,
                logger: Logger) {
        self.supervisor = supervisor
        self.store = store
        self.metrics = metrics
        self.webhookSecret = webhookSecret
        self.apiToken = apiToken
        self.logger = logger
    }

    public func application(host: String, port: Int) -> some ApplicationProtocol {
        Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "berth"),
                    logger: logger)
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return e
    }()

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data + [0x0a])))
    }

    static func text(_ text: String, status: HTTPResponse.Status = .ok, type: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static let signatureHeader = HTTPFields.Element.Name("X-Hub-Signature-256")
    static let eventHeaders = ["X-GitHub-Event", "X-Gitea-Event", "X-Gogs-Event"].compactMap { HTTPFields.Element.Name($0) }

    struct Message: Encodable { var error: String? = nil; var message: String? = nil }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(Message(error: message), status: status)
    }

    /// Mutating calls need the bearer token; without a configured token they are refused.
    func authorize(_ request: Request) -> Response? {
        guard let apiToken, !apiToken.isEmpty else {
            return Self.error(.forbidden, "the API is read-only: start berth serve with --api-token (BERTH_API_TOKEN) to allow this")
        }
        guard Auth.bearerMatches(request.headers[.authorization], token: apiToken) else {
            return Self.error(.unauthorized, "missing or wrong bearer token (Authorization: Bearer <BERTH_API_TOKEN>)")
        }
        return nil
    }

    func app(_ context: BasicRequestContext) async -> (String, AppSyncer)? {
        guard let name = context.parameters.get("app"), let syncer = await supervisor.syncer(name) else { return nil }
        return (name, syncer)
    }

    struct History: Encodable {
        var app: String
        var runs: [SyncRun]
        var releases: [Release]
        var events: [Event]
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ in Self.text("ok\n") }
        router.get("/readyz") { _, _ in
            await supervisor.ready() ? Self.text("ready\n") : Self.text("not ready: first sync not finished\n", status: .serviceUnavailable)
        }
        router.get("/metrics") { _, _ in Self.text(metrics.text(), type: "text/plain; version=0.0.4; charset=utf-8") }
        router.get("/api/v1/apps") { _, _ in Self.json(await supervisor.statuses()) }
        router.get("/api/v1/apps/:app") { _, context in
            guard let (_, syncer) = await app(context) else { return Self.error(.notFound, "no such app") }
            return Self.json(await syncer.currentStatus())
        }
        router.get("/api/v1/apps/:app/history") { request, context in
            guard let (name, _) = await app(context) else { return Self.error(.notFound, "no such app") }
            let limit = request.uri.queryParameters.get("limit", as: Int.self) ?? 50
            do {
                return Self.json(History(app: name, runs: try await store.runs(app: name, limit: limit),
                                         releases: try await store.releases(app: name, limit: limit),
                                         events: try await store.events(app: name, limit: limit)))
            } catch {
                return Self.error(.internalServerError, "\(error)")
            }
        }
        router.post("/api/v1/apps/:app/sync") { request, context in
            if let refusal = authorize(request) { return refusal }
            guard let (_, syncer) = await app(context) else { return Self.error(.notFound, "no such app") }
            if await syncer.currentStatus().suspended {
                return Self.error(.conflict, "the app is suspended; resume it first")
            }
            if request.uri.queryParameters.get("wait") == "false" {
                await syncer.trigger(.api)
                return Self.json(await syncer.currentStatus(), status: .accepted)
            }
            return Self.json(await syncer.syncAndWait(.api))
        }
        router.post("/api/v1/apps/:app/suspend") { request, context in
            if let refusal = authorize(request) { return refusal }
            guard let (_, syncer) = await app(context) else { return Self.error(.notFound, "no such app") }
            do { try await syncer.suspend() } catch { return Self.error(.internalServerError, "\(error)") }
            return Self.json(await syncer.currentStatus())
        }
        router.post("/api/v1/apps/:app/resume") { request, context in
            if let refusal = authorize(request) { return refusal }
            guard let (_, syncer) = await app(context) else { return Self.error(.notFound, "no such app") }
            do { try await syncer.resume() } catch { return Self.error(.internalServerError, "\(error)") }
            return Self.json(await syncer.currentStatus(), status: .accepted)
        }
        router.post("/api/v1/apps/:app/rollback") { request, context in
            if let refusal = authorize(request) { return refusal }
            guard let (_, syncer) = await app(context) else { return Self.error(.notFound, "no such app") }
            var target: Int64?
            if let to = request.uri.queryParameters.get("to") {
                guard let id = Int64(to) else { return Self.error(.badRequest, "to=\(to) is not a release number") }
                target = id
            }
            do {
                let release = try await syncer.rollback(to: target)
                return Self.json(release, status: .accepted)
            } catch let error as ServerError {
                return Self.error(.conflict, error.description)
            } catch {
                return Self.error(.internalServerError, "\(error)")
            }
        }
        router.post("/hooks/git") { request, _ in
            guard let secret = webhookSecret, !secret.isEmpty else {
                return Self.error(.forbidden, "webhooks are off: start berth serve with --webhook-secret (BERTH_WEBHOOK_SECRET)")
            }
            var request = request
            let body: ByteBuffer
            do { body = try await request.collectBody(upTo: 8 << 20) } catch {
                return Self.error(.contentTooLarge, "webhook body larger than 8 MiB")
            }
            let bytes = Array(body.readableBytesView)
            let signature = Self.signatureHeader.flatMap { request.headers[$0] }
            guard Auth.signatureMatches(signature, body: bytes, secret: secret) else {
                logger.warning("webhook with a missing or wrong signature refused")
                return Self.error(.unauthorized, "missing or wrong X-Hub-Signature-256 (HMAC-SHA256 of the body with the webhook secret)")
            }
            let event = Self.eventHeaders.lazy.compactMap { request.headers[$0] }.first
            if event == "ping" { return Self.json(Message(message: "pong")) }
            struct Push: Decodable { var ref: String? }
            let ref = (try? JSONDecoder().decode(Push.self, from: Data(bytes)))?.ref
            if let ref, let followed = await supervisor.followedReference, ref != followed {
                return Self.json(Message(message: "push to \(ref) ignored; following \(followed)"), status: .accepted)
            }
            Task { await supervisor.refresh(.webhook) }
            return Self.json(Message(message: "sync triggered"), status: .accepted)
        }
        router.get("/") { _, _ in
            let apps = await supervisor.statuses()
            var histories: [String: [SyncRun]] = [:]
            for a in apps { histories[a.name] = (try? await store.runs(app: a.name, limit: 10)) ?? [] }
            return Self.text(StatusPage.render(apps: apps, runs: histories, repoError: await supervisor.lastRepoError),
                             type: "text/html; charset=utf-8")
        }
        return router
    }
}
