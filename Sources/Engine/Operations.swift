import Curl
import FoundationEssentials
import Platform
import Glibc

// MARK: system

extension EngineClient {
    /// `GET /_ping` (unversioned).
    public func ping() async throws -> Ping {
        let r = try await call(.get, "/_ping", versioned: false, timeout: .seconds(30))
        return Ping(
            apiVersion: r.headers["API-Version"], osType: r.headers["OSType"],
            builderVersion: r.headers["Builder-Version"])
    }

    /// `GET /version` (unversioned, so it works before negotiation).
    public func version() async throws -> EngineVersion {
        let r = try await call(.get, "/version", versioned: false, timeout: .seconds(30))
        return try decode(EngineVersion.self, r, "GET", "/version")
    }

    /// `GET /info`: storage driver, swarm state, server version.
    public func info() async throws -> EngineInfo {
        try await get(EngineInfo.self, "/info")
    }

    /// `GET /events`: returns once subscribed; events then arrive until the sequence is
    /// dropped or cancelled. `filters` as in the API, e.g. `["type": ["container"], "label": ["a=b"]]`.
    public func events(filters: [String: [String]] = [:], since: String? = nil, until: String? = nil) async throws
        -> JSONLines<EngineEvent>
    {
        let path = "/events"
        let r = try await openStream(
            .get, path, query: [("since", since), ("until", until), ("filters", Self.filtersJSON(filters))])
        return JSONLines(body: r.body, describe: { [self] in error(.badResponse, "GET", path, $0) })
    }
}

// MARK: containers

public struct LogOptions: Sendable {
    public var stdout = true
    public var stderr = true
    public var follow = false
    public var timestamps = false
    /// Lines from the end: a number or `all`.
    public var tail: String?
    public var since: String?
    public init(stdout: Bool = true, stderr: Bool = true, follow: Bool = false, timestamps: Bool = false, tail: String? = nil, since: String? = nil) {
        self.stdout = stdout
        self.stderr = stderr
        self.follow = follow
        self.timestamps = timestamps
        self.tail = tail
        self.since = since
    }
}

/// What `wait` waits for.
public enum WaitCondition: String, Sendable {
    case notRunning = "not-running", nextExit = "next-exit", removed
}

extension EngineClient {
    /// `GET /containers/json`. `filters` e.g. `["label": ["com.docker.compose.project=web"]]`.
    public func listContainers(all: Bool = true, filters: [String: [String]] = [:]) async throws -> [ContainerSummary] {
        try await get(
            [ContainerSummary].self, "/containers/json",
            query: [("all", Self.flag(all)), ("filters", Self.filtersJSON(filters))])
    }

    /// `GET /containers/{id}/json`.
    public func inspectContainer(_ id: String) async throws -> ContainerInspect {
        try await get(ContainerInspect.self, "/containers/\(Self.segment(id))/json")
    }

    /// `POST /containers/create`; returns the new container's ID.
    @discardableResult
    public func createContainer(name: String?, _ body: ContainerCreateRequest) async throws -> ContainerCreateResponse {
        let path = "/containers/create"
        let r = try await call(.post, path, query: [("name", name)], body: try encode(body))
        return try decode(ContainerCreateResponse.self, r, "POST", path)
    }

    /// `POST /containers/{id}/start`; starting a running container is not an error.
    public func startContainer(_ id: String) async throws {
        _ = try await call(.post, "/containers/\(Self.segment(id))/start", accepting: [304])
    }

    /// `POST /containers/{id}/stop`: SIGTERM (or the stop signal), then SIGKILL after `timeout`
    /// seconds (nil: the container's own stop timeout). Stopping a stopped container is not an error.
    public func stopContainer(_ id: String, timeout: Int? = nil) async throws {
        _ = try await call(
            .post, "/containers/\(Self.segment(id))/stop", query: [("t", timeout.map(String.init))], accepting: [304],
            timeout: requestTimeout + .seconds(timeout ?? 10))
    }

    /// `POST /containers/{id}/kill`.
    public func killContainer(_ id: String, signal: String? = nil) async throws {
        _ = try await call(.post, "/containers/\(Self.segment(id))/kill", query: [("signal", signal)])
    }

    /// `POST /containers/{id}/rename`.
    public func renameContainer(_ id: String, to newName: String) async throws {
        _ = try await call(.post, "/containers/\(Self.segment(id))/rename", query: [("name", newName)])
    }

    /// `DELETE /containers/{id}`; `volumes` also removes anonymous volumes.
    public func removeContainer(_ id: String, force: Bool = false, volumes: Bool = false) async throws {
        _ = try await call(
            .delete, "/containers/\(Self.segment(id))", query: [("force", Self.flag(force)), ("v", Self.flag(volumes))])
    }

    /// `POST /containers/{id}/wait`: blocks until the condition holds; returns the exit code.
    public func waitContainer(_ id: String, condition: WaitCondition = .notRunning) async throws -> ContainerWaitResponse {
        let path = "/containers/\(Self.segment(id))/wait"
        let r = try await openStream(.post, path, query: [("condition", condition.rawValue)])
        let body = try await r.collect(maxSize: 1 << 20)
        let response = HTTPResponse(status: r.status, headers: r.headers, body: body)
        return try decode(ContainerWaitResponse.self, response, "POST", path)
    }

    /// `GET /containers/{id}/logs`. `tty` says whether the container has a TTY (raw output);
    /// nil asks the engine.
    public func logs(_ id: String, options: LogOptions = LogOptions(), tty: Bool? = nil) async throws -> LogStream {
        var hasTTY = tty
        if hasTTY == nil { hasTTY = try await inspectContainer(id).config?.tty ?? false }
        let r = try await openStream(
            .get, "/containers/\(Self.segment(id))/logs",
            query: [
                ("stdout", Self.flag(options.stdout)), ("stderr", Self.flag(options.stderr)),
                ("follow", Self.flag(options.follow)), ("timestamps", Self.flag(options.timestamps)),
                ("tail", options.tail), ("since", options.since),
            ])
        return LogStream(body: r.body, multiplexed: !(hasTTY ?? false))
    }
}

// MARK: images

extension EngineClient {
    /// `GET /images/json`.
    public func listImages(all: Bool = false, filters: [String: [String]] = [:]) async throws -> [ImageSummary] {
        try await get(
            [ImageSummary].self, "/images/json", query: [("all", Self.flag(all)), ("filters", Self.filtersJSON(filters))])
    }

    /// `GET /images/{name}/json`.
    public func inspectImage(_ name: String) async throws -> ImageInspect {
        try await get(ImageInspect.self, "/images/\(Self.segment(name, keepSlash: true))/json")
    }

    /// `GET /images/{name}/json`, only the image ID and its registry digests: cheaper than
    /// `inspectImage` where that is all a caller needs.
    public func inspectImageIdentity(_ name: String) async throws -> ImageIdentity {
        let path = "/images/\(Self.segment(name, keepSlash: true))/json"
        let r = try await call(.get, path)
        return try scan(r, "GET", path) { try ImageIdentity(json: $0) }
    }

    /// `DELETE /images/{name}`.
    @discardableResult
    public func removeImage(_ name: String, force: Bool = false, noPrune: Bool = false) async throws -> [ImageDeleteItem] {
        let path = "/images/\(Self.segment(name, keepSlash: true))"
        let r = try await call(.delete, path, query: [("force", Self.flag(force)), ("noprune", Self.flag(noPrune))])
        return try decode([ImageDeleteItem].self, r, "DELETE", path)
    }

    /// `POST /images/{name}/tag`: gives `name` the reference `repository:tag`.
    public func tagImage(_ name: String, repository: String, tag: String?) async throws {
        _ = try await call(
            .post, "/images/\(Self.segment(name, keepSlash: true))/tag", query: [("repo", repository), ("tag", tag)])
    }

    /// `POST /images/{name}/tag` with the repository and tag of `reference` (`latest` when it
    /// has none).
    public func tagImage(_ name: String, as reference: String) async throws {
        let (repository, tag) = Self.splitTag(reference)
        try await tagImage(name, repository: repository, tag: tag)
    }

    /// `POST /images/create?fromImage=…`: pulls and reads the progress to the end; an
    /// `error` in the stream (after a 200) throws. `registryAuth` is the base64 JSON of
    /// `X-Registry-Auth` and is never logged.
    public func pullImage(
        _ reference: String, registryAuth: String? = nil, progress: (@Sendable (JSONMessage) -> Void)? = nil
    ) async throws {
        let (image, tag) = Self.splitTag(reference)
        var headers = HTTPHeaders()
        if let registryAuth { headers.add("X-Registry-Auth", registryAuth) }
        let path = "/images/create"
        let r = try await openStream(.post, path, query: [("fromImage", image), ("tag", tag)], headers: headers)
        try await consumeProgress(r, method: "POST", path: path, what: "pull of \(reference)", progress: progress)
    }

    /// Reads a JSON progress stream (pull, push, build) to the end, failing on its first error.
    public func consumeProgress(
        _ response: HTTPStreamingResponse, method: String, path: String, what: String,
        progress: (@Sendable (JSONMessage) -> Void)? = nil
    ) async throws {
        let lines = JSONLines<JSONMessage>(body: response.body, describe: { [self] in error(.badResponse, method, path, $0) })
        for try await message in lines {
            // The failing message goes to `progress` too: a build reports which step failed.
            progress?(message)
            if let failure = message.failure {
                lines.cancel()
                throw error(.streamError, method, path, "\(what) failed: \(failure)")
            }
        }
    }

    /// `registry/repo:tag` → (`registry/repo`, `tag`); a digest reference stays whole.
    public static func splitTag(_ reference: String) -> (String, String?) {
        if reference.contains("@") { return (reference, nil) }
        if let colon = reference.lastIndex(of: ":"), !reference[colon...].contains("/") {
            return (String(reference[..<colon]), String(reference[reference.index(after: colon)...]))
        }
        return (reference, "latest")
    }
}

// MARK: networks

extension EngineClient {
    /// `GET /networks`.
    public func listNetworks(filters: [String: [String]] = [:]) async throws -> [Network] {
        try await get([Network].self, "/networks", query: [("filters", Self.filtersJSON(filters))])
    }

    /// `GET /networks` with only each network's ID, name, driver, scope and labels: cheaper
    /// than `listNetworks` (a host's networks carry their containers and IPAM).
    public func listNetworkSummaries(filters: [String: [String]] = [:]) async throws -> [NetworkSummary] {
        let path = "/networks"
        let r = try await call(.get, path, query: [("filters", Self.filtersJSON(filters))])
        return try scan(r, "GET", path) { try NetworkSummary.list(json: $0) }
    }

    /// `GET /networks/{id}`.
    public func inspectNetwork(_ id: String) async throws -> Network {
        try await get(Network.self, "/networks/\(Self.segment(id))")
    }

    /// `POST /networks/create`; returns the ID.
    @discardableResult
    public func createNetwork(_ request: NetworkCreateRequest) async throws -> String {
        let path = "/networks/create"
        let r = try await call(.post, path, body: try encode(request))
        return try decode(NetworkCreateResponse.self, r, "POST", path).id
    }

    /// `DELETE /networks/{id}`.
    public func removeNetwork(_ id: String) async throws {
        _ = try await call(.delete, "/networks/\(Self.segment(id))")
    }

    /// `POST /networks/{id}/connect`.
    public func connectNetwork(_ network: String, container: String, endpoint: EndpointSettings? = nil) async throws {
        struct Body: Encodable {
            var container: String
            var endpointConfig: EndpointSettings?
            enum CodingKeys: String, CodingKey { case container = "Container", endpointConfig = "EndpointConfig" }
        }
        _ = try await call(
            .post, "/networks/\(Self.segment(network))/connect",
            body: try encode(Body(container: container, endpointConfig: endpoint)))
    }

    /// `POST /networks/{id}/disconnect`.
    public func disconnectNetwork(_ network: String, container: String, force: Bool = false) async throws {
        struct Body: Encodable {
            var container: String
            var force: Bool
            enum CodingKeys: String, CodingKey { case container = "Container", force = "Force" }
        }
        _ = try await call(
            .post, "/networks/\(Self.segment(network))/disconnect",
            body: try encode(Body(container: container, force: force)))
    }
}

// MARK: volumes

extension EngineClient {
    /// `GET /volumes`.
    public func listVolumes(filters: [String: [String]] = [:]) async throws -> [Volume] {
        try await get(VolumeListResponse.self, "/volumes", query: [("filters", Self.filtersJSON(filters))]).volumes ?? []
    }

    /// `GET /volumes/{name}`.
    public func inspectVolume(_ name: String) async throws -> Volume {
        try await get(Volume.self, "/volumes/\(Self.segment(name))")
    }

    /// `POST /volumes/create`.
    @discardableResult
    public func createVolume(_ request: VolumeCreateRequest) async throws -> Volume {
        let path = "/volumes/create"
        let r = try await call(.post, path, body: try encode(request))
        return try decode(Volume.self, r, "POST", path)
    }

    /// `DELETE /volumes/{name}`.
    public func removeVolume(_ name: String, force: Bool = false) async throws {
        _ = try await call(.delete, "/volumes/\(Self.segment(name))", query: [("force", Self.flag(force))])
    }
}

// MARK: build and export

/// Query options of `POST /build` (the engine's classic builder).
public struct ImageBuildOptions: Sendable {
    /// `name:tag` references to give the result.
    public var tags: [String]
    /// Path of the Dockerfile inside the context.
    public var dockerfile: String?
    public var buildArgs: [String: String]
    public var labels: [String: String]
    public var target: String?
    /// Always try to pull newer base images.
    public var pull: Bool
    public var noCache: Bool
    /// Remove intermediate containers, also after a failed build.
    public var forceRemove: Bool
    public var networkMode: String?
    public var platform: String?

    public init(
        tags: [String] = [], dockerfile: String? = nil, buildArgs: [String: String] = [:], labels: [String: String] = [:],
        target: String? = nil, pull: Bool = false, noCache: Bool = false, forceRemove: Bool = true,
        networkMode: String? = nil, platform: String? = nil
    ) {
        self.tags = tags
        self.dockerfile = dockerfile
        self.buildArgs = buildArgs
        self.labels = labels
        self.target = target
        self.pull = pull
        self.noCache = noCache
        self.forceRemove = forceRemove
        self.networkMode = networkMode
        self.platform = platform
    }
}

extension EngineClient {
    /// `POST /build` with a tar context (`.file` or `.stream`, never held in memory). Reads the
    /// output to the end; an error in it (even after a 200) throws `EngineError` with kind
    /// `.streamError`. Returns the built image ID when the engine reports it.
    /// `registryConfig` is the base64 JSON of `X-Registry-Config` and is never logged.
    @discardableResult
    public func buildImage(
        context: HTTPBody, options: ImageBuildOptions, registryConfig: String? = nil,
        progress: (@Sendable (JSONMessage) -> Void)? = nil
    ) async throws -> String? {
        func json(_ d: [String: String]) -> String? {
            guard !d.isEmpty, let data = try? JSONEncoder().encode(d) else { return nil }
            return String(decoding: data, as: UTF8.self)
        }
        var query: Query = options.tags.map { ("t", $0) }
        query += [
            ("dockerfile", options.dockerfile), ("buildargs", json(options.buildArgs)), ("labels", json(options.labels)),
            ("target", options.target), ("pull", options.pull ? "1" : nil), ("nocache", options.noCache ? "1" : nil),
            ("rm", "1"), ("forcerm", Self.flag(options.forceRemove)), ("networkmode", options.networkMode),
            ("platform", options.platform),
        ]
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/x-tar")
        if let registryConfig { headers.add("X-Registry-Config", registryConfig) }
        let path = "/build"
        let r = try await openStream(.post, path, query: query, body: context, headers: headers)
        let imageID = ImageIDBox()
        try await consumeProgress(r, method: "POST", path: path, what: "build of \(options.tags.first ?? "image")") {
            if let id = $0.aux?.id { imageID.set(id) }
            progress?($0)
        }
        return imageID.value
    }

    /// `GET /images/{name}/get`: the image as a `docker save` tar, streamed.
    public func exportImage(_ name: String) async throws -> HTTPBodyStream {
        try await openStream(.get, "/images/\(Self.segment(name, keepSlash: true))/get").body
    }
}

private final class ImageIDBox: @unchecked Sendable {
    private let lock = Lock()
    private var id: String?
    func set(_ v: String) { lock.withLock { id = v } }
    var value: String? { lock.withLock { id } }
}
