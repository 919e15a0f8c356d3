import BerthYAML

/// A loaded, normalized compose project.
public struct Project: Sendable {
    public var name: String
    /// The project directory: relative paths were resolved against it.
    public var workingDirectory: String
    /// Active services, ordered by name.
    public var services: [Service]
    public var networks: [String: Network]
    public var volumes: [String: Volume]
    public var secrets: [String: FileObject]
    public var configs: [String: FileObject]
    /// Top-level `x-` extensions.
    public var extensions: [String: YAMLNode]
    /// Active profiles.
    public var profiles: [String]
    /// The variables interpolation used (env files overlaid by the process environment).
    public var environment: [String: String]
    /// The compose files that were loaded, in merge order (absolute paths).
    public var configFiles: [String]
    /// The canonical document, as `docker compose config` prints it.
    public var document: YAMLNode

    public func service(named name: String) -> Service? { services.first { $0.name == name } }

    /// Services ordered so each comes after what it needs: depends_on, network_mode/pid/ipc
    /// `service:`, volumes_from. Services that can start together come in one wave, each wave
    /// sorted by name.
    /// - Throws: `ComposeError` naming the services caught in a cycle; the loader refuses
    ///   cycles already, so only a project put together in code can have one.
    public func servicesInDependencyOrder() throws(ComposeError) -> [Service] {
        var needs: [String: Set<String>] = [:]
        let names = Set(services.map(\.name))
        for s in services {
            var deps = Set(s.dependsOn.keys)
            for mode in [s.networkMode, s.pid, s.ipc].compactMap({ $0 }) where mode.hasPrefix("service:") {
                deps.insert(String(mode.dropFirst("service:".count)))
            }
            for v in s.volumesFrom {
                let parts = v.split(separator: ":").map(String.init)
                if parts.first == "container" { continue }
                deps.insert(parts.first == "service" && parts.count > 1 ? parts[1] : parts[0])
            }
            needs[s.name] = deps.intersection(names)
        }
        var ordered: [Service] = []
        var done = Set<String>()
        var remaining = services.sorted { $0.name < $1.name }
        while !remaining.isEmpty {
            let ready = remaining.filter { (needs[$0.name] ?? []).isSubset(of: done) }
            if ready.isEmpty {
                throw ComposeError("depends_on cycle between services: \(remaining.map(\.name).joined(separator: ", "))")
            }
            ordered += ready
            done.formUnion(ready.map(\.name))
            remaining.removeAll { done.contains($0.name) }
        }
        return ordered
    }
}

public struct Service: Sendable, Equatable {
    public var name: String
    public var image: String?
    public var build: Build?
    public var command: [String]?
    public var entrypoint: [String]?
    /// Variables; nil value: declared without a value and unset (left out of the container).
    public var environment: [String: String?]
    public var envFiles: [EnvFile]
    public var ports: [PortConfig]
    public var expose: [String]
    public var volumes: [ServiceVolume]
    public var networks: [String: ServiceNetwork]
    public var dependsOn: [String: Dependency]
    public var healthcheck: Healthcheck?
    public var restart: String?
    public var labels: [String: String]
    public var annotations: [String: String]
    public var user: String?
    public var workingDir: String?
    public var hostname: String?
    public var domainname: String?
    /// `host=ip` entries.
    public var extraHosts: [String]
    public var dns: [String]
    public var dnsSearch: [String]
    public var dnsOpt: [String]
    public var capAdd: [String]
    public var capDrop: [String]
    public var groupAdd: [String]
    public var privileged: Bool
    public var readOnly: Bool
    public var initProcess: Bool?
    public var stopSignal: String?
    public var stopGracePeriod: Duration?
    public var ulimits: [String: Ulimit]
    public var sysctls: [String: String]
    public var logging: Logging?
    public var secrets: [FileReference]
    public var configs: [FileReference]
    public var profiles: [String]
    public var deploy: Deploy?
    public var networkMode: String?
    public var pid: String?
    public var ipc: String?
    public var volumesFrom: [String]
    public var tmpfs: [String]
    public var devices: [Device]
    public var platform: String?
    public var pullPolicy: String?
    public var scale: Int?
    public var containerName: String?
    public var shmSize: Int64?
    public var memLimit: Int64?
    public var memReservation: Int64?
    public var cpus: Double?
    public var tty: Bool
    public var stdinOpen: Bool
    public var links: [String]
    public var securityOpt: [String]
    public var macAddress: String?
    public var uts: String?
    public var cgroup: String?
    public var usernsMode: String?
    public var oomScoreAdj: Int?
    public var memSwapLimit: Int64?
    public var cpuShares: Int?
    public var cpuset: String?
    public var pidsLimit: Int?
    public var extensions: [String: YAMLNode]

    /// Containers to run: `deploy.replicas`, else `scale`, else 1.
    public var replicas: Int { deploy?.replicas ?? scale ?? 1 }
}

public struct Build: Sendable, Equatable {
    public var context: String
    public var dockerfile: String?
    public var dockerfileInline: String?
    public var args: [String: String?]
    public var target: String?
    public var labels: [String: String]
    public var cacheFrom: [String]
    public var tags: [String]
    public var network: String?
    public var platforms: [String]
    public var additionalContexts: [String: String]
    public var extraHosts: [String]
    public var shmSize: Int64?
    public var noCache: Bool
    public var pull: Bool
}

public struct EnvFile: Sendable, Equatable {
    public var path: String
    public var required: Bool
}

public struct ServiceVolume: Sendable, Equatable {
    /// `bind`, `volume`, `tmpfs`, `npipe`, `cluster` or `image`.
    public var type: String
    public var source: String?
    public var target: String
    public var readOnly: Bool
    public var consistency: String?
    public var bindPropagation: String?
    public var bindCreateHostPath: Bool
    public var bindSELinux: String?
    public var volumeNoCopy: Bool
    public var volumeSubpath: String?
    public var tmpfsSize: Int64?
    public var tmpfsMode: Int?
}

public struct ServiceNetwork: Sendable, Equatable {
    public var aliases: [String]
    public var ipv4Address: String?
    public var ipv6Address: String?
    public var linkLocalIPs: [String]
    public var macAddress: String?
    public var priority: Int?
    public var driverOpts: [String: String]
}

public struct Dependency: Sendable, Equatable {
    /// `service_started`, `service_healthy` or `service_completed_successfully`.
    public var condition: String
    public var restart: Bool
    public var required: Bool
}

public struct Healthcheck: Sendable, Equatable {
    public var test: [String]?
    public var interval: Duration?
    public var timeout: Duration?
    public var startPeriod: Duration?
    public var startInterval: Duration?
    public var retries: Int?
    public var disable: Bool
}

public struct Ulimit: Sendable, Equatable {
    public var soft: Int
    public var hard: Int
}

public struct Logging: Sendable, Equatable {
    public var driver: String?
    public var options: [String: String]
}

public struct FileReference: Sendable, Equatable {
    public var source: String
    public var target: String?
    public var uid: String?
    public var gid: String?
    public var mode: Int?
}

public struct Device: Sendable, Equatable {
    public var source: String
    public var target: String
    public var permissions: String
}

public struct Deploy: Sendable, Equatable {
    public var mode: String?
    public var replicas: Int?
    public var labels: [String: String]
    public var endpointMode: String?
    public var resources: Resources
    public var restartPolicy: RestartPolicy?
    public var updateConfig: UpdateConfig?
    public var rollbackConfig: UpdateConfig?
    public var placement: Placement?

    public struct Resources: Sendable, Equatable {
        public var limits: Resource?
        public var reservations: Resource?
    }
    public struct Resource: Sendable, Equatable {
        public var cpus: Double?
        public var memory: Int64?
        public var pids: Int?
    }
    public struct RestartPolicy: Sendable, Equatable {
        public var condition: String?
        public var delay: Duration?
        public var maxAttempts: Int?
        public var window: Duration?
    }
    public struct UpdateConfig: Sendable, Equatable {
        public var parallelism: Int?
        public var delay: Duration?
        public var failureAction: String?
        public var monitor: Duration?
        public var maxFailureRatio: Double?
        /// `stop-first` or `start-first`.
        public var order: String?
    }
    public struct Placement: Sendable, Equatable {
        public var constraints: [String]
        public var preferences: [String]
        public var maxReplicasPerNode: Int?
    }
}

public struct Network: Sendable, Equatable {
    /// The engine name (`<project>_<key>` unless set or external).
    public var name: String
    public var driver: String?
    public var driverOpts: [String: String]
    public var external: Bool
    public var `internal`: Bool
    public var attachable: Bool
    public var enableIPv6: Bool?
    public var labels: [String: String]
    public var ipam: IPAM?

    public struct IPAM: Sendable, Equatable {
        public var driver: String?
        public var config: [Pool]
        public var options: [String: String]
    }
    public struct Pool: Sendable, Equatable {
        public var subnet: String?
        public var ipRange: String?
        public var gateway: String?
        public var auxAddresses: [String: String]
    }
}

public struct Volume: Sendable, Equatable {
    public var name: String
    public var driver: String?
    public var driverOpts: [String: String]
    public var external: Bool
    public var labels: [String: String]
}

/// A top-level secret or config.
public struct FileObject: Sendable, Equatable {
    public var name: String
    public var file: String?
    public var environment: String?
    public var content: String?
    public var external: Bool
    public var labels: [String: String]
    public var driver: String?
}
