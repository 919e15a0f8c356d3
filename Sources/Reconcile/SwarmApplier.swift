import Compose
import Engine
import FoundationEssentials
import Glibc
import Logging

/// Reads the swarm's side of a stack and checks what must hold before anything changes.
public struct SwarmReconciler: Sendable {
    let engine: EngineClient
    let logger: Logger

    public init(engine: EngineClient, logger: Logger) {
        self.engine = engine
        self.logger = logger
    }

    /// The stack `project` describes and the swarm's side of it, in one round of calls: the
    /// images resolve while the state is read, and an engine that is no manager is reported
    /// before a missing image. Secrets and configs are listed only when the file declares some
    /// or `prune` is on (the plan looks at them only then), the networks only when the services
    /// do not prove them (`provenNetworks`).
    public func read(_ project: Project, context: DesiredStateBuilder.Context = .init(),
                     prune: Bool) async throws -> (stack: SwarmStack, actual: SwarmActualState) {
        async let current = actualState(stack: project.name, networks: false, secrets: prune || !project.secrets.isEmpty,
                                        configs: prune || !project.configs.isEmpty)
        async let built = SwarmStackBuilder(engine: engine, logger: logger).build(project, context: context)
        var actual = try await current
        let stack = try await built
        if let proven = Self.provenNetworks(stack, services: actual.services) {
            actual.networks = proven
        } else {
            actual.networks = try await engine.listNetworkSummaries()
        }
        return (stack, actual)
    }

    /// The stack's services (one filtered list), the networks, and the secrets and configs,
    /// in parallel. Fails unless this engine is an active swarm manager: services live in the
    /// managers' store, and the service list is refused elsewhere (503), which is then worded
    /// from `GET /info`. `secrets` / `configs` false skips a list the plan will not look at:
    /// a stack that declares none, planned without pruning (see `SwarmPlanner`). `networks`
    /// false leaves the networks for the caller to prove or list once the services are known.
    public func actualState(stack: String, networks: Bool = true, secrets: Bool = true,
                            configs: Bool = true) async throws -> SwarmActualState {
        async let services = engine.listServiceSummaries(filters: ["label": ["\(SwarmLabels.namespace)=\(stack)"]])
        async let networkList = networks ? engine.listNetworkSummaries() : []
        async let secretList = secrets ? engine.listSecrets() : []
        async let configList = configs ? engine.listConfigs() : []
        let found: [SwarmServiceSummary]
        do {
            found = try await services
        } catch let e as EngineError where e.status == 503 || e.status == 406 {
            throw try await notManager()
        }
        return SwarmActualState(services: found, networks: try await networkList,
                                secrets: try await secretList, configs: try await configList)
    }

    /// The stack's networks, proven by its services, or nil when some are not. A swarm service
    /// attaches only to swarm-scoped networks, and the engine refuses to remove a network a
    /// service uses; so each network that a service still runs with, per its spec-hash label,
    /// exists as a swarm network. When every network of the stack is proven so (a run with
    /// nothing to do), the slowest read of a no-op is not made. Proven networks carry no ID:
    /// the IDs only name networks in the reasons of a service that changed, and such a service
    /// proves nothing.
    public static func provenNetworks(_ desired: SwarmStack, services: [SwarmServiceSummary]) -> [NetworkSummary]? {
        var attached: Set<String> = []
        for service in desired.services {
            guard let current = services.first(where: { $0.name == service.name }),
                  current.labels?[SwarmLabels.namespace] == desired.name,
                  current.labels?[SwarmLabels.specHash] == service.specHash
            else { continue }
            for network in service.spec.taskTemplate?.networks ?? [] { attached.insert(network.target ?? "") }
        }
        guard desired.networks.allSatisfy({ attached.contains($0.name) }) else { return nil }
        return desired.networks.map { NetworkSummary(id: "", name: $0.name, driver: $0.driver ?? "overlay", scope: "swarm") }
    }

    /// Why the engine refused a swarm call, from `GET /info`, which only this path asks.
    private func notManager() async throws -> ReconcileError {
        let swarm = try await engine.info().swarm
        let state = swarm?.localNodeState.flatMap { $0.isEmpty ? nil : $0 } ?? "inactive"
        let worker = swarm?.controlAvailable == false && state == "active" ? ", worker node" : ""
        return ReconcileError.invalidProject(
            "the engine at \(engine.endpoint) is not a swarm manager (swarm state: \(state)\(worker)); run `docker swarm init` (ops/setup does for a single node) or point DOCKER_HOST at a manager; nothing was changed")
    }

    /// External networks, secrets and configs exist; a stack network is not a leftover local
    /// (bridge) network of the same name.
    public func validate(_ desired: SwarmStack, actual: SwarmActualState) throws {
        for network in desired.networks {
            let existing = actual.networks.first { $0.name == network.name }
            if network.external {
                if existing == nil { throw ReconcileError.externalMissing(kind: "network", name: network.name) }
            } else if let existing, existing.scope != "swarm" {
                throw ReconcileError.invalidProject("network \(network.name) exists with driver \(existing.driver ?? "?") and scope \(existing.scope ?? "?"); a stack needs a swarm-scoped (overlay) network: remove it (docker network rm \(network.name)) or rename the stack; nothing was changed")
            }
        }
        for (kind, objects, existing) in [("secret", desired.secrets, actual.secrets), ("config", desired.configs, actual.configs)] {
            for object in objects where object.external && !existing.contains(where: { $0.name == object.name }) {
                throw ReconcileError.invalidProject("external \(kind) \(object.name) does not exist: create it (docker \(kind) create \(object.name) FILE) or drop `external: true`; nothing was changed")
            }
        }
    }
}

/// Carries out a swarm plan: networks, secrets and configs first, then every service created
/// or updated at once (swarm rolls each by its update_config), then waits until each has
/// converged. A swarm that rolled an update back (or paused it) is a failed deploy, reported
/// with the failing tasks' errors. Objects that left the stack go last, only after success.
public struct SwarmApplier: Sendable {
    public struct Options: Sendable {
        /// How long a service may take to converge.
        public var waitTimeout: Duration
        public var pollInterval: Duration
        /// Base64 `X-Registry-Auth` for the nodes' pulls (never logged).
        public var registryAuth: String?
        public init(waitTimeout: Duration = .seconds(300), pollInterval: Duration = .milliseconds(250), registryAuth: String? = nil) {
            self.waitTimeout = waitTimeout
            self.pollInterval = pollInterval
            self.registryAuth = registryAuth
        }
    }

    public typealias Outcome = Applier.Outcome
    public typealias Report = Applier.Report

    let engine: EngineClient
    let logger: Logger
    let options: Options

    public init(engine: EngineClient, options: Options = Options(), logger: Logger) {
        self.engine = engine
        self.options = options
        self.logger = logger
    }

    public func apply(_ plan: Plan, stack: SwarmStack, actual: SwarmActualState) async -> Report {
        var outcomes: [Outcome] = []
        for action in plan.actions where action.kind == .createNetwork {
            outcomes.append(await run(action) { try await createNetwork(action.target, stack: stack) })
        }
        var secretIDs = Dictionary(actual.secrets.map { ($0.name, $0.id) }, uniquingKeysWith: { a, _ in a })
        var configIDs = Dictionary(actual.configs.map { ($0.name, $0.id) }, uniquingKeysWith: { a, _ in a })
        for action in plan.actions where action.kind == .createSecret || action.kind == .createConfig {
            let isSecret = action.kind == .createSecret
            guard let object = (isSecret ? stack.secrets : stack.configs).first(where: { $0.name == action.target }) else { continue }
            var id: String?
            outcomes.append(await run(action) {
                let spec = SwarmObjectSpec(name: object.name, labels: object.labels, content: object.content)
                id = isSecret ? try await engine.createSecret(spec) : try await engine.createConfig(spec)
            })
            if let id {
                if isSecret { secretIDs[object.name] = id } else { configIDs[object.name] = id }
            }
        }
        if outcomes.contains(where: { !$0.ok }) {
            return Report(project: stack.name, outcomes: outcomes + skipped(plan, "an earlier step failed"))
        }

        let secretIDsNow = secretIDs, configIDsNow = configIDs
        let serviceActions = plan.actions.filter { $0.kind == .create || $0.kind == .replace || $0.kind == .unchanged }
        // Submit every create and update at once, then watch them all with one service list
        // and one task list per poll (not two calls per service).
        let submitted = await withTaskGroup(of: (Int, Submitted).self) { group in
            for (index, action) in serviceActions.enumerated() where action.kind != .unchanged {
                guard let service = stack.service(action.target) else { continue }
                group.addTask {
                    (index, await submit(action, service: service, stack: stack, secretIDs: secretIDsNow, configIDs: configIDsNow))
                }
            }
            var all: [Int: Submitted] = [:]
            for await (index, r) in group { all[index] = r }
            return all
        }
        var watched: [String: Watch] = [:]
        var results: [Int: Outcome] = [:]
        for (index, action) in serviceActions.enumerated() {
            switch submitted[index] {
            case .id(let id)?: watched[id] = Watch(index: index, action: action, name: action.target)
            case .failed(let outcome)?: results[index] = outcome
            case nil: results[index] = Outcome(action: action, ok: true, error: nil, rolledBack: false)
            }
        }
        for (index, outcome) in await waitConverged(watched) { results[index] = outcome }
        let serviceOutcomes = results.sorted { $0.key < $1.key }.map(\.value)
        outcomes += serviceOutcomes
        let servicesOK = serviceOutcomes.allSatisfy { $0.ok }

        for action in plan.actions where action.kind == .removeOrphan {
            outcomes.append(await run(action) { try await ignoringNotFound { try await engine.removeService(action.containerID ?? action.target) } })
        }
        for action in plan.actions where action.kind == .removeSecret || action.kind == .removeConfig {
            guard servicesOK else {
                outcomes.append(Outcome(action: action, ok: false,
                                        error: "kept: a service did not converge and may still use it", rolledBack: false))
                continue
            }
            outcomes.append(await run(action) {
                let id = action.containerID ?? action.target
                try await ignoringNotFound {
                    if action.kind == .removeSecret { try await engine.removeSecret(id) } else { try await engine.removeConfig(id) }
                }
            })
        }
        return Report(project: stack.name, outcomes: outcomes)
    }

    // MARK: services

    /// The spec as sent: hash and identity labels added, secret and config IDs filled in, and
    /// the current `ForceUpdate` kept so an update does not restart tasks for it alone.
    func finalSpec(_ service: SwarmDesiredService, stack: SwarmStack, secretIDs: [String: String],
                   configIDs: [String: String], existing: SwarmService?) -> ServiceSpec {
        var spec = service.spec
        var labels = spec.labels ?? [:]
        for (k, v) in stack.identityLabels { labels[k] = v }
        labels[SwarmLabels.specHash] = service.specHash
        spec.labels = labels
        if var c = spec.taskTemplate?.containerSpec {
            c.secrets = c.secrets?.map {
                var s = $0
                s.secretID = s.secretName.flatMap { secretIDs[$0] }
                return s
            }
            c.configs = c.configs?.map {
                var r = $0
                r.configID = r.configName.flatMap { configIDs[$0] }
                return r
            }
            spec.taskTemplate?.containerSpec = c
        }
        if let force = existing?.spec?.taskTemplate?.forceUpdate { spec.taskTemplate?.forceUpdate = force }
        return spec
    }

    /// Creates or updates one service; the service ID, or the failed outcome.
    private func submit(_ action: Action, service: SwarmDesiredService, stack: SwarmStack,
                        secretIDs: [String: String], configIDs: [String: String]) async -> Submitted {
        do {
            if action.kind == .create {
                let spec = finalSpec(service, stack: stack, secretIDs: secretIDs, configIDs: configIDs, existing: nil)
                let response = try await engine.createService(spec, registryAuth: options.registryAuth)
                for w in response.warnings ?? [] { logger.warning("\(service.name): \(w)") }
                return .id(response.id)
            }
            // Read the version right before writing: the engine refuses a stale one.
            let fresh = try await engine.inspectService(action.containerID ?? service.name)
            let spec = finalSpec(service, stack: stack, secretIDs: secretIDs, configIDs: configIDs, existing: fresh)
            let response = try await engine.updateService(fresh.id, version: fresh.version?.index ?? 0, spec: spec,
                                                          registryAuth: options.registryAuth)
            for w in response.warnings ?? [] { logger.warning("\(service.name): \(w)") }
            return .id(fresh.id)
        } catch {
            return .failed(Outcome(action: action, ok: false, error: "\(error)", rolledBack: false))
        }
    }

    enum Submitted: Sendable {
        case id(String)
        case failed(Outcome)
    }

    /// A service being watched until it converges.
    struct Watch: Sendable {
        var index: Int
        var action: Action
        var name: String
        var everRollingBack = false
        /// Swarm's reason for a rollback shows while it runs ("update rolled back due to
        /// failure or early termination of task …"); the final state only says "rollback completed".
        var rollbackCause: String?
    }

    /// Polls until every watched service has converged or failed; outcomes by plan index.
    func waitConverged(_ watched: [String: Watch]) async -> [(Int, Outcome)] {
        var pending = watched
        var done: [(Int, Outcome)] = []
        let deadline = ContinuousClock.now + options.waitTimeout
        while !pending.isEmpty {
            let ids = Array(pending.keys)
            do {
                async let listed = engine.listServices(filters: ["id": ids], status: true)
                async let taskList = engine.listTasks(filters: ["service": ids])
                let services = try await listed
                let tasks = try await taskList
                let now = ContinuousClock.now
                for id in ids {
                    guard var watch = pending[id] else { continue }
                    let mine = tasks.filter { $0.serviceID == id }
                    do {
                        guard let service = services.first(where: { $0.id == id }) else {
                            throw SwarmDeployFailure(service: watch.name, reason: "the service disappeared while deploying", tasks: [], rolledBack: false)
                        }
                        if try check(service, tasks: mine, watch: &watch, pastDeadline: now >= deadline) {
                            logger.debug("\(watch.action.kind.rawValue) \(watch.name) converged")
                            done.append((watch.index, Outcome(action: watch.action, ok: true, error: nil, rolledBack: false)))
                            pending[id] = nil
                        } else {
                            pending[id] = watch
                        }
                    } catch let failure as SwarmDeployFailure {
                        done.append((watch.index, Outcome(action: watch.action, ok: false, error: failure.description, rolledBack: failure.rolledBack)))
                        pending[id] = nil
                    }
                }
                if pending.isEmpty { break }
                try await Task.sleep(for: options.pollInterval)
            } catch {
                for watch in pending.values {
                    done.append((watch.index, Outcome(action: watch.action, ok: false, error: "\(error)", rolledBack: false)))
                }
                break
            }
        }
        return done
    }

    /// True when converged: no update in progress (or the update `completed`), and as many
    /// tasks as desired run with the service's current task spec. Throws for `paused`,
    /// `rollback_paused` and `rollback_completed`, for a service none of whose tasks wants to
    /// run any more (restart condition none or max attempts used up), and past the deadline.
    func check(_ service: SwarmService, tasks: [SwarmTask], watch: inout Watch, pastDeadline: Bool) throws -> Bool {
        let name = watch.name
        let state = service.updateStatus?.state
        let message = service.updateStatus?.message
        let template = service.spec?.taskTemplate
        let wanting = tasks.filter { $0.desiredState == "running" }
        let current = wanting.filter { $0.spec == template }
        let running = current.filter { $0.status?.state == "running" }.count
        let desired = service.serviceStatus?.desiredTasks.map(Int.init) ?? service.spec?.mode?.replicated.map { Int($0.replicas ?? 1) }
        let tasksConverged = desired.map { running >= $0 } == true && wanting.count == current.count
        switch state {
        case "paused":
            throw SwarmDeployFailure(service: name, reason: "swarm paused the update\(message.map { ": \($0)" } ?? "")",
                                     tasks: tasks, rolledBack: false)
        case "rollback_completed":
            // Swarm says so once the old tasks are scheduled; report when they run.
            let why = watch.rollbackCause ?? message
            if tasksConverged {
                throw SwarmDeployFailure(service: name, reason: "swarm rolled the update back\(why.map { ": \($0)" } ?? ""); the previous version runs",
                                         tasks: tasks, rolledBack: true)
            }
            if pastDeadline {
                throw SwarmDeployFailure(service: name, reason: "swarm rolled the update back\(why.map { ": \($0)" } ?? ""), but the previous version is not running after \(options.waitTimeout)",
                                         tasks: tasks, rolledBack: true)
            }
        case "rollback_paused":
            throw SwarmDeployFailure(service: name, reason: "swarm paused the rollback of a failed update\(message.map { ": \($0)" } ?? "")",
                                     tasks: tasks, rolledBack: false)
        case "rollback_started":
            watch.everRollingBack = true
            if let message, !message.isEmpty { watch.rollbackCause = message }
        case "updating":
            break
        default:
            // nil (no update needed, or not started yet) or completed: count the tasks.
            if tasksConverged && !watch.everRollingBack { return true }
            if wanting.isEmpty, (desired ?? 0) > 0, tasks.contains(where: { ["failed", "rejected", "complete"].contains($0.status?.state ?? "") }) {
                throw SwarmDeployFailure(service: name, reason: "no task of the service runs and swarm will not restart them (restart policy)",
                                         tasks: tasks, rolledBack: false)
            }
        }
        if pastDeadline {
            throw SwarmDeployFailure(service: name, reason: "not converged after \(options.waitTimeout) (update state: \(state ?? "none"))",
                                     tasks: tasks, rolledBack: false)
        }
        return false
    }

    private func createNetwork(_ name: String, stack: SwarmStack) async throws {
        guard let network = stack.networks.first(where: { $0.name == name }) else { return }
        var labels = network.labels
        labels[SwarmLabels.namespace] = stack.name
        var request = NetworkCreateRequest(name: name, driver: network.driver ?? "overlay", labels: labels)
        request.internal = network.internal ? true : nil
        request.attachable = network.attachable ? true : nil
        request.enableIPv6 = network.enableIPv6 ? true : nil
        request.options = network.driverOpts.isEmpty ? nil : network.driverOpts
        _ = try await engine.createNetwork(request)
    }

    private func ignoringNotFound(_ body: () async throws -> Void) async throws {
        do { try await body() } catch let e as EngineError where e.isNotFound {}
    }

    private func skipped(_ plan: Plan, _ why: String) -> [Outcome] {
        plan.actions.filter { [.create, .replace, .removeOrphan, .removeSecret, .removeConfig].contains($0.kind) }.map {
            Outcome(action: $0, ok: false, error: "skipped: \(why)", rolledBack: false)
        }
    }

    private func run(_ action: Action, _ body: () async throws -> Void) async -> Outcome {
        do {
            try await body()
            logger.debug("\(action.kind.rawValue) \(action.target)")
            return Outcome(action: action, ok: true, error: nil, rolledBack: false)
        } catch {
            logger.error("\(action.kind.rawValue) \(action.target) failed", metadata: ["error": "\(error)"])
            return Outcome(action: action, ok: false, error: "\(error)", rolledBack: false)
        }
    }
}

/// A service that did not converge, with the errors of its latest failed tasks.
public struct SwarmDeployFailure: Error, CustomStringConvertible, Sendable {
    public var service: String
    public var reason: String
    public var taskErrors: [String]
    public var rolledBack: Bool

    init(service: String, reason: String, tasks: [SwarmTask], rolledBack: Bool) {
        self.service = service
        self.reason = reason
        self.rolledBack = rolledBack
        self.taskErrors = Self.errors(tasks)
    }

    /// The latest few failed tasks, newest first: `slot 1: failed: task: non-zero exit (1)`.
    static func errors(_ tasks: [SwarmTask]) -> [String] {
        tasks.filter { t in
            let s = t.status?.state ?? ""
            return s == "failed" || s == "rejected" || !(t.status?.err ?? "").isEmpty
                || (t.status?.containerStatus?.exitCode ?? 0) != 0
        }
        .sorted { ($0.status?.timestamp ?? "") > ($1.status?.timestamp ?? "") }
        .prefix(3)
        .map { t in
            var line = t.slot.map { "slot \($0)" } ?? "task \(t.id.prefix(12))"
            line += ": \(t.status?.state ?? "?")"
            if let err = t.status?.err, !err.isEmpty { line += ": \(err)" }
            if let message = t.status?.message, !message.isEmpty, message != t.status?.err { line += " (\(message))" }
            if let code = t.status?.containerStatus?.exitCode, code != 0 { line += ", exit code \(code)" }
            return line
        }
    }

    public var description: String {
        var s = "service \(service): \(reason)"
        if !taskErrors.isEmpty { s += "; task errors: " + taskErrors.joined(separator: "; ") }
        return s
    }
}
