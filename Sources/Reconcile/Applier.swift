import Engine
import FoundationEssentials
import Platform
import Glibc
import Logging

/// Carries out a plan against the engine with DESIGN's replace protocol: the old container is
/// kept (stopped and renamed aside, or running beside the new one) until the new one is ready,
/// and put back if the new one fails.
public struct Applier: Sendable {
    public struct Options: Sendable {
        /// How long a replacement may take to become ready (healthy, or settled).
        public var waitTimeout: Duration
        /// Without a healthcheck, ready means running this long without a restart.
        public var settle: Duration
        /// Services of one dependency layer applied at once.
        public var parallel: Int
        public init(waitTimeout: Duration = .seconds(120), settle: Duration = .seconds(1), parallel: Int = 32) {
            self.waitTimeout = waitTimeout
            self.settle = settle
            self.parallel = max(1, parallel)
        }
    }

    /// What the applier is doing, as it happens, for live progress.
    public enum Event: Sendable {
        case started(Action)
        case waiting(container: String, for: String)
        case finished(Outcome)
    }

    public struct Outcome: Sendable, Codable, Equatable {
        public var action: Action
        public var ok: Bool
        public var error: String?
        /// A replace whose new container failed and whose old one was put back.
        public var rolledBack: Bool
    }

    public struct Report: Sendable, Codable, Equatable {
        public var project: String
        public var outcomes: [Outcome]
        public var ok: Bool { outcomes.allSatisfy(\.ok) }
        public var failures: [Outcome] { outcomes.filter { !$0.ok } }
        public func outcome(of action: Action) -> Outcome? { outcomes.first { $0.action == action } }
    }

    let engine: EngineClient
    let logger: Logger
    let options: Options
    let progress: @Sendable (Event) -> Void

    public init(engine: EngineClient, options: Options = Options(), logger: Logger,
                progress: @escaping @Sendable (Event) -> Void = { _ in }) {
        self.engine = engine
        self.options = options
        self.logger = logger
        self.progress = progress
    }

    public func apply(_ plan: Plan, desired: DesiredProject) async -> Report {
        var outcomes: [Outcome] = []
        // A crashed run's leftovers first, one at a time: later actions assume them settled.
        for action in plan.actions where action.kind == .recover {
            outcomes.append(await run(action) { try await recover(action) })
        }
        for action in plan.actions where action.kind == .createNetwork {
            outcomes.append(await run(action) { try await createNetwork(action.target, desired: desired) })
        }
        for action in plan.actions where action.kind == .createVolume {
            outcomes.append(await run(action) { try await createVolume(action.target, desired: desired) })
        }
        if outcomes.contains(where: { !$0.ok }) {
            return Report(project: desired.name, outcomes: outcomes)
        }

        var failedServices = Set<String>()
        for layer in Self.layers(desired.services) {
            let results = await withTaskGroup(of: (String, [Outcome]).self) { group in
                var all: [(String, [Outcome])] = []
                for (index, service) in layer.enumerated() {
                    if index >= options.parallel, let done = await group.next() { all.append(done) }
                    let blockedBy = service.dependsOn.filter { $0.required && failedServices.contains($0.service) }.map(\.service)
                    let actions = plan.actions.filter { $0.service == service.name && $0.kind != .recover }
                    group.addTask {
                        if !blockedBy.isEmpty {
                            return (service.name, actions.filter { $0.kind != .unchanged }.map {
                                Outcome(action: $0, ok: false, error: "skipped: dependency \(blockedBy.joined(separator: ", ")) failed", rolledBack: false)
                            })
                        }
                        return (service.name, await applyService(service, actions: actions, desired: desired))
                    }
                }
                for await r in group { all.append(r) }
                return all.sorted { $0.0 < $1.0 }
            }
            for (name, serviceOutcomes) in results {
                outcomes += serviceOutcomes
                if serviceOutcomes.contains(where: { !$0.ok }) { failedServices.insert(name) }
            }
        }

        for action in plan.actions where action.kind == .removeOrphan {
            outcomes.append(await run(action) { try await removeOld(action.containerID ?? action.target, name: action.target) })
        }
        for action in plan.actions where action.kind == .removeVolume {
            outcomes.append(await run(action) { try await engine.removeVolume(action.target) })
        }
        return Report(project: desired.name, outcomes: outcomes)
    }

    // MARK: services

    private func applyService(_ service: DesiredService, actions: [Action], desired: DesiredProject) async -> [Outcome] {
        var outcomes: [Outcome] = []
        do {
            try await waitForDependencies(service, desired: desired)
        } catch {
            return actions.filter { $0.kind != .unchanged }.map {
                Outcome(action: $0, ok: false, error: "\(error)", rolledBack: false)
            }
        }
        // Replicas roll one at a time so a service keeps serving during a replace.
        for action in actions {
            switch action.kind {
            case .create:
                outcomes.append(await run(action) {
                    _ = try await createAndStart(service, number: action.number ?? 1, name: action.target, desired: desired)
                })
            case .start:
                outcomes.append(await run(action) { try await engine.startContainer(action.containerID ?? action.target) })
            case .replace:
                progress(.started(action))
                let outcome = await replace(action, service: service, desired: desired)
                progress(.finished(outcome))
                outcomes.append(outcome)
            case .scaleDown:
                outcomes.append(await run(action) { try await removeOld(action.containerID ?? action.target, name: action.target, timeout: service.spec.stopTimeoutSeconds) })
            case .unchanged:
                outcomes.append(Outcome(action: action, ok: true, error: nil, rolledBack: false))
            default:
                break
            }
        }
        return outcomes
    }

    private func replace(_ action: Action, service: DesiredService, desired: DesiredProject) async -> Outcome {
        guard let oldID = action.containerID else {
            return Outcome(action: action, ok: false, error: "internal: replace without a container", rolledBack: false)
        }
        let number = action.number ?? 1
        let name = action.target
        switch service.effectiveUpdateOrder {
        case .stopFirst:
            let aside = name + Naming.asideSuffix
            do {
                try await engine.stopContainer(oldID, timeout: service.spec.stopTimeoutSeconds)
                try await engine.renameContainer(oldID, to: aside)
            } catch {
                return Outcome(action: action, ok: false, error: "could not set \(name) aside: \(error)", rolledBack: false)
            }
            var newID: String?
            do {
                newID = try await createAndStart(service, number: number, name: name, desired: desired) { newID = $0 }
                try await waitReady(newID ?? name, name: name)
                try await removeOld(oldID, name: aside)
                return Outcome(action: action, ok: true, error: nil, rolledBack: false)
            } catch {
                let cause = "\(error)"
                logger.warning("replace failed, restoring the old container", metadata: ["container": "\(name)", "error": "\(cause)"])
                do {
                    if let newID { try await engine.removeContainer(newID, force: true) }
                    try await engine.renameContainer(oldID, to: name)
                    try await engine.startContainer(oldID)
                } catch {
                    return Outcome(action: action, ok: false,
                                   error: "\(cause); restoring the old container also failed: \(error) (run reconcile again to recover)",
                                   rolledBack: false)
                }
                return Outcome(action: action, ok: false, error: "\(cause); the old container serves again", rolledBack: true)
            }
        case .startFirst:
            let temp = name + Naming.newSuffix
            var newID: String?
            do {
                newID = try await createAndStart(service, number: number, name: temp, desired: desired) { newID = $0 }
                try await waitReady(newID ?? temp, name: temp)
            } catch {
                if let newID { try? await engine.removeContainer(newID, force: true) }
                return Outcome(action: action, ok: false, error: "\(error); the old container kept running", rolledBack: true)
            }
            do {
                try await removeOld(oldID, name: name, timeout: service.spec.stopTimeoutSeconds)
                try await engine.renameContainer(newID ?? temp, to: name)
                return Outcome(action: action, ok: true, error: nil, rolledBack: false)
            } catch {
                return Outcome(action: action, ok: false, error: "\(error) (run reconcile again to finish)", rolledBack: false)
            }
        }
    }

    /// Creates, connects the extra networks, starts. `created` learns the ID as soon as it
    /// exists, so a failure after creation can still remove it.
    @discardableResult
    private func createAndStart(_ service: DesiredService, number: Int, name: String, desired: DesiredProject,
                                created: (String) -> Void = { _ in }) async throws -> String {
        var labels = desired.identityLabels
        labels[Labels.project] = desired.name
        labels[Labels.service] = service.name
        labels[Labels.containerNumber] = String(number)
        labels[Labels.oneoff] = "False"
        labels[Labels.configHash] = service.spec.configHash
        labels[Labels.spec] = String(decoding: service.spec.canonicalJSON(), as: UTF8.self)
        labels[Labels.image] = service.spec.imageReference
        labels[Labels.composeVersion] = "berth"
        if !service.dependsOn.isEmpty {
            labels[Labels.dependsOn] = service.dependsOn.map { "\($0.service):\($0.condition.rawValue):false" }.joined(separator: ",")
        }
        let response = try await engine.createContainer(name: name, service.spec.createRequest(labels: labels))
        created(response.id)
        if service.spec.networkMode == nil {
            for attachment in service.spec.networks.dropFirst() {
                try await engine.connectNetwork(attachment.network, container: response.id, endpoint: attachment.endpointSettings)
            }
        }
        try await engine.startContainer(response.id)
        return response.id
    }

    private func removeOld(_ id: String, name: String, timeout: Int? = nil) async throws {
        do {
            try await engine.stopContainer(id, timeout: timeout)
        } catch let e as EngineError where e.isNotFound {
            return
        }
        try await engine.removeContainer(id, force: true)
    }

    // MARK: readiness

    /// Healthy when the container has a healthcheck; otherwise running without a restart for
    /// the settle time. A container that exits is not ready (its last log lines say why).
    func waitReady(_ id: String, name: String) async throws {
        progress(.waiting(container: name, for: "ready (healthy, or running \(options.settle) without a restart)"))
        let deadline = ContinuousClock.now + options.waitTimeout
        var firstStart: String?
        var runningSince: ContinuousClock.Instant?
        while true {
            let inspect = try await engine.inspectContainer(id)
            let state = inspect.state
            if state?.running != true || state?.restarting == true {
                if state?.status == "exited" || state?.status == "dead" || state?.restarting == true || (inspect.restartCount ?? 0) > 0 {
                    throw ReconcileError.notReady(container: name, reason: "exited with code \(state?.exitCode ?? -1)",
                                                  logs: await lastLogs(id))
                }
            } else if let health = state?.health?.status {
                if health == "healthy" { return }
                if health == "unhealthy" {
                    let output = state?.health?.log?.last?.output?.trimming(.whitespacesAndNewlines) ?? ""
                    throw ReconcileError.notReady(container: name, reason: "healthcheck reports unhealthy", logs: output)
                }
            } else {
                if firstStart == nil { firstStart = state?.startedAt; runningSince = .now }
                if state?.startedAt != firstStart {
                    throw ReconcileError.notReady(container: name, reason: "restarted while settling", logs: await lastLogs(id))
                }
                if let since = runningSince, ContinuousClock.now - since >= options.settle { return }
            }
            if ContinuousClock.now >= deadline {
                throw ReconcileError.notReady(container: name, reason: "not ready after \(options.waitTimeout)", logs: await lastLogs(id))
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    private func waitForDependencies(_ service: DesiredService, desired: DesiredProject) async throws {
        for dep in service.dependsOn {
            progress(.waiting(container: service.name, for: "\(dep.service): \(dep.condition.rawValue)"))
            guard let depService = desired.service(dep.service), depService.replicas > 0 else { continue }
            let name = depService.containerName(project: desired.name, number: 1)
            let deadline = ContinuousClock.now + options.waitTimeout
            while true {
                let state: ContainerState?
                do {
                    state = try await engine.inspectContainer(name).state
                } catch let e as EngineError where e.isNotFound {
                    if !dep.required { break }
                    throw ReconcileError.dependency(service: service.name, dependency: dep.service, reason: "container \(name) does not exist")
                }
                switch dep.condition {
                case .started:
                    if state?.running == true || state?.status == "exited" { return }
                case .healthy:
                    if state?.health?.status == "healthy" { break }
                    if state?.health == nil {
                        throw ReconcileError.dependency(service: service.name, dependency: dep.service,
                                                        reason: "condition service_healthy, but \(name) has no healthcheck")
                    }
                    if state?.health?.status == "unhealthy" {
                        throw ReconcileError.dependency(service: service.name, dependency: dep.service, reason: "\(name) is unhealthy")
                    }
                case .completedSuccessfully:
                    if state?.status == "exited" {
                        if state?.exitCode == 0 { break }
                        throw ReconcileError.dependency(service: service.name, dependency: dep.service,
                                                        reason: "\(name) exited with code \(state?.exitCode ?? -1)")
                    }
                }
                if dep.condition == .healthy, state?.health?.status == "healthy" { break }
                if dep.condition == .completedSuccessfully, state?.status == "exited" { break }
                if ContinuousClock.now >= deadline {
                    throw ReconcileError.dependency(service: service.name, dependency: dep.service,
                                                    reason: "\(dep.condition.rawValue) not met after \(options.waitTimeout)")
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    private func lastLogs(_ id: String) async -> String {
        guard let stream = try? await engine.logs(id, options: LogOptions(tail: "5")) else { return "" }
        var text = ""
        do {
            for try await chunk in stream { text += chunk.text }
        } catch {}
        return text.trimming(.whitespacesAndNewlines)
    }

    // MARK: recovery, networks, volumes

    private func recover(_ action: Action) async throws {
        guard let recovery = action.recovery else { return }
        switch recovery {
        case .removeAside(let asideID):
            try await engine.removeContainer(asideID, force: true)
        case .restoreAside(let asideID, let halfStartedID):
            if let halfStartedID { try await engine.removeContainer(halfStartedID, force: true) }
            try await engine.renameContainer(asideID, to: action.target)
        case .removeNew(let newID):
            try await engine.removeContainer(newID, force: true)
        case .promoteNew(let newID):
            try await engine.renameContainer(newID, to: action.target)
        }
    }

    private func createNetwork(_ name: String, desired: DesiredProject) async throws {
        guard let network = desired.networks.first(where: { $0.name == name }) else { return }
        var labels = network.labels
        labels[Labels.project] = desired.name
        labels[Labels.network] = network.key
        labels[Labels.composeVersion] = "berth"
        var request = NetworkCreateRequest(name: name, driver: network.driver ?? "bridge", labels: labels)
        request.internal = network.internal ? true : nil
        request.attachable = network.attachable ? true : nil
        request.enableIPv6 = network.enableIPv6 ? true : nil
        request.options = network.driverOpts.isEmpty ? nil : network.driverOpts
        _ = try await engine.createNetwork(request)
    }

    private func createVolume(_ name: String, desired: DesiredProject) async throws {
        guard let volume = desired.volumes.first(where: { $0.name == name }) else { return }
        var labels = volume.labels
        labels[Labels.project] = desired.name
        labels[Labels.volume] = volume.key
        labels[Labels.composeVersion] = "berth"
        _ = try await engine.createVolume(VolumeCreateRequest(name: name, driver: volume.driver,
                                                              driverOpts: volume.driverOpts.isEmpty ? nil : volume.driverOpts,
                                                              labels: labels))
    }

    private func run(_ action: Action, _ body: () async throws -> Void) async -> Outcome {
        progress(.started(action))
        let outcome: Outcome
        do {
            try await body()
            logger.debug("\(action.kind.rawValue) \(action.target)")
            outcome = Outcome(action: action, ok: true, error: nil, rolledBack: false)
        } catch {
            logger.debug("\(action.kind.rawValue) \(action.target) failed", metadata: ["error": "\(error)"])
            outcome = Outcome(action: action, ok: false, error: "\(error)", rolledBack: false)
        }
        progress(.finished(outcome))
        return outcome
    }

    /// Services grouped so each group depends only on earlier groups; the input is already
    /// in dependency order, so a service's layer is one past its deepest dependency.
    static func layers(_ services: [DesiredService]) -> [[DesiredService]] {
        var depth: [String: Int] = [:]
        var layers: [[DesiredService]] = []
        for service in services {
            let d = service.dependsOn.compactMap { depth[$0.service] }.max().map { $0 + 1 } ?? 0
            depth[service.name] = d
            while layers.count <= d { layers.append([]) }
            layers[d].append(service)
        }
        return layers
    }
}
