import Compose
import Engine
import FoundationEssentials
import Glibc
import Logging

/// Compose/stack project → the swarm services, networks, secrets and configs of a stack, as
/// `docker stack deploy` would make them. Images are resolved (and pinned by digest where
/// the local image has one) and secret/config contents read here, so a missing image or file
/// fails the whole stack before anything on the swarm changes.
public struct SwarmStackBuilder: Sendable {
    let engine: EngineClient
    let logger: Logger

    public init(engine: EngineClient, logger: Logger) {
        self.engine = engine
        self.logger = logger
    }

    struct ResolvedImage: Sendable {
        var image: String
        /// Set when the image has no registry digest: only this node has it.
        var imageID: String?
    }

    public func build(_ project: Project, context: DesiredStateBuilder.Context = .init()) async throws -> SwarmStack {
        let stack = project.name
        var warnings: [String] = []

        let references = project.services.map { ($0.name, context.pinnedImages[$0.name] ?? $0.image) }
        for (service, reference) in references where reference == nil {
            throw ReconcileError.invalidProject("service \(service): a swarm service needs `image:` (swarm does not build); build and push it first (berth build --push), then deploy the release")
        }
        // One look-up per distinct image, however many services share it.
        let wanted = Set(references.compactMap { service, reference in
            reference.map { "\($0)|\(ImageResolver.PullPolicy(compose: project.service(named: service)?.pullPolicy).rawValue)" }
        })
        let resolved = try await withThrowingTaskGroup(of: (String, ResolvedImage).self) { group in
            for key in wanted {
                let parts = key.split(separator: "|", omittingEmptySubsequences: false)
                let reference = String(parts[0])
                let policy = ImageResolver.PullPolicy(rawValue: String(parts[1])) ?? .missing
                let service = references.first { $0.1 == reference }?.0 ?? ""
                group.addTask { (key, try await resolveImage(reference, service: service, policy: policy)) }
            }
            var out: [String: ResolvedImage] = [:]
            for try await (key, image) in group { out[key] = image }
            return out
        }
        var images: [String: ResolvedImage] = [:]
        for (service, reference) in references {
            guard let reference else { continue }
            let policy = ImageResolver.PullPolicy(compose: project.service(named: service)?.pullPolicy)
            images[service] = resolved["\(reference)|\(policy.rawValue)"]
        }
        for reference in Set(images.values.filter { $0.imageID != nil }.map(\.image)).sorted() {
            let users = images.filter { $0.value.image == reference }.map(\.key).sorted()
            warnings.append("image \(reference) (service\(users.count == 1 ? "" : "s") \(users.joined(separator: ", "))) has no registry digest, so only this node can run it; push it to a registry (berth build --push) for a multi-node swarm")
        }

        let secrets = try objects(project.secrets, used: Set(project.services.flatMap { $0.secrets.map(\.source) }),
                                  kind: "secret", project: project)
        let configs = try objects(project.configs, used: Set(project.services.flatMap { $0.configs.map(\.source) }),
                                  kind: "config", project: project)

        var services: [SwarmDesiredService] = []
        for service in project.services {
            guard let image = images[service.name] else { continue }
            let (spec, serviceWarnings) = try serviceSpec(service, project: project, image: image,
                                                          secrets: secrets, configs: configs)
            warnings += serviceWarnings
            services.append(SwarmDesiredService(name: SwarmNaming.service(stack: stack, service: service.name),
                                                key: service.name, spec: spec))
        }

        let usedNetworks = Set(project.services.flatMap { $0.networkMode == nil ? Array($0.networks.keys) : [] })
        let networks = project.networks.filter { usedNetworks.contains($0.key) }.sorted { $0.key < $1.key }.map { key, n in
            DesiredNetwork(name: n.name, key: key, driver: n.driver ?? "overlay", driverOpts: n.driverOpts, labels: n.labels,
                           internal: n.internal, attachable: n.attachable, enableIPv6: n.enableIPv6 ?? false, external: n.external)
        }

        var identity: [String: String] = [:]
        if let app = context.app { identity[Labels.app] = app }
        if let revision = context.revision { identity[Labels.revision] = revision }
        if let release = context.release { identity[Labels.release] = release }
        return SwarmStack(name: stack, services: services, networks: networks, secrets: secrets, configs: configs,
                          identityLabels: identity, warnings: warnings)
    }

    // MARK: images

    /// A digest reference is used as is (the nodes pull it). Otherwise the local image: pinned
    /// to its registry digest when it has one for this repository, else left as the reference
    /// with its image ID recorded, since only this node has it.
    func resolveImage(_ reference: String, service: String, policy: ImageResolver.PullPolicy) async throws -> ResolvedImage {
        if reference.contains("@sha256:") { return ResolvedImage(image: reference) }
        var inspect: ImageIdentity
        do {
            if policy == .always { try await pull(reference, service: service) }
            inspect = try await engine.inspectImageIdentity(reference)
        } catch let e as EngineError where e.isNotFound {
            guard policy == .missing || policy == .build else {
                throw ReconcileError.imageNotFound(service: service, image: reference,
                                                   reason: "not on this host and pull_policy is \(policy.rawValue)")
            }
            try await pull(reference, service: service)
            inspect = try await engine.inspectImageIdentity(reference)
        }
        let repository = Self.normalizedRepository(reference)
        if let digest = inspect.repoDigests.first(where: { Self.normalizedRepository($0) == repository }),
           let at = digest.firstIndex(of: "@") {
            return ResolvedImage(image: reference + digest[at...], imageID: nil)
        }
        return ResolvedImage(image: reference, imageID: inspect.id)
    }

    private func pull(_ reference: String, service: String) async throws {
        do {
            try await engine.pullImage(reference)
        } catch {
            throw ReconcileError.imageNotFound(service: service, image: reference, reason: "pull failed: \(error)")
        }
    }

    /// `busybox:1`, `docker.io/library/busybox@sha256:…` → `busybox`.
    static func normalizedRepository(_ reference: String) -> String {
        var repo = reference
        if let at = repo.firstIndex(of: "@") { repo = String(repo[..<at]) }
        if let colon = repo.lastIndex(of: ":"), !repo[colon...].contains("/") { repo = String(repo[..<colon]) }
        for prefix in ["docker.io/", "index.docker.io/"] where repo.hasPrefix(prefix) { repo.removeFirst(prefix.count) }
        if repo.hasPrefix("library/") { repo.removeFirst("library/".count) }
        return repo
    }

    // MARK: secrets and configs

    func objects(_ defined: [String: FileObject], used: Set<String>, kind: String, project: Project) throws -> [SwarmDesiredObject] {
        for source in used.sorted() where defined[source] == nil {
            throw ReconcileError.invalidProject("\(kind) \(source) is used by a service but not defined under top-level `\(kind)s:`")
        }
        var out: [SwarmDesiredObject] = []
        for (key, object) in defined.sorted(by: { $0.key < $1.key }) where used.contains(key) {
            if object.external {
                out.append(SwarmDesiredObject(name: object.name, key: key, content: Data(), external: true))
                continue
            }
            let content: Data
            if let file = object.file {
                let path = file.hasPrefix("/") ? file : project.workingDirectory + "/" + file
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw ReconcileError.invalidProject("\(kind) \(key): cannot read file \(path); create it or fix `file:`; nothing was changed")
                }
                content = data
            } else if let variable = object.environment {
                guard let value = project.environment[variable] ?? ProcessInfo.processInfo.environment[variable] else {
                    throw ReconcileError.invalidProject("\(kind) \(key): environment variable \(variable) is not set; set it or fix `environment:`; nothing was changed")
                }
                content = Data(value.utf8)
            } else if let text = object.content {
                content = Data(text.utf8)
            } else {
                throw ReconcileError.invalidProject("\(kind) \(key): needs one of file, environment, content or external: true")
            }
            var labels = object.labels
            labels[SwarmLabels.namespace] = project.name
            labels[SwarmLabels.key] = key
            var desired = SwarmDesiredObject(name: "", key: key, content: content, labels: labels)
            desired.labels[SwarmLabels.contentHash] = desired.contentHash
            desired.name = SwarmNaming.rotated(object.name, contentHash: desired.contentHash)
            out.append(desired)
        }
        return out
    }

    // MARK: service spec

    func serviceSpec(_ service: Service, project: Project, image: ResolvedImage,
                     secrets: [SwarmDesiredObject], configs: [SwarmDesiredObject]) throws -> (ServiceSpec, [String]) {
        let stack = project.name
        var warnings: [String] = []
        func unsupported(_ field: String, _ isSet: Bool) {
            if isSet { warnings.append("service \(service.name): `\(field)` is not supported by swarm services and is ignored") }
        }
        unsupported("container_name", service.containerName != nil)
        unsupported("devices", !service.devices.isEmpty)
        unsupported("links", !service.links.isEmpty)
        unsupported("network_mode", service.networkMode != nil)
        unsupported("privileged", service.privileged)
        unsupported("security_opt", !service.securityOpt.isEmpty)
        unsupported("userns_mode", service.usernsMode != nil)
        unsupported("pid", service.pid != nil)
        unsupported("ipc", service.ipc != nil)
        unsupported("cgroup", service.cgroup != nil)
        unsupported("volumes_from", !service.volumesFrom.isEmpty)
        unsupported("mac_address", service.macAddress != nil)
        unsupported("shm_size", service.shmSize != nil)
        unsupported("cpu_shares", service.cpuShares != nil)
        unsupported("cpuset", service.cpuset != nil)
        unsupported("oom_score_adj", service.oomScoreAdj != nil)
        unsupported("memswap_limit", service.memSwapLimit != nil)
        if !service.dependsOn.isEmpty {
            warnings.append("service \(service.name): swarm starts services in any order; `depends_on` is ignored (make the service retry its dependencies)")
        }

        var c = SwarmContainerSpec()
        c.image = image.image
        var containerLabels = service.labels
        containerLabels[SwarmLabels.namespace] = stack
        if let id = image.imageID { containerLabels[SwarmLabels.imageID] = id }
        c.labels = containerLabels
        c.command = service.entrypoint
        c.args = service.command
        c.hostname = service.hostname
        let env = service.environment.compactMapValues { $0 }
        c.env = env.isEmpty ? nil : env.keys.sorted().map { "\($0)=\(env[$0] ?? "")" }
        c.dir = service.workingDir
        c.user = service.user
        c.groups = service.groupAdd.isEmpty ? nil : service.groupAdd
        c.tty = service.tty ? true : nil
        c.openStdin = service.stdinOpen ? true : nil
        c.readOnly = service.readOnly ? true : nil
        c.stopSignal = service.stopSignal
        c.stopGracePeriod = service.stopGracePeriod.map(DesiredStateBuilder.nanoseconds)
        c.initProcess = service.initProcess
        c.sysctls = service.sysctls.isEmpty ? nil : service.sysctls
        c.capabilityAdd = service.capAdd.isEmpty ? nil : service.capAdd
        c.capabilityDrop = service.capDrop.isEmpty ? nil : service.capDrop
        c.ulimits = service.ulimits.isEmpty ? nil : service.ulimits.sorted { $0.key < $1.key }.map {
            Engine.Ulimit(name: $0.key, soft: Int64($0.value.soft), hard: Int64($0.value.hard))
        }
        if !service.dns.isEmpty || !service.dnsSearch.isEmpty || !service.dnsOpt.isEmpty {
            c.dnsConfig = DNSConfig(nameservers: service.dns.isEmpty ? nil : service.dns,
                                    search: service.dnsSearch.isEmpty ? nil : service.dnsSearch,
                                    options: service.dnsOpt.isEmpty ? nil : service.dnsOpt)
        }
        // Compose keeps `host=ip`; a service's hosts file entries are `ip host`.
        c.hosts = service.extraHosts.isEmpty ? nil : service.extraHosts.map { entry in
            guard let eq = entry.firstIndex(of: "=") ?? entry.firstIndex(of: ":") else { return entry }
            return "\(entry[entry.index(after: eq)...]) \(entry[..<eq])"
        }
        if let hc = service.healthcheck {
            if hc.disable {
                c.healthCheck = HealthConfig(test: ["NONE"])
            } else if let test = hc.test {
                c.healthCheck = HealthConfig(test: test, interval: hc.interval.map(DesiredStateBuilder.nanoseconds),
                                             timeout: hc.timeout.map(DesiredStateBuilder.nanoseconds), retries: hc.retries,
                                             startPeriod: hc.startPeriod.map(DesiredStateBuilder.nanoseconds))
            }
        }
        c.mounts = try mounts(service, project: project)
        c.secrets = service.secrets.isEmpty ? nil : service.secrets.map { ref in
            let name = secrets.first { $0.key == ref.source }?.name ?? ref.source
            return SecretReference(file: SwarmFileTarget(name: ref.target ?? ref.source, uid: ref.uid ?? "0", gid: ref.gid ?? "0",
                                                         mode: UInt32(ref.mode ?? 0o444)),
                                   secretName: name)
        }
        c.configs = service.configs.isEmpty ? nil : service.configs.map { ref in
            let name = configs.first { $0.key == ref.source }?.name ?? ref.source
            return ConfigReference(file: SwarmFileTarget(name: ref.target ?? "/\(ref.source)", uid: ref.uid ?? "0",
                                                         gid: ref.gid ?? "0", mode: UInt32(ref.mode ?? 0o444)),
                                   configName: name)
        }

        var task = TaskSpec()
        task.containerSpec = c
        task.resources = resources(service)
        task.restartPolicy = try restartPolicy(service)
        let deploy = service.deploy
        if let p = deploy?.placement, !p.constraints.isEmpty || !p.preferences.isEmpty || p.maxReplicasPerNode != nil {
            var placement = Placement()
            placement.constraints = p.constraints.isEmpty ? nil : p.constraints
            placement.preferences = p.preferences.isEmpty ? nil : p.preferences.map { Placement.Preference(spread: $0) }
            placement.maxReplicas = p.maxReplicasPerNode.map { UInt64(max(0, $0)) }
            task.placement = placement
        }
        task.networks = service.networks
            .sorted { ($0.value.priority ?? 0, $1.key) > ($1.value.priority ?? 0, $0.key) }
            .map { key, n in
                NetworkAttachmentConfig(target: project.networks[key]?.name ?? "\(stack)_\(key)",
                                        aliases: [service.name] + n.aliases,
                                        driverOpts: n.driverOpts.isEmpty ? nil : n.driverOpts)
            }
        if task.networks?.isEmpty == true { task.networks = nil }
        if let logging = service.logging, let driver = logging.driver {
            task.logDriver = SwarmDriver(name: driver, options: logging.options.isEmpty ? nil : logging.options)
        }

        var spec = ServiceSpec()
        spec.name = SwarmNaming.service(stack: stack, service: service.name)
        var labels = deploy?.labels ?? [:]
        labels[SwarmLabels.namespace] = stack
        labels[SwarmLabels.image] = image.image
        spec.labels = labels
        spec.taskTemplate = task
        switch deploy?.mode ?? "replicated" {
        case "replicated": spec.mode = .replicated(service.replicas)
        case "global": spec.mode = .global
        case let mode:
            throw ReconcileError.invalidProject("service \(service.name): deploy.mode \(mode) is not supported; use replicated or global")
        }
        spec.updateConfig = deploy?.updateConfig.map(Self.updateConfig)
        spec.rollbackConfig = deploy?.rollbackConfig.map(Self.updateConfig)
        spec.endpointSpec = EndpointSpec(mode: deploy?.endpointMode ?? "vip", ports: try ports(service))
        if spec.endpointSpec?.ports?.isEmpty == true { spec.endpointSpec?.ports = nil }
        return (spec, warnings)
    }

    func mounts(_ service: Service, project: Project) throws -> [Engine.Mount]? {
        var out: [Engine.Mount] = []
        for v in service.volumes {
            switch v.type {
            case "volume":
                var source = v.source
                var m = Engine.Mount(type: "volume", source: nil, target: v.target, readOnly: v.readOnly ? true : nil)
                if let key = v.source, let top = project.volumes[key] {
                    source = top.name
                    var options = Engine.Mount.VolumeOptions(noCopy: v.volumeNoCopy ? true : nil)
                    if !top.external {
                        var labels = top.labels
                        labels[SwarmLabels.namespace] = project.name
                        options.labels = labels
                        if top.driver != nil || !top.driverOpts.isEmpty {
                            options.driverConfig = .init(name: top.driver, options: top.driverOpts.isEmpty ? nil : top.driverOpts)
                        }
                    }
                    m.volumeOptions = options
                } else if v.volumeNoCopy {
                    m.volumeOptions = .init(noCopy: true)
                }
                m.source = source
                out.append(m)
            case "bind":
                var m = Engine.Mount(type: "bind", source: v.source, target: v.target, readOnly: v.readOnly ? true : nil)
                if let propagation = v.bindPropagation { m.bindOptions = .init(propagation: propagation) }
                out.append(m)
            case "tmpfs":
                var m = Engine.Mount(type: "tmpfs", target: v.target, readOnly: v.readOnly ? true : nil)
                if v.tmpfsSize != nil || v.tmpfsMode != nil { m.tmpfsOptions = .init(sizeBytes: v.tmpfsSize, mode: v.tmpfsMode) }
                out.append(m)
            case let type:
                throw ReconcileError.invalidProject("service \(service.name): volume type \(type) at \(v.target) is not supported on swarm; use volume, bind or tmpfs")
            }
        }
        for entry in service.tmpfs {
            let target = entry.split(separator: ":", maxSplits: 1).first.map(String.init) ?? entry
            out.append(Engine.Mount(type: "tmpfs", target: target))
        }
        return out.isEmpty ? nil : out
    }

    func resources(_ service: Service) -> ResourceRequirements? {
        let limits = service.deploy?.resources.limits
        let reservations = service.deploy?.resources.reservations
        var r = ResourceRequirements()
        var l = ResourceRequirements.Limit()
        l.nanoCPUs = (limits?.cpus ?? service.cpus).map { Int64(($0 * 1e9).rounded()) }
        l.memoryBytes = limits?.memory ?? service.memLimit
        l.pids = (limits?.pids ?? service.pidsLimit).map(Int64.init)
        var s = ResourceRequirements.Limit()
        s.nanoCPUs = reservations?.cpus.map { Int64(($0 * 1e9).rounded()) }
        s.memoryBytes = reservations?.memory ?? service.memReservation
        if l != ResourceRequirements.Limit() { r.limits = l }
        if s != ResourceRequirements.Limit() { r.reservations = s }
        return r == ResourceRequirements() ? nil : r
    }

    func restartPolicy(_ service: Service) throws -> SwarmRestartPolicy? {
        if let p = service.deploy?.restartPolicy {
            var policy = SwarmRestartPolicy(condition: p.condition ?? "any")
            guard ["none", "on-failure", "any"].contains(policy.condition ?? "") else {
                throw ReconcileError.invalidProject("service \(service.name): deploy.restart_policy.condition \"\(p.condition ?? "")\" is not one of none, on-failure, any")
            }
            policy.delay = p.delay.map(DesiredStateBuilder.nanoseconds)
            policy.maxAttempts = p.maxAttempts.map(Int64.init)
            policy.window = p.window.map(DesiredStateBuilder.nanoseconds)
            return policy
        }
        guard let restart = service.restart else { return nil }
        let parts = restart.split(separator: ":", maxSplits: 1)
        switch parts.first.map(String.init) ?? "" {
        case "no", "": return SwarmRestartPolicy(condition: "none")
        case "always", "unless-stopped": return SwarmRestartPolicy(condition: "any")
        case "on-failure":
            var policy = SwarmRestartPolicy(condition: "on-failure")
            if parts.count > 1, let n = Int64(parts[1]) { policy.maxAttempts = n }
            return policy
        default:
            throw ReconcileError.invalidProject("service \(service.name): restart \"\(restart)\" is not one of no, always, on-failure[:N], unless-stopped")
        }
    }

    /// compose's defaults where swarm's differ: parallelism 1 (swarm: 0, all at once).
    static func updateConfig(_ u: Deploy.UpdateConfig) -> ServiceUpdateConfig {
        var c = ServiceUpdateConfig()
        c.parallelism = Int64(u.parallelism ?? 1)
        c.delay = u.delay.map(DesiredStateBuilder.nanoseconds)
        c.failureAction = u.failureAction
        c.monitor = u.monitor.map(DesiredStateBuilder.nanoseconds)
        c.maxFailureRatio = u.maxFailureRatio
        c.order = u.order
        return c
    }

    func ports(_ service: Service) throws -> [EndpointPortConfig] {
        try service.ports.map { p in
            var published: Int?
            if let text = p.published, !text.isEmpty {
                guard let n = Int(text) else {
                    throw ReconcileError.invalidProject("service \(service.name): published port \(text) is a range; swarm publishes single ports")
                }
                published = n
            }
            var config = EndpointPortConfig(protocol: p.protocol, targetPort: p.target, publishedPort: published,
                                            publishMode: p.mode ?? "ingress")
            config.name = p.name
            return config
        }
    }
}
