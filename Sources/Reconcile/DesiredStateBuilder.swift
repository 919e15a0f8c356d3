import Compose
import FoundationEssentials
import Glibc
import Logging

/// Compose project (+ optional release lock) → the desired state reconcile converges to.
/// Every image is resolved to an ID here, so an image that cannot be had fails the whole
/// project before anything on the host changes.
public struct DesiredStateBuilder: Sendable {
    public struct Context: Sendable {
        /// Pinned images per service from a release lock (`<repo>@sha256:…`), winning over `image:`.
        public var pinnedImages: [String: String]
        public var app: String?
        public var revision: String?
        public var release: String?
        public var configFiles: [String]
        public init(pinnedImages: [String: String] = [:], app: String? = nil, revision: String? = nil,
                    release: String? = nil, configFiles: [String] = []) {
            self.pinnedImages = pinnedImages
            self.app = app
            self.revision = revision
            self.release = release
            self.configFiles = configFiles
        }
    }

    let images: ImageResolver
    let logger: Logger

    public init(images: ImageResolver, logger: Logger) {
        self.images = images
        self.logger = logger
    }

    public func build(_ project: Project, context: Context = Context()) async throws -> DesiredProject {
        let ordered = try Self.dependencyOrder(project)
        var services: [DesiredService] = []
        // Resolve every image first, in parallel: the slow part when pulls are needed.
        let references = ordered.map { ($0.name, context.pinnedImages[$0.name] ?? $0.image ?? "\(project.name)-\($0.name)") }
        let ids = try await withThrowingTaskGroup(of: (String, String).self) { group in
            for (service, reference) in references {
                let policy = ImageResolver.PullPolicy(compose: project.service(named: service)?.pullPolicy)
                group.addTask { (service, try await images.resolve(reference, service: service, policy: policy)) }
            }
            var out: [String: String] = [:]
            for try await (service, id) in group { out[service] = id }
            return out
        }
        for (service, reference) in zip(ordered, references.map(\.1)) {
            guard let id = ids[service.name] else { continue }
            services.append(try desiredService(service, project: project, imageID: id, reference: reference))
        }

        var identity: [String: String] = [Labels.workingDir: project.workingDirectory]
        if !context.configFiles.isEmpty { identity[Labels.configFiles] = context.configFiles.joined(separator: ",") }
        if let app = context.app { identity[Labels.app] = app }
        if let revision = context.revision { identity[Labels.revision] = revision }
        if let release = context.release { identity[Labels.release] = release }

        let usedNetworks = Set(ordered.flatMap { $0.networkMode == nil ? Array($0.networks.keys) : [] })
        let usedVolumes = Set(ordered.flatMap { $0.volumes.filter { $0.type == "volume" }.compactMap(\.source) })
        let networks = project.networks.filter { usedNetworks.contains($0.key) }.sorted { $0.key < $1.key }.map { key, n in
            DesiredNetwork(name: n.name, key: key, driver: n.driver, driverOpts: n.driverOpts, labels: n.labels,
                           internal: n.internal, attachable: n.attachable, enableIPv6: n.enableIPv6 ?? false, external: n.external)
        }
        let volumes = project.volumes.filter { usedVolumes.contains($0.key) }.sorted { $0.key < $1.key }.map { key, v in
            DesiredVolume(name: v.name, key: key, driver: v.driver, driverOpts: v.driverOpts, labels: v.labels, external: v.external)
        }
        return DesiredProject(name: project.name, services: services, networks: networks, volumes: volumes,
                              identityLabels: identity)
    }

    func desiredService(_ service: Service, project: Project, imageID: String, reference: String) throws -> DesiredService {
        var spec = ContainerSpec(image: imageID, imageReference: reference)
        spec.command = service.command
        spec.entrypoint = service.entrypoint
        spec.environment = service.environment.compactMapValues { $0 }
        spec.labels = service.labels
        spec.user = service.user
        spec.workingDir = service.workingDir
        spec.hostname = service.hostname
        spec.domainname = service.domainname
        spec.tty = service.tty
        spec.stdinOpen = service.stdinOpen
        spec.exposedPorts = service.expose.flatMap(Self.expandExpose).sorted()
        spec.ports = service.ports.flatMap(Self.portBindings)

        func containerOf(_ other: String) -> String {
            let target = project.service(named: other)
            return target?.containerName ?? Naming.container(project: project.name, service: other, number: 1)
        }
        func serviceRef(_ mode: String?) -> String? {
            guard let mode else { return nil }
            if mode.hasPrefix("service:") { return "container:" + containerOf(String(mode.dropFirst("service:".count))) }
            return mode
        }

        spec.mounts = service.volumes.map { v in
            var source = v.source ?? ""
            if v.type == "volume", let key = v.source, let top = project.volumes[key] { source = top.name }
            var m = ContainerSpec.Mount(type: v.type, source: source, target: v.target, readOnly: v.readOnly)
            m.bindPropagation = v.bindPropagation
            m.volumeNoCopy = v.volumeNoCopy ? true : nil
            m.tmpfsSizeBytes = v.tmpfsSize
            m.tmpfsMode = v.tmpfsMode
            m.consistency = v.consistency
            return m
        }
        // Secrets and configs on the compose target are bind mounts of their files, as compose does.
        for ref in service.secrets {
            if let file = project.secrets[ref.source]?.file {
                spec.mounts.append(.init(type: "bind", source: file, target: Self.secretTarget(ref), readOnly: true))
            }
        }
        for ref in service.configs {
            if let file = project.configs[ref.source]?.file {
                spec.mounts.append(.init(type: "bind", source: file, target: ref.target ?? "/\(ref.source)", readOnly: true))
            }
        }

        spec.networkMode = serviceRef(service.networkMode)
        if spec.networkMode == nil {
            spec.networks = service.networks
                .sorted { ($0.value.priority ?? 0, $1.key) > ($1.value.priority ?? 0, $0.key) }
                .map { key, n in
                    var a = ContainerSpec.NetworkAttachment(network: project.networks[key]?.name ?? Naming.network(project: project.name, name: key),
                                                            aliases: [service.name] + n.aliases)
                    a.ipv4Address = n.ipv4Address
                    a.ipv6Address = n.ipv6Address
                    a.priority = n.priority ?? 0
                    return a
                }
        }

        if let hc = service.healthcheck {
            if hc.disable {
                spec.healthcheck = .init(test: ["NONE"])
            } else if let test = hc.test {
                var h = ContainerSpec.Healthcheck(test: test)
                h.intervalNs = hc.interval.map(Self.nanoseconds)
                h.timeoutNs = hc.timeout.map(Self.nanoseconds)
                h.startPeriodNs = hc.startPeriod.map(Self.nanoseconds)
                h.retries = hc.retries
                spec.healthcheck = h
            }
        }
        spec.restartPolicy = try Self.restartPolicy(service)

        let limits = service.deploy?.resources.limits
        let reservations = service.deploy?.resources.reservations
        spec.resources.memoryBytes = service.memLimit ?? limits?.memory
        spec.resources.memoryReservationBytes = service.memReservation ?? reservations?.memory
        spec.resources.nanoCPUs = (service.cpus ?? limits?.cpus).map { Int64(($0 * 1e9).rounded()) }
        spec.resources.pidsLimit = (service.pidsLimit ?? limits?.pids).map(Int64.init)
        spec.resources.memorySwapBytes = service.memSwapLimit
        spec.resources.cpuShares = service.cpuShares.map(Int64.init)
        spec.resources.cpuset = service.cpuset
        spec.securityOpt = service.securityOpt
        spec.macAddress = service.macAddress
        spec.uts = service.uts
        spec.cgroup = service.cgroup
        spec.usernsMode = service.usernsMode
        spec.oomScoreAdj = service.oomScoreAdj
        spec.resources.shmSizeBytes = service.shmSize

        spec.extraHosts = service.extraHosts.map { $0.replacing("=", with: ":") }
        spec.dns = service.dns
        spec.dnsSearch = service.dnsSearch
        spec.dnsOptions = service.dnsOpt
        spec.capAdd = service.capAdd
        spec.capDrop = service.capDrop
        spec.groupAdd = service.groupAdd
        spec.ulimits = service.ulimits.sorted { $0.key < $1.key }.map { .init(name: $0.key, soft: Int64($0.value.soft), hard: Int64($0.value.hard)) }
        spec.sysctls = service.sysctls
        if let logging = service.logging, let driver = logging.driver {
            spec.logging = .init(driver: driver, options: logging.options)
        }
        spec.initProcess = service.initProcess
        spec.stopSignal = service.stopSignal
        spec.stopTimeoutSeconds = service.stopGracePeriod.map { Int(($0 / .seconds(1)).rounded(.up)) }
        for entry in service.tmpfs {
            let parts = entry.split(separator: ":", maxSplits: 1)
            spec.tmpfs[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        spec.devices = service.devices.map { .init(pathOnHost: $0.source, pathInContainer: $0.target, permissions: $0.permissions) }
        spec.pid = serviceRef(service.pid)
        spec.ipc = serviceRef(service.ipc)
        spec.volumesFrom = service.volumesFrom.map { entry in
            var parts = entry.split(separator: ":").map(String.init)
            if parts.first == "container", parts.count > 1 { parts.removeFirst() }
            else if parts.first == "service", parts.count > 1 { parts.removeFirst(); parts[0] = containerOf(parts[0]) }
            else { parts[0] = containerOf(parts[0]) }
            return parts.joined(separator: ":")
        }
        spec.readOnly = service.readOnly
        spec.privileged = service.privileged

        let dependencies = service.dependsOn.sorted { $0.key < $1.key }.map { key, d in
            DesiredService.Dependency(service: key, condition: DesiredService.Condition(rawValue: d.condition) ?? .started,
                                      required: d.required)
        }
        let order: DesiredService.UpdateOrder = service.deploy?.updateConfig?.order == "start-first" ? .startFirst : .stopFirst
        if service.containerName != nil && service.replicas > 1 {
            throw ReconcileError.invalidProject("service \(service.name): container_name \(service.containerName ?? "") allows one replica, not \(service.replicas); drop container_name or scale to 1")
        }
        return DesiredService(name: service.name, replicas: service.replicas, spec: spec, dependsOn: dependencies,
                              updateOrder: order, containerName: service.containerName)
    }

    // MARK: helpers

    static func secretTarget(_ ref: FileReference) -> String {
        guard let target = ref.target else { return "/run/secrets/\(ref.source)" }
        return target.hasPrefix("/") ? target : "/run/secrets/\(target)"
    }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let (s, atto) = d.components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }

    static func expandExpose(_ entry: String) -> [String] {
        let parts = entry.split(separator: "/", maxSplits: 1)
        let proto = parts.count > 1 ? String(parts[1]) : "tcp"
        let range = parts[0].split(separator: "-")
        if range.count == 2, let lo = Int(range[0]), let hi = Int(range[1]), lo <= hi {
            return (lo...hi).map { "\($0)/\(proto)" }
        }
        return ["\(parts[0])/\(proto)"]
    }

    static func portBindings(_ p: PortConfig) -> [ContainerSpec.PortBinding] {
        // A published range against one target lets the engine pick a free host port in it.
        [ContainerSpec.PortBinding(containerPort: p.target, proto: p.protocol, hostIP: p.hostIP ?? "", hostPort: p.published ?? "")]
    }

    static func restartPolicy(_ service: Service) throws -> ContainerSpec.RestartPolicy? {
        if let restart = service.restart {
            let parts = restart.split(separator: ":", maxSplits: 1)
            switch parts.first.map(String.init) ?? "" {
            case "no", "": return .init(name: "no")
            case "always": return .init(name: "always")
            case "unless-stopped": return .init(name: "unless-stopped")
            case "on-failure":
                return .init(name: "on-failure", maximumRetryCount: parts.count > 1 ? Int(parts[1]) ?? 0 : 0)
            default:
                throw ReconcileError.invalidProject("service \(service.name): restart \"\(restart)\" is not one of no, always, on-failure[:N], unless-stopped")
            }
        }
        if let policy = service.deploy?.restartPolicy {
            switch policy.condition {
            case "none": return .init(name: "no")
            case "on-failure": return .init(name: "on-failure", maximumRetryCount: policy.maxAttempts ?? 0)
            default: return .init(name: "always")
            }
        }
        return nil
    }

    /// Services ordered so each comes after what it needs (see
    /// `Project.servicesInDependencyOrder`); a cycle is an invalid project.
    public static func dependencyOrder(_ project: Project) throws -> [Service] {
        do {
            return try project.servicesInDependencyOrder()
        } catch {
            throw ReconcileError.invalidProject(error.message)
        }
    }
}
