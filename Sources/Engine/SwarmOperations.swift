import Curl
import FoundationEssentials
import Glibc

// MARK: swarm

extension EngineClient {
    /// `GET /swarm`; fails with 503 when this engine is not a swarm manager.
    public func inspectSwarm() async throws -> SwarmInspect {
        try await get(SwarmInspect.self, "/swarm")
    }

    /// `POST /swarm/init`; returns the new node's ID.
    @discardableResult
    public func initSwarm(_ request: SwarmInitRequest) async throws -> String {
        let path = "/swarm/init"
        let r = try await call(.post, path, body: try encode(request))
        return try decode(String.self, r, "POST", path)
    }

    /// `POST /swarm/leave`.
    public func leaveSwarm(force: Bool = false) async throws {
        _ = try await call(.post, "/swarm/leave", query: [("force", Self.flag(force))])
    }
}

// MARK: services

extension EngineClient {
    /// `GET /services`. `filters` e.g. `["label": ["com.docker.stack.namespace=web"]]`;
    /// `status` adds running and desired task counts (`ServiceStatus`).
    public func listServices(filters: [String: [String]] = [:], status: Bool = false) async throws -> [SwarmService] {
        try await get(
            [SwarmService].self, "/services",
            query: [("filters", Self.filtersJSON(filters)), ("status", status ? "true" : nil)])
    }

    /// `GET /services` read for planning: each service's ID, version, name, labels, replicas,
    /// image and update state, with its JSON kept for `SwarmServiceSummary.full()`. Far
    /// cheaper than `listServices` for a short-lived command.
    public func listServiceSummaries(filters: [String: [String]] = [:]) async throws -> [SwarmServiceSummary] {
        let path = "/services"
        let r = try await call(.get, path, query: [("filters", Self.filtersJSON(filters))])
        return try scan(r, "GET", path) { try SwarmServiceSummary.list(json: $0) }
    }

    /// `GET /services/{id}`.
    public func inspectService(_ id: String) async throws -> SwarmService {
        try await get(SwarmService.self, "/services/\(Self.segment(id))")
    }

    /// `POST /services/create`. `registryAuth` is the base64 JSON of `X-Registry-Auth`, passed
    /// on to the nodes that pull the image; it is never logged.
    @discardableResult
    public func createService(_ spec: ServiceSpec, registryAuth: String? = nil) async throws -> ServiceCreateResponse {
        var headers = HTTPHeaders()
        if let registryAuth { headers.add("X-Registry-Auth", registryAuth) }
        let path = "/services/create"
        let r = try await call(.post, path, body: try encode(spec), headers: headers)
        return try decode(ServiceCreateResponse.self, r, "POST", path)
    }

    /// `POST /services/{id}/update`. `version` is the service's `Version.Index` as read: the
    /// engine refuses the update (409/500 "update out of sequence") when someone changed the
    /// service in between. The spec replaces the whole current spec.
    @discardableResult
    public func updateService(_ id: String, version: UInt64, spec: ServiceSpec, registryAuth: String? = nil)
        async throws -> ServiceUpdateResponse
    {
        var headers = HTTPHeaders()
        if let registryAuth { headers.add("X-Registry-Auth", registryAuth) }
        let path = "/services/\(Self.segment(id))/update"
        let r = try await call(.post, path, query: [("version", String(version))], body: try encode(spec), headers: headers)
        return try decode(ServiceUpdateResponse.self, r, "POST", path)
    }

    /// `DELETE /services/{id}`.
    public func removeService(_ id: String) async throws {
        _ = try await call(.delete, "/services/\(Self.segment(id))")
    }

    /// `GET /tasks`. `filters` e.g. `["service": ["web_api"], "desired-state": ["running"]]`.
    public func listTasks(filters: [String: [String]] = [:]) async throws -> [SwarmTask] {
        try await get([SwarmTask].self, "/tasks", query: [("filters", Self.filtersJSON(filters))])
    }
}

// MARK: secrets and configs

extension EngineClient {
    /// `GET /secrets`.
    public func listSecrets(filters: [String: [String]] = [:]) async throws -> [SwarmObject] {
        let path = "/secrets"
        let r = try await call(.get, path, query: [("filters", Self.filtersJSON(filters))])
        return try scan(r, "GET", path) { try SwarmObject.list(json: $0) }
    }

    /// `POST /secrets/create`; returns the ID.
    @discardableResult
    public func createSecret(_ spec: SwarmObjectSpec) async throws -> String {
        let path = "/secrets/create"
        let r = try await call(.post, path, body: try encode(spec))
        return try decode(IDResponse.self, r, "POST", path).id
    }

    /// `DELETE /secrets/{id}`; refused while a service uses the secret.
    public func removeSecret(_ id: String) async throws {
        _ = try await call(.delete, "/secrets/\(Self.segment(id))")
    }

    /// `GET /configs`.
    public func listConfigs(filters: [String: [String]] = [:]) async throws -> [SwarmObject] {
        let path = "/configs"
        let r = try await call(.get, path, query: [("filters", Self.filtersJSON(filters))])
        return try scan(r, "GET", path) { try SwarmObject.list(json: $0) }
    }

    /// `POST /configs/create`; returns the ID.
    @discardableResult
    public func createConfig(_ spec: SwarmObjectSpec) async throws -> String {
        let path = "/configs/create"
        let r = try await call(.post, path, body: try encode(spec))
        return try decode(IDResponse.self, r, "POST", path).id
    }

    /// `DELETE /configs/{id}`; refused while a service uses the config.
    public func removeConfig(_ id: String) async throws {
        _ = try await call(.delete, "/configs/\(Self.segment(id))")
    }
}
