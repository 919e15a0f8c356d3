import Engine
import Logging

/// One reconcile of one project: read the host, plan, and (unless dry-run) apply.
public struct Reconciler: Sendable {
    let engine: EngineClient
    let logger: Logger

    public init(engine: EngineClient, logger: Logger) {
        self.engine = engine
        self.logger = logger
    }

    /// The host's side: one filtered container list, plus the network and volume lists.
    public func actualState(project: String) async throws -> ActualState {
        async let containers = engine.listContainers(all: true, filters: ["label": ["\(Labels.project)=\(project)"]])
        async let networks = engine.listNetworks()
        async let volumes = engine.listVolumes()
        return ActualState(containers: try await containers.map(ActualContainer.init),
                           networks: Set(try await networks.map(\.name)),
                           volumes: try await volumes.map { ActualVolume(name: $0.name, labels: $0.labels ?? [:]) })
    }

    /// Everything that must hold before anything changes: external networks and volumes exist.
    public func validate(_ desired: DesiredProject, actual: ActualState) throws {
        for network in desired.networks where network.external && !actual.networks.contains(network.name) {
            throw ReconcileError.externalMissing(kind: "network", name: network.name)
        }
        for volume in desired.volumes where volume.external && !actual.volumes.contains(where: { $0.name == volume.name }) {
            throw ReconcileError.externalMissing(kind: "volume", name: volume.name)
        }
    }
}

/// Turns `image:` references into the image IDs that specs pin, pulling when allowed.
public actor ImageResolver {
    public enum PullPolicy: String, Sendable {
        case always, never, missing, build
        /// compose's spellings: `if_not_present` is `missing`; `daily`/`weekly` are treated as missing.
        public init(compose value: String?) {
            switch value {
            case "always": self = .always
            case "never": self = .never
            case "build": self = .build
            default: self = .missing
            }
        }
    }

    let engine: EngineClient
    let logger: Logger
    var cache: [String: String] = [:]
    /// Resolutions under way: services that share an image wait for the first one's inspect
    /// (and pull) instead of each sending their own. Twenty services on one image sent twenty
    /// inspects at once, and with a missing image twenty pulls.
    var resolving: [String: Task<String, any Error>] = [:]

    public init(engine: EngineClient, logger: Logger) {
        self.engine = engine
        self.logger = logger
    }

    /// The local image ID for `reference`, pulled first when missing (or always, by policy).
    public func resolve(_ reference: String, service: String, policy: PullPolicy) async throws -> String {
        let key = "\(reference)|\(policy.rawValue)"
        if let id = cache[key] { return id }
        // The waiters all belong to one build: when it is cancelled, so is the shared pull.
        if let running = resolving[key] {
            return try await withTaskCancellationHandler { try await running.value } onCancel: { running.cancel() }
        }
        let task = Task { try await fetch(reference, service: service, policy: policy) }
        resolving[key] = task
        defer { resolving[key] = nil }
        let id = try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
        cache[key] = id
        return id
    }

    private func fetch(_ reference: String, service: String, policy: PullPolicy) async throws -> String {
        if policy == .always {
            try await pull(reference, service: service)
        }
        do {
            return try await engine.inspectImage(reference).id
        } catch let e as EngineError where e.isNotFound {
            guard policy == .missing || policy == .build else {
                throw ReconcileError.imageNotFound(service: service, image: reference,
                                                   reason: "not on this host and pull_policy is \(policy.rawValue)")
            }
        }
        try await pull(reference, service: service)
        return try await engine.inspectImage(reference).id
    }

    private func pull(_ reference: String, service: String) async throws {
        logger.info("pulling \(reference)")
        do {
            try await engine.pullImage(reference)
        } catch {
            throw ReconcileError.imageNotFound(service: service, image: reference, reason: "pull failed: \(error)")
        }
    }
}
