import Curl
import FoundationEssentials
import Platform
import Glibc
import Logging
import Synchronization

/// The manifest format a push writes.
public enum ManifestFormat: String, Sendable, CaseIterable {
    /// `application/vnd.docker.distribution.manifest.v2+json` (what `docker push` writes).
    case docker
    /// `application/vnd.oci.image.manifest.v1+json`.
    case oci

    public var manifestMediaType: String {
        switch self {
        case .docker: return "application/vnd.docker.distribution.manifest.v2+json"
        case .oci: return "application/vnd.oci.image.manifest.v1+json"
        }
    }
    var configMediaType: String {
        switch self {
        case .docker: return "application/vnd.docker.container.image.v1+json"
        case .oci: return "application/vnd.oci.image.config.v1+json"
        }
    }
    var layerMediaType: String {
        switch self {
        case .docker: return "application/vnd.docker.image.rootfs.diff.tar.gzip"
        case .oci: return "application/vnd.oci.image.layer.v1.tar+gzip"
        }
    }
}

/// An OCI distribution client over libcurl: blob existence, cross-repo mounts, uploads,
/// manifests, with auth and retries. Safe to share.
public final class RegistryClient: Sendable {
    public struct Options: Sendable {
        /// Allow plain http (and skip nothing else) for hosts that are not loopback.
        public var insecure: Bool
        /// Blobs uploaded at once.
        public var parallelUploads: Int
        /// Blobs up to this size go in one PUT; bigger ones in PATCH chunks of `chunkSize`.
        public var monolithicLimit: Int64
        public var chunkSize: Int64
        /// Tries per request or blob upload, for 5xx, 429 and lost connections.
        public var maxAttempts: Int
        /// First back-off pause; doubles per attempt.
        public var initialBackoff: Duration
        public var compressor: LayerCompressor
        /// Where compressed layers wait for upload.
        public var temporaryDirectory: URL
        /// Members of a `docker save` stream up to this size are held in memory; bigger ones are
        /// compressed as they arrive, or spooled to a file.
        public var streamMemberLimit: Int64 = 4 << 20

        public init(
            insecure: Bool = false, parallelUploads: Int = 3, monolithicLimit: Int64 = 512 << 20,
            chunkSize: Int64 = 64 << 20, maxAttempts: Int = 5, initialBackoff: Duration = .milliseconds(500),
            compressor: LayerCompressor = LayerCompressor(),
            temporaryDirectory: URL = FileManager.default.temporaryDirectory
        ) {
            self.insecure = insecure
            self.parallelUploads = max(1, parallelUploads)
            self.monolithicLimit = monolithicLimit
            self.chunkSize = max(1 << 20, chunkSize)
            self.maxAttempts = max(1, maxAttempts)
            self.initialBackoff = initialBackoff
            self.compressor = compressor
            self.temporaryDirectory = temporaryDirectory
        }
    }

    public let http: HTTPClient
    public let options: Options
    let logger: Logger
    let auth: Authenticator
    /// Blob locations seen by this client when the caller gives no cache.
    let memoryCache = BlobCache(directory: nil)
    /// Loopback registries found to speak https (they answered plain http with 400).
    let httpsRegistries = Mutex<Set<String>>([])

    public init(http: HTTPClient, credentials: CredentialStore = CredentialStore(), options: Options = Options(), logger: Logger) {
        self.http = http
        self.options = options
        self.logger = logger
        auth = Authenticator(http: http, credentials: credentials, insecure: options.insecure, logger: logger)
    }

    // MARK: URLs

    /// `http(s)://host/v2/`: plain http only for loopback hosts or with `insecure`, unless the
    /// registry turned out to want https.
    func base(_ registry: String) -> String {
        let plain = (options.insecure || ImageReference.isLoopback(host: registry))
            && !httpsRegistries.withLock { $0.contains(registry) }
        let host = registry == "docker.io" ? "registry-1.docker.io" : registry
        return (plain ? "http://" : "https://") + host + "/v2/"
    }

    func repoURL(_ ref: ImageReference, _ path: String) -> String {
        base(ref.registry) + ref.repository + "/" + path
    }

    static func pushScope(_ ref: ImageReference) -> String { "repository:\(ref.repository):pull,push" }
    static func pullScope(_ ref: ImageReference) -> String { "repository:\(ref.repository):pull" }

    // MARK: sending

    /// Sends with auth: a 401 teaches the challenge and the request is repeated once with
    /// credentials. Idempotent requests are retried with back-off on 5xx, 429 and lost
    /// connections; others return whatever came back (the caller restarts its sequence).
    func send(
        _ request: HTTPRequest, registry: String, scopes: [String], idempotent: Bool, maxBodySize: Int = 16 << 20
    ) async throws -> HTTPResponse {
        var attempt = 0
        var reauthenticated = false
        let replayable: Bool = { if case .stream = request.body { return false } else { return true } }()
        while true {
            attempt += 1
            var req = request
            if let value = try await auth.authorization(registry: registry, scopes: scopes) {
                req.headers.set("Authorization", value)
            }
            let response: HTTPResponse
            do {
                response = try await http.send(req, maxBodySize: maxBodySize)
            } catch let e as CurlError {
                let err = RegistryError.transport(e)
                if idempotent && replayable && err.isRetryable && attempt < options.maxAttempts {
                    try await pause(attempt, retryAfter: nil, because: err.description)
                    continue
                }
                throw err
            }
            // A loopback registry behind TLS answers plain http with 400 ("Client sent an HTTP
            // request to an HTTPS server"): switch it to https for good and send again.
            if response.status == 400, req.url.hasPrefix("http://"), replayable {
                var https = Self.mentionsHTTPS(response.body)
                if !https && request.method == .head { https = await wantsHTTPS(registry) }
                if https {
                    httpsRegistries.withLock { _ = $0.insert(registry) }
                    logger.debug("registry speaks https", metadata: ["registry": "\(registry)"])
                    var upgraded = request
                    upgraded.url = "https://" + request.url.dropFirst("http://".count)
                    return try await send(upgraded, registry: registry, scopes: scopes, idempotent: idempotent,
                        maxBodySize: maxBodySize)
                }
            }
            if response.status == 401 && !reauthenticated && replayable,
                let header = response.headers["WWW-Authenticate"], let challenge = AuthChallenge.parse(header)
            {
                reauthenticated = true
                await auth.learn(challenge, registry: registry, scopes: scopes)
                if try await auth.authorization(registry: registry, scopes: scopes) != nil { continue }
                return response
            }
            if idempotent && (response.status >= 500 || response.status == 429) && attempt < options.maxAttempts {
                let retryAfter = response.headers["Retry-After"].flatMap { Double($0.trimming(.whitespaces)) }
                try await pause(attempt, retryAfter: retryAfter, because: "\(req.redactedTarget) answered \(response.status)")
                continue
            }
            return response
        }
    }

    /// Runs a push step; a 401 while credentials were sent says whose credentials were refused.
    func explainingRefusedCredentials<T>(_ registry: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch var e as RegistryError where e.kind == .unauthorized {
            if let c = auth.credentials.credentials(for: registry), !e.hint.contains("refused") {
                e.hint = "\(registry) refused the credentials of user \(c.username): check the user name and password "
                    + "(--username with --password-stdin, BERTH_REGISTRY_USER/BERTH_REGISTRY_PASSWORD, or `docker login \(registry)`)"
            }
            throw e
        }
    }

    static func mentionsHTTPS(_ body: Data) -> Bool {
        String(decoding: body.prefix(512), as: UTF8.self).lowercased().contains("https")
    }

    /// A HEAD's 400 has no body to read the reason from: ask `GET /v2/` over plain http.
    private func wantsHTTPS(_ registry: String) async -> Bool {
        let probe = HTTPRequest(method: .get, url: "http://\(registry)/v2/", timeout: .seconds(10))
        guard let r = try? await http.send(probe, maxBodySize: 1 << 16) else { return false }
        return r.status == 400 && Self.mentionsHTTPS(r.body)
    }

    /// A registry's `Retry-After` seconds as a pause: never negative, at most a minute, and
    /// NaN or infinite values from a hostile header cannot trap.
    package static func delay(retryAfter seconds: Double) -> Duration {
        .milliseconds(Int(min(60, max(0, seconds)) * 1000))
    }

    func pause(_ attempt: Int, retryAfter: Double?, because reason: String) async throws {
        var delay = options.initialBackoff * (1 << min(attempt - 1, 5))
        if let retryAfter { delay = Self.delay(retryAfter: retryAfter) }
        logger.info("retrying", metadata: ["reason": "\(reason)", "attempt": "\(attempt + 1)", "delay": "\(delay)"])
        try await Task.sleep(for: delay)
    }

    /// Learns how the registry authenticates (`GET /v2/`), so uploads carry credentials from
    /// their first byte instead of being sent twice.
    func prepare(_ ref: ImageReference, scopes: [String]) async throws {
        if await auth.hasChallenge(for: ref.registry) {
            _ = try await auth.authorization(registry: ref.registry, scopes: scopes)
            return
        }
        let request = HTTPRequest(method: .get, url: base(ref.registry), timeout: .seconds(30))
        let response = try await send(request, registry: ref.registry, scopes: scopes, idempotent: true)
        guard response.isSuccess else {
            if response.status == 404 {
                throw RegistryError(.invalidResponse, "\(ref.registry) does not speak the registry API (GET /v2/ answered 404)",
                    request: request.redactedTarget, hint: "Check the registry address and port")
            }
            throw RegistryError.from(response: response, request: request, doing: "connecting to \(ref.registry)")
        }
    }

    // MARK: blobs and manifests

    /// The blob's size when `ref`'s repository has it, nil when not.
    public func blobExists(_ digest: String, in ref: ImageReference) async throws -> Int64? {
        let request = HTTPRequest(method: .head, url: repoURL(ref, "blobs/\(digest)"), timeout: .seconds(60))
        let response = try await send(request, registry: ref.registry, scopes: [Self.pullScope(ref)], idempotent: true)
        switch response.status {
        case 200: return response.headers["Content-Length"].flatMap { Int64($0) } ?? 0
        case 404: return nil
        default: throw RegistryError.from(response: response, request: request, doing: "checking blob \(digest)")
        }
    }

    /// The digest of the manifest `ref` names, nil when there is none.
    public func manifestDigest(of ref: ImageReference) async throws -> String? {
        var headers = HTTPHeaders()
        headers.add("Accept", [
            ManifestFormat.docker.manifestMediaType, ManifestFormat.oci.manifestMediaType,
            "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.oci.image.index.v1+json",
        ].joined(separator: ", "))
        let request = HTTPRequest(method: .head, url: repoURL(ref, "manifests/\(ref.manifestReference)"), headers: headers,
            timeout: .seconds(60))
        let response = try await send(request, registry: ref.registry, scopes: [Self.pullScope(ref)], idempotent: true)
        switch response.status {
        case 200: return response.headers["Docker-Content-Digest"]
        case 404: return nil
        default: throw RegistryError.from(response: response, request: request, doing: "looking up manifest \(ref)")
        }
    }

    /// Fetches a manifest's bytes and media type.
    public func manifest(of ref: ImageReference) async throws -> (data: Data, mediaType: String, digest: String) {
        var headers = HTTPHeaders()
        headers.add("Accept", [ManifestFormat.docker.manifestMediaType, ManifestFormat.oci.manifestMediaType].joined(separator: ", "))
        let request = HTTPRequest(method: .get, url: repoURL(ref, "manifests/\(ref.manifestReference)"), headers: headers,
            timeout: .seconds(60))
        let response = try await send(request, registry: ref.registry, scopes: [Self.pullScope(ref)], idempotent: true)
        guard response.isSuccess else {
            throw RegistryError.from(response: response, request: request, doing: "fetching manifest \(ref)")
        }
        return (response.body, response.headers["Content-Type"] ?? "", Digest.of(response.body))
    }

    /// Stores a manifest under `ref`'s tag (or digest) and checks the registry's digest.
    public func putManifest(_ data: Data, mediaType: String, to ref: ImageReference) async throws -> String {
        let digest = Digest.of(data)
        if let pinned = ref.digest, ref.tag == nil, pinned != digest {
            throw RegistryError(.digestMismatch, "the manifest's digest \(digest) differs from the reference's \(pinned)",
                hint: "Push to a tag, or to the digest the image actually has")
        }
        var headers = HTTPHeaders()
        headers.add("Content-Type", mediaType)
        let request = HTTPRequest(method: .put, url: repoURL(ref, "manifests/\(ref.manifestReference)"), headers: headers,
            body: .data(data), timeout: .seconds(120))
        let response = try await send(request, registry: ref.registry, scopes: [Self.pushScope(ref)], idempotent: true)
        guard response.isSuccess else {
            throw RegistryError.from(response: response, request: request, doing: "storing manifest \(ref)")
        }
        if let theirs = response.headers["Docker-Content-Digest"], theirs != digest {
            throw RegistryError(.digestMismatch, "the registry stored the manifest as \(theirs), not \(digest)",
                request: request.redactedTarget, hint: "The registry rewrote the manifest; push with the other --format")
        }
        return digest
    }

    /// What to upload for a blob.
    public enum BlobSource: Sendable {
        case data(Data)
        case file(path: String)
    }

    public enum BlobAction: String, Sendable { case skipped, mounted, uploaded }

    /// Makes sure `ref`'s repository has the blob: nothing when it exists, a cross-repo mount
    /// when `mountFrom` lists a repository of the same registry holding it, else an upload
    /// (retried from the start on 5xx, 429 and lost connections). Returns what was done and the
    /// bytes sent.
    public func ensureBlob(
        _ digest: String, size: Int64, source: BlobSource, in ref: ImageReference, mountFrom: [String] = []
    ) async throws -> (BlobAction, Int64) {
        if try await blobExists(digest, in: ref) != nil { return (.skipped, 0) }
        var session: String?
        switch try await mountOrSession(digest, into: ref, candidates: mountFrom) {
        case .mounted: return (.mounted, 0)
        case .session(let s): session = s
        case .none: break
        }
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await upload(digest, size: size, source: source, to: ref, session: session)
                return (.uploaded, size)
            } catch let e as RegistryError where (e.isRetryable || e.isLostUploadSession) && attempt < options.maxAttempts {
                // Always a new session: the old one may hold part of the bytes, or be gone.
                session = nil
                try await pause(attempt, retryAfter: e.retryAfter, because: e.description)
            }
        }
    }

    /// Mounts `digest` into `ref`'s repository from the first of `candidates`
    /// (`registry/repository` names) on the same registry; false when that is not possible.
    public func mount(_ digest: String, into ref: ImageReference, candidates: [String]) async throws -> Bool {
        if case .mounted = try await mountOrSession(digest, into: ref, candidates: candidates) { return true }
        return false
    }

    enum MountOutcome { case mounted, session(String), none }

    func mountOrSession(_ digest: String, into ref: ImageReference, candidates: [String]) async throws -> MountOutcome {
        let prefix = ref.registry + "/"
        guard let from = candidates.first(where: { $0.hasPrefix(prefix) && $0 != ref.name }) else { return .none }
        let fromRepo = String(from.dropFirst(prefix.count))
        let url = repoURL(ref, "blobs/uploads/") + "?mount=\(digest)&from=\(fromRepo)"
        let request = HTTPRequest(method: .post, url: url, timeout: .seconds(60))
        let scopes = [Self.pushScope(ref), "repository:\(fromRepo):pull"]
        let response: HTTPResponse
        do {
            response = try await send(request, registry: ref.registry, scopes: scopes, idempotent: false)
        } catch let e as RegistryError where e.isRetryable {
            return .none  // the upload path retries on its own
        }
        if response.status == 201 {
            logger.debug("mounted blob", metadata: ["digest": "\(digest)", "from": "\(fromRepo)"])
            return .mounted
        }
        if response.status == 202, let location = response.headers["Location"] { return .session(location) }
        logger.debug("mount refused; uploading instead", metadata: ["status": "\(response.status)"])
        return .none
    }

    private func absolute(_ location: String, _ ref: ImageReference) -> String {
        if location.hasPrefix("http://") || location.hasPrefix("https://") { return location }
        let b = base(ref.registry)  // scheme://host/v2/
        let hostEnd = b.ranges(of: "/v2/").last?.lowerBound ?? b.endIndex
        return String(b[..<hostEnd]) + (location.hasPrefix("/") ? location : "/" + location)
    }

    private func upload(_ digest: String, size: Int64, source: BlobSource, to ref: ImageReference, session: String?) async throws {
        let scopes = [Self.pushScope(ref)]
        var location: String
        if let session {
            location = absolute(session, ref)
        } else {
            let request = HTTPRequest(method: .post, url: repoURL(ref, "blobs/uploads/"), timeout: .seconds(60))
            let response = try await send(request, registry: ref.registry, scopes: scopes, idempotent: false)
            guard response.status == 202, let l = response.headers["Location"] else {
                if response.isSuccess {
                    throw RegistryError(.invalidResponse, "starting an upload answered \(response.status) without Location",
                        request: request.redactedTarget, hint: "The registry does not follow the distribution API")
                }
                throw RegistryError.from(response: response, request: request, doing: "starting the upload of \(digest)")
            }
            location = absolute(l, ref)
        }
        let chunked = size > options.monolithicLimit
        var finalBody = HTTPBody.none
        if !chunked {
            switch source {
            case .data(let d): finalBody = .data(d)
            case .file(let path): finalBody = .file(path: path)
            }
        } else {
            var offset: Int64 = 0
            while offset < size {
                let length = min(options.chunkSize, size - offset)
                var headers = HTTPHeaders()
                headers.add("Content-Type", "application/octet-stream")
                headers.add("Content-Range", "\(offset)-\(offset + length - 1)")
                let body: HTTPBody
                switch source {
                case .data(let d):
                    body = .data(d.subdata(in: (d.startIndex + Int(offset))..<(d.startIndex + Int(offset + length))))
                case .file(let path): body = Self.fileRegion(path, offset: offset, length: length)
                }
                let request = HTTPRequest(method: .patch, url: location, headers: headers, body: body, timeout: nil)
                let response = try await send(request, registry: ref.registry, scopes: scopes, idempotent: false)
                guard response.status == 202 else {
                    throw RegistryError.from(response: response, request: request, doing: "uploading a chunk of \(digest)")
                }
                if let l = response.headers["Location"] { location = absolute(l, ref) }
                offset += length
            }
        }
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/octet-stream")
        let url = location + (location.contains("?") ? "&" : "?") + "digest=\(digest)"
        let request = HTTPRequest(method: .put, url: url, headers: headers, body: finalBody, timeout: nil)
        let response = try await send(request, registry: ref.registry, scopes: scopes, idempotent: false)
        guard response.status == 201 || response.status == 204 || response.status == 200 else {
            throw RegistryError.from(response: response, request: request, doing: "uploading blob \(digest)")
        }
        if let theirs = response.headers["Docker-Content-Digest"], theirs != digest {
            throw RegistryError(.digestMismatch, "the registry stored the blob as \(theirs), not \(digest)",
                request: request.redactedTarget, hint: "The upload was damaged on the way; push again")
        }
    }

    /// A body of `length` bytes of `path` from `offset`, read while sending.
    static func fileRegion(_ path: String, offset: Int64, length: Int64) -> HTTPBody {
        let stream = AsyncThrowingStream<Data, any Error> { continuation in
            let task = Task {
                do {
                    let reader = try BlockReader(.file(path: path, offset: offset, length: length))
                    defer { reader.close() }
                    var done: Int64 = 0
                    while done < length {
                        try Task.checkCancellation()
                        let n = Int(min(1 << 20, length - done))
                        continuation.yield(try reader.read(at: done, count: n))
                        done += Int64(n)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
        return .stream(stream, length: length)
    }
}
