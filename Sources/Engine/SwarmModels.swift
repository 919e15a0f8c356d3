import FoundationEssentials
import Glibc

// Swarm types of the Engine API v1.41 (ServiceSpec, TaskSpec, Task, Secret, Config), field
// names as in moby's docs/api/v1.41.yaml. Every field is optional so a spec can be built up
// field by field and nil fields are not sent; `init()` makes an empty value.

public struct ObjectVersion: Codable, Sendable, Hashable {
    public var index: UInt64?
    public init(index: UInt64? = nil) { self.index = index }
    enum CodingKeys: String, CodingKey { case index = "Index" }
}

/// `GET /swarm`.
public struct SwarmInspect: Codable, Sendable, Hashable {
    public var id: String?
    public var version: ObjectVersion?
    public var createdAt: String?
    enum CodingKeys: String, CodingKey { case id = "ID", version = "Version", createdAt = "CreatedAt" }
}

/// `POST /swarm/init`.
public struct SwarmInitRequest: Codable, Sendable, Hashable {
    public var listenAddr: String?
    public var advertiseAddr: String?
    public var forceNewCluster: Bool?
    public init(listenAddr: String? = "0.0.0.0:2377", advertiseAddr: String? = nil, forceNewCluster: Bool? = nil) {
        self.listenAddr = listenAddr
        self.advertiseAddr = advertiseAddr
        self.forceNewCluster = forceNewCluster
    }
    enum CodingKeys: String, CodingKey {
        case listenAddr = "ListenAddr", advertiseAddr = "AdvertiseAddr", forceNewCluster = "ForceNewCluster"
    }
}

// MARK: service spec

public struct ServiceSpec: Codable, Sendable, Hashable {
    public var name: String?
    public var labels: [String: String]?
    public var taskTemplate: TaskSpec?
    public var mode: ServiceMode?
    public var updateConfig: ServiceUpdateConfig?
    public var rollbackConfig: ServiceUpdateConfig?
    public var endpointSpec: EndpointSpec?
    public init() {}
    enum CodingKeys: String, CodingKey {
        case name = "Name", labels = "Labels", taskTemplate = "TaskTemplate", mode = "Mode"
        case updateConfig = "UpdateConfig", rollbackConfig = "RollbackConfig", endpointSpec = "EndpointSpec"
    }
}

public struct ServiceMode: Codable, Sendable, Hashable {
    public struct Replicated: Codable, Sendable, Hashable {
        public var replicas: UInt64?
        public init(replicas: UInt64?) { self.replicas = replicas }
        enum CodingKeys: String, CodingKey { case replicas = "Replicas" }
    }
    public var replicated: Replicated?
    public var global: EmptyObject?
    public init(replicated: Replicated? = nil, global: EmptyObject? = nil) {
        self.replicated = replicated
        self.global = global
    }
    public static func replicated(_ n: Int) -> ServiceMode { ServiceMode(replicated: .init(replicas: UInt64(max(0, n)))) }
    public static var global: ServiceMode { ServiceMode(global: EmptyObject()) }
    enum CodingKeys: String, CodingKey { case replicated = "Replicated", global = "Global" }
}

/// `UpdateConfig` and `RollbackConfig` (durations in nanoseconds).
public struct ServiceUpdateConfig: Codable, Sendable, Hashable {
    public var parallelism: Int64?
    public var delay: Int64?
    /// `continue`, `pause` or `rollback` (not for rollback).
    public var failureAction: String?
    public var monitor: Int64?
    public var maxFailureRatio: Double?
    /// `stop-first` or `start-first`.
    public var order: String?
    public init() {}
    enum CodingKeys: String, CodingKey {
        case parallelism = "Parallelism", delay = "Delay", failureAction = "FailureAction", monitor = "Monitor"
        case maxFailureRatio = "MaxFailureRatio", order = "Order"
    }
}

public struct EndpointPortConfig: Codable, Sendable, Hashable {
    public var name: String?
    public var `protocol`: String?
    public var targetPort: Int?
    public var publishedPort: Int?
    /// `ingress` or `host`.
    public var publishMode: String?
    public init(protocol: String? = "tcp", targetPort: Int?, publishedPort: Int? = nil, publishMode: String? = nil) {
        self.protocol = `protocol`
        self.targetPort = targetPort
        self.publishedPort = publishedPort
        self.publishMode = publishMode
    }
    enum CodingKeys: String, CodingKey {
        case name = "Name", `protocol` = "Protocol", targetPort = "TargetPort", publishedPort = "PublishedPort"
        case publishMode = "PublishMode"
    }
}

public struct EndpointSpec: Codable, Sendable, Hashable {
    /// `vip` or `dnsrr`.
    public var mode: String?
    public var ports: [EndpointPortConfig]?
    public init(mode: String? = nil, ports: [EndpointPortConfig]? = nil) {
        self.mode = mode
        self.ports = ports
    }
    enum CodingKeys: String, CodingKey { case mode = "Mode", ports = "Ports" }
}

public struct TaskSpec: Codable, Sendable, Hashable {
    public var containerSpec: SwarmContainerSpec?
    public var resources: ResourceRequirements?
    public var restartPolicy: SwarmRestartPolicy?
    public var placement: Placement?
    /// A counter: changing it restarts every task without another change.
    public var forceUpdate: UInt64?
    public var networks: [NetworkAttachmentConfig]?
    public var logDriver: SwarmDriver?
    public init() {}
    enum CodingKeys: String, CodingKey {
        case containerSpec = "ContainerSpec", resources = "Resources", restartPolicy = "RestartPolicy"
        case placement = "Placement", forceUpdate = "ForceUpdate", networks = "Networks", logDriver = "LogDriver"
    }
}

public struct SwarmDriver: Codable, Sendable, Hashable {
    public var name: String?
    public var options: [String: String]?
    public init(name: String?, options: [String: String]? = nil) {
        self.name = name
        self.options = options
    }
    enum CodingKeys: String, CodingKey { case name = "Name", options = "Options" }
}

public struct NetworkAttachmentConfig: Codable, Sendable, Hashable {
    /// Network name or ID.
    public var target: String?
    public var aliases: [String]?
    public var driverOpts: [String: String]?
    public init(target: String?, aliases: [String]? = nil, driverOpts: [String: String]? = nil) {
        self.target = target
        self.aliases = aliases
        self.driverOpts = driverOpts
    }
    enum CodingKeys: String, CodingKey { case target = "Target", aliases = "Aliases", driverOpts = "DriverOpts" }
}

public struct ResourceRequirements: Codable, Sendable, Hashable {
    public struct Limit: Codable, Sendable, Hashable {
        public var nanoCPUs: Int64?
        public var memoryBytes: Int64?
        public var pids: Int64?
        public init() {}
        enum CodingKeys: String, CodingKey { case nanoCPUs = "NanoCPUs", memoryBytes = "MemoryBytes", pids = "Pids" }
    }
    public var limits: Limit?
    public var reservations: Limit?
    public init() {}
    enum CodingKeys: String, CodingKey { case limits = "Limits", reservations = "Reservations" }
}

public struct SwarmRestartPolicy: Codable, Sendable, Hashable {
    /// `none`, `on-failure` or `any`.
    public var condition: String?
    public var delay: Int64?
    public var maxAttempts: Int64?
    public var window: Int64?
    public init(condition: String? = nil) { self.condition = condition }
    enum CodingKeys: String, CodingKey {
        case condition = "Condition", delay = "Delay", maxAttempts = "MaxAttempts", window = "Window"
    }
}

public struct Placement: Codable, Sendable, Hashable {
    public struct Preference: Codable, Sendable, Hashable {
        public struct Spread: Codable, Sendable, Hashable {
            public var spreadDescriptor: String?
            enum CodingKeys: String, CodingKey { case spreadDescriptor = "SpreadDescriptor" }
        }
        public var spread: Spread?
        public init(spread descriptor: String) { spread = Spread(spreadDescriptor: descriptor) }
        enum CodingKeys: String, CodingKey { case spread = "Spread" }
    }
    public var constraints: [String]?
    public var preferences: [Preference]?
    public var maxReplicas: UInt64?
    public init() {}
    enum CodingKeys: String, CodingKey {
        case constraints = "Constraints", preferences = "Preferences", maxReplicas = "MaxReplicas"
    }
}

/// The file a secret or config appears as inside the container.
public struct SwarmFileTarget: Codable, Sendable, Hashable {
    public var name: String?
    public var uid: String?
    public var gid: String?
    public var mode: UInt32?
    public init(name: String?, uid: String? = "0", gid: String? = "0", mode: UInt32? = 0o444) {
        self.name = name
        self.uid = uid
        self.gid = gid
        self.mode = mode
    }
    enum CodingKeys: String, CodingKey { case name = "Name", uid = "UID", gid = "GID", mode = "Mode" }
}

public struct SecretReference: Codable, Sendable, Hashable {
    public var file: SwarmFileTarget?
    public var secretID: String?
    public var secretName: String?
    public init(file: SwarmFileTarget?, secretID: String? = nil, secretName: String?) {
        self.file = file
        self.secretID = secretID
        self.secretName = secretName
    }
    enum CodingKeys: String, CodingKey { case file = "File", secretID = "SecretID", secretName = "SecretName" }
}

public struct ConfigReference: Codable, Sendable, Hashable {
    public var file: SwarmFileTarget?
    public var configID: String?
    public var configName: String?
    public init(file: SwarmFileTarget?, configID: String? = nil, configName: String?) {
        self.file = file
        self.configID = configID
        self.configName = configName
    }
    enum CodingKeys: String, CodingKey { case file = "File", configID = "ConfigID", configName = "ConfigName" }
}

public struct DNSConfig: Codable, Sendable, Hashable {
    public var nameservers: [String]?
    public var search: [String]?
    public var options: [String]?
    public init(nameservers: [String]? = nil, search: [String]? = nil, options: [String]? = nil) {
        self.nameservers = nameservers
        self.search = search
        self.options = options
    }
    enum CodingKeys: String, CodingKey { case nameservers = "Nameservers", search = "Search", options = "Options" }
}

/// `TaskTemplate.ContainerSpec`.
public struct SwarmContainerSpec: Codable, Sendable, Hashable {
    public var image: String?
    public var labels: [String: String]?
    /// The entrypoint (compose `entrypoint`).
    public var command: [String]?
    /// Arguments (compose `command`).
    public var args: [String]?
    public var hostname: String?
    public var env: [String]?
    public var dir: String?
    public var user: String?
    public var groups: [String]?
    public var tty: Bool?
    public var openStdin: Bool?
    public var readOnly: Bool?
    public var mounts: [Mount]?
    public var stopSignal: String?
    /// Nanoseconds.
    public var stopGracePeriod: Int64?
    public var healthCheck: HealthConfig?
    /// `IP host [aliases…]` lines.
    public var hosts: [String]?
    public var dnsConfig: DNSConfig?
    public var secrets: [SecretReference]?
    public var configs: [ConfigReference]?
    public var initProcess: Bool?
    public var sysctls: [String: String]?
    public var capabilityAdd: [String]?
    public var capabilityDrop: [String]?
    public var ulimits: [Ulimit]?
    public init() {}
    enum CodingKeys: String, CodingKey {
        case image = "Image", labels = "Labels", command = "Command", args = "Args", hostname = "Hostname", env = "Env"
        case dir = "Dir", user = "User", groups = "Groups", tty = "TTY", openStdin = "OpenStdin", readOnly = "ReadOnly"
        case mounts = "Mounts", stopSignal = "StopSignal", stopGracePeriod = "StopGracePeriod", healthCheck = "HealthCheck"
        case hosts = "Hosts", dnsConfig = "DNSConfig", secrets = "Secrets", configs = "Configs", initProcess = "Init"
        case sysctls = "Sysctls", capabilityAdd = "CapabilityAdd", capabilityDrop = "CapabilityDrop", ulimits = "Ulimits"
    }
}

// MARK: services and tasks

/// `Service.UpdateStatus`. States: `updating`, `paused`, `completed`, `rollback_started`,
/// `rollback_paused`, `rollback_completed`.
public struct ServiceUpdateStatus: Codable, Sendable, Hashable {
    public var state: String?
    public var startedAt: String?
    public var completedAt: String?
    public var message: String?
    enum CodingKeys: String, CodingKey { case state = "State", startedAt = "StartedAt", completedAt = "CompletedAt", message = "Message" }
}

/// `Service.ServiceStatus`, present when listed with `status=true`.
public struct ServiceStatus: Codable, Sendable, Hashable {
    public var runningTasks: UInt64?
    public var desiredTasks: UInt64?
    public var completedTasks: UInt64?
    enum CodingKeys: String, CodingKey {
        case runningTasks = "RunningTasks", desiredTasks = "DesiredTasks", completedTasks = "CompletedTasks"
    }
}

public struct SwarmService: Codable, Sendable, Hashable {
    public struct Endpoint: Codable, Sendable, Hashable {
        public var spec: EndpointSpec?
        public var ports: [EndpointPortConfig]?
        enum CodingKeys: String, CodingKey { case spec = "Spec", ports = "Ports" }
    }
    public var id: String
    public var version: ObjectVersion?
    public var createdAt: String?
    public var updatedAt: String?
    public var spec: ServiceSpec?
    public var previousSpec: ServiceSpec?
    public var endpoint: Endpoint?
    public var updateStatus: ServiceUpdateStatus?
    public var serviceStatus: ServiceStatus?
    enum CodingKeys: String, CodingKey {
        case id = "ID", version = "Version", createdAt = "CreatedAt", updatedAt = "UpdatedAt", spec = "Spec"
        case previousSpec = "PreviousSpec", endpoint = "Endpoint", updateStatus = "UpdateStatus"
        case serviceStatus = "ServiceStatus"
    }
}

public struct ServiceCreateResponse: Codable, Sendable, Hashable {
    public var id: String
    public var warnings: [String]?
    enum CodingKeys: String, CodingKey { case id = "ID", warnings = "Warnings" }
}

public struct ServiceUpdateResponse: Codable, Sendable, Hashable {
    public var warnings: [String]?
    enum CodingKeys: String, CodingKey { case warnings = "Warnings" }
}

public struct SwarmTask: Codable, Sendable, Hashable {
    public struct Status: Codable, Sendable, Hashable {
        public struct ContainerStatus: Codable, Sendable, Hashable {
            public var containerID: String?
            public var pid: Int?
            public var exitCode: Int?
            enum CodingKeys: String, CodingKey { case containerID = "ContainerID", pid = "PID", exitCode = "ExitCode" }
        }
        public var timestamp: String?
        /// `new` … `running`, `complete`, `shutdown`, `failed`, `rejected`, `remove`, `orphaned`.
        public var state: String?
        public var message: String?
        public var err: String?
        public var containerStatus: ContainerStatus?
        enum CodingKeys: String, CodingKey {
            case timestamp = "Timestamp", state = "State", message = "Message", err = "Err", containerStatus = "ContainerStatus"
        }
    }
    public var id: String
    public var version: ObjectVersion?
    public var createdAt: String?
    public var updatedAt: String?
    public var name: String?
    public var labels: [String: String]?
    public var spec: TaskSpec?
    public var serviceID: String?
    public var slot: Int?
    public var nodeID: String?
    public var status: Status?
    public var desiredState: String?
    enum CodingKeys: String, CodingKey {
        case id = "ID", version = "Version", createdAt = "CreatedAt", updatedAt = "UpdatedAt", name = "Name"
        case labels = "Labels", spec = "Spec", serviceID = "ServiceID", slot = "Slot", nodeID = "NodeID"
        case status = "Status", desiredState = "DesiredState"
    }
}

// MARK: secrets and configs

/// `SecretSpec` and `ConfigSpec` share their shape; `data` is sent base64-encoded and never
/// returned for secrets.
public struct SwarmObjectSpec: Codable, Sendable, Hashable {
    public var name: String?
    public var labels: [String: String]?
    /// Base64 of the content.
    public var data: String?
    public var driver: SwarmDriver?
    public var templating: SwarmDriver?
    public init(name: String, labels: [String: String]? = nil, content: Data? = nil) {
        self.name = name
        self.labels = labels
        self.data = content?.base64EncodedString()
    }
    enum CodingKeys: String, CodingKey {
        case name = "Name", labels = "Labels", data = "Data", driver = "Driver", templating = "Templating"
    }
}

/// A secret or a config, as listed.
public struct SwarmObject: Codable, Sendable, Hashable {
    public var id: String
    public var version: ObjectVersion?
    public var createdAt: String?
    public var updatedAt: String?
    public var spec: SwarmObjectSpec?
    public var name: String { spec?.name ?? id }
    public var labels: [String: String] { spec?.labels ?? [:] }
    enum CodingKeys: String, CodingKey {
        case id = "ID", version = "Version", createdAt = "CreatedAt", updatedAt = "UpdatedAt", spec = "Spec"
    }
}

struct IDResponse: Decodable {
    var id: String
    enum CodingKeys: String, CodingKey { case id = "ID" }
}
