import FoundationEssentials
import Glibc

// Types of the Engine API v1.41 (field names as in moby's docs/api/v1.41.yaml), limited to
// what Berth reads or sets. Unknown fields are ignored; nil fields are not sent.

/// `{}` in the API (e.g. `ExposedPorts`, `Volumes` values).
public struct EmptyObject: Codable, Sendable, Hashable {
    public init() {}
}

public struct HealthConfig: Codable, Sendable, Hashable {
    /// `["NONE"]`, `["CMD", …]` or `["CMD-SHELL", "…"]`.
    public var test: [String]?
    /// Nanoseconds.
    public var interval: Int64?
    public var timeout: Int64?
    public var retries: Int?
    public var startPeriod: Int64?

    public init(test: [String]? = nil, interval: Int64? = nil, timeout: Int64? = nil, retries: Int? = nil, startPeriod: Int64? = nil) {
        self.test = test
        self.interval = interval
        self.timeout = timeout
        self.retries = retries
        self.startPeriod = startPeriod
    }

    enum CodingKeys: String, CodingKey {
        case test = "Test", interval = "Interval", timeout = "Timeout", retries = "Retries", startPeriod = "StartPeriod"
    }
}

/// A container's `Config` (also an image's config).
public struct ContainerConfig: Codable, Sendable, Hashable {
    public var hostname: String?
    public var domainname: String?
    public var user: String?
    public var attachStdin: Bool?
    public var attachStdout: Bool?
    public var attachStderr: Bool?
    public var exposedPorts: [String: EmptyObject]?
    public var tty: Bool?
    public var openStdin: Bool?
    public var stdinOnce: Bool?
    public var env: [String]?
    public var cmd: [String]?
    public var healthcheck: HealthConfig?
    public var image: String?
    public var volumes: [String: EmptyObject]?
    public var workingDir: String?
    public var entrypoint: [String]?
    public var networkDisabled: Bool?
    public var macAddress: String?
    public var labels: [String: String]?
    public var stopSignal: String?
    /// Seconds.
    public var stopTimeout: Int?
    public var shell: [String]?

    public init(image: String? = nil, cmd: [String]? = nil, env: [String]? = nil, labels: [String: String]? = nil) {
        self.image = image
        self.cmd = cmd
        self.env = env
        self.labels = labels
    }

    enum CodingKeys: String, CodingKey {
        case hostname = "Hostname", domainname = "Domainname", user = "User", attachStdin = "AttachStdin"
        case attachStdout = "AttachStdout", attachStderr = "AttachStderr", exposedPorts = "ExposedPorts", tty = "Tty"
        case openStdin = "OpenStdin", stdinOnce = "StdinOnce", env = "Env", cmd = "Cmd", healthcheck = "Healthcheck"
        case image = "Image", volumes = "Volumes", workingDir = "WorkingDir", entrypoint = "Entrypoint"
        case networkDisabled = "NetworkDisabled", macAddress = "MacAddress", labels = "Labels"
        case stopSignal = "StopSignal", stopTimeout = "StopTimeout", shell = "Shell"
    }
}

public struct PortBinding: Codable, Sendable, Hashable {
    public var hostIP: String?
    public var hostPort: String?
    public init(hostIP: String? = nil, hostPort: String? = nil) {
        self.hostIP = hostIP
        self.hostPort = hostPort
    }
    enum CodingKeys: String, CodingKey { case hostIP = "HostIp", hostPort = "HostPort" }
}

public struct RestartPolicy: Codable, Sendable, Hashable {
    /// `""`, `no`, `always`, `unless-stopped`, `on-failure`.
    public var name: String?
    public var maximumRetryCount: Int?
    public init(name: String? = nil, maximumRetryCount: Int? = nil) {
        self.name = name
        self.maximumRetryCount = maximumRetryCount
    }
    enum CodingKeys: String, CodingKey { case name = "Name", maximumRetryCount = "MaximumRetryCount" }
}

/// A mount in `HostConfig.Mounts`.
public struct Mount: Codable, Sendable, Hashable {
    public struct BindOptions: Codable, Sendable, Hashable {
        public var propagation: String?
        public var nonRecursive: Bool?
        public init(propagation: String? = nil, nonRecursive: Bool? = nil) {
            self.propagation = propagation
            self.nonRecursive = nonRecursive
        }
        enum CodingKeys: String, CodingKey { case propagation = "Propagation", nonRecursive = "NonRecursive" }
    }
    public struct DriverConfig: Codable, Sendable, Hashable {
        public var name: String?
        public var options: [String: String]?
        public init(name: String? = nil, options: [String: String]? = nil) {
            self.name = name
            self.options = options
        }
        enum CodingKeys: String, CodingKey { case name = "Name", options = "Options" }
    }
    public struct VolumeOptions: Codable, Sendable, Hashable {
        public var noCopy: Bool?
        public var labels: [String: String]?
        public var driverConfig: DriverConfig?
        public init(noCopy: Bool? = nil, labels: [String: String]? = nil, driverConfig: DriverConfig? = nil) {
            self.noCopy = noCopy
            self.labels = labels
            self.driverConfig = driverConfig
        }
        enum CodingKeys: String, CodingKey { case noCopy = "NoCopy", labels = "Labels", driverConfig = "DriverConfig" }
    }
    public struct TmpfsOptions: Codable, Sendable, Hashable {
        public var sizeBytes: Int64?
        public var mode: Int?
        public init(sizeBytes: Int64? = nil, mode: Int? = nil) {
            self.sizeBytes = sizeBytes
            self.mode = mode
        }
        enum CodingKeys: String, CodingKey { case sizeBytes = "SizeBytes", mode = "Mode" }
    }

    public var target: String?
    public var source: String?
    /// `bind`, `volume`, `tmpfs`, `npipe`.
    public var type: String?
    public var readOnly: Bool?
    public var consistency: String?
    public var bindOptions: BindOptions?
    public var volumeOptions: VolumeOptions?
    public var tmpfsOptions: TmpfsOptions?

    public init(type: String, source: String? = nil, target: String, readOnly: Bool? = nil) {
        self.type = type
        self.source = source
        self.target = target
        self.readOnly = readOnly
    }

    enum CodingKeys: String, CodingKey {
        case target = "Target", source = "Source", type = "Type", readOnly = "ReadOnly", consistency = "Consistency"
        case bindOptions = "BindOptions", volumeOptions = "VolumeOptions", tmpfsOptions = "TmpfsOptions"
    }
}

public struct Ulimit: Codable, Sendable, Hashable {
    public var name: String?
    public var soft: Int64?
    public var hard: Int64?
    public init(name: String, soft: Int64, hard: Int64) {
        self.name = name
        self.soft = soft
        self.hard = hard
    }
    enum CodingKeys: String, CodingKey { case name = "Name", soft = "Soft", hard = "Hard" }
}

public struct LogConfig: Codable, Sendable, Hashable {
    public var type: String?
    public var config: [String: String]?
    public init(type: String? = nil, config: [String: String]? = nil) {
        self.type = type
        self.config = config
    }
    enum CodingKeys: String, CodingKey { case type = "Type", config = "Config" }
}

public struct DeviceMapping: Codable, Sendable, Hashable {
    public var pathOnHost: String?
    public var pathInContainer: String?
    public var cgroupPermissions: String?
    public init(pathOnHost: String, pathInContainer: String, cgroupPermissions: String = "rwm") {
        self.pathOnHost = pathOnHost
        self.pathInContainer = pathInContainer
        self.cgroupPermissions = cgroupPermissions
    }
    enum CodingKeys: String, CodingKey {
        case pathOnHost = "PathOnHost", pathInContainer = "PathInContainer", cgroupPermissions = "CgroupPermissions"
    }
}

public struct HostConfig: Codable, Sendable, Hashable {
    public var binds: [String]?
    public var networkMode: String?
    public var portBindings: [String: [PortBinding]?]?
    public var restartPolicy: RestartPolicy?
    public var autoRemove: Bool?
    public var volumeDriver: String?
    public var volumesFrom: [String]?
    public var mounts: [Mount]?
    public var capAdd: [String]?
    public var capDrop: [String]?
    public var cgroupnsMode: String?
    public var dns: [String]?
    public var dnsOptions: [String]?
    public var dnsSearch: [String]?
    public var extraHosts: [String]?
    public var groupAdd: [String]?
    public var ipcMode: String?
    public var cgroup: String?
    public var links: [String]?
    public var oomScoreAdj: Int?
    public var pidMode: String?
    public var privileged: Bool?
    public var publishAllPorts: Bool?
    public var readonlyRootfs: Bool?
    public var securityOpt: [String]?
    public var storageOpt: [String: String]?
    public var tmpfs: [String: String]?
    public var utsMode: String?
    public var usernsMode: String?
    public var shmSize: Int64?
    public var sysctls: [String: String]?
    public var runtime: String?
    public var isolation: String?
    public var initProcess: Bool?
    public var cpuShares: Int?
    public var memory: Int64?
    public var memoryReservation: Int64?
    public var memorySwap: Int64?
    public var nanoCpus: Int64?
    public var cpuPeriod: Int64?
    public var cpuQuota: Int64?
    public var cpusetCpus: String?
    public var pidsLimit: Int64?
    public var ulimits: [Ulimit]?
    public var devices: [DeviceMapping]?
    public var oomKillDisable: Bool?
    public var cgroupParent: String?
    public var logConfig: LogConfig?

    public init(networkMode: String? = nil, binds: [String]? = nil, restartPolicy: RestartPolicy? = nil) {
        self.networkMode = networkMode
        self.binds = binds
        self.restartPolicy = restartPolicy
    }

    enum CodingKeys: String, CodingKey {
        case binds = "Binds", networkMode = "NetworkMode", portBindings = "PortBindings"
        case restartPolicy = "RestartPolicy", autoRemove = "AutoRemove", volumeDriver = "VolumeDriver"
        case volumesFrom = "VolumesFrom", mounts = "Mounts", capAdd = "CapAdd", capDrop = "CapDrop"
        case cgroupnsMode = "CgroupnsMode", dns = "Dns", dnsOptions = "DnsOptions", dnsSearch = "DnsSearch"
        case extraHosts = "ExtraHosts", groupAdd = "GroupAdd", ipcMode = "IpcMode", cgroup = "Cgroup"
        case links = "Links", oomScoreAdj = "OomScoreAdj", pidMode = "PidMode", privileged = "Privileged"
        case publishAllPorts = "PublishAllPorts", readonlyRootfs = "ReadonlyRootfs", securityOpt = "SecurityOpt"
        case storageOpt = "StorageOpt", tmpfs = "Tmpfs", utsMode = "UTSMode", usernsMode = "UsernsMode"
        case shmSize = "ShmSize", sysctls = "Sysctls", runtime = "Runtime", isolation = "Isolation"
        case initProcess = "Init", cpuShares = "CpuShares", memory = "Memory"
        case memoryReservation = "MemoryReservation", memorySwap = "MemorySwap", nanoCpus = "NanoCpus"
        case cpuPeriod = "CpuPeriod", cpuQuota = "CpuQuota", cpusetCpus = "CpusetCpus", pidsLimit = "PidsLimit"
        case ulimits = "Ulimits", devices = "Devices", oomKillDisable = "OomKillDisable"
        case cgroupParent = "CgroupParent", logConfig = "LogConfig"
    }
}

public struct EndpointIPAMConfig: Codable, Sendable, Hashable {
    public var ipv4Address: String?
    public var ipv6Address: String?
    public var linkLocalIPs: [String]?
    public init(ipv4Address: String? = nil, ipv6Address: String? = nil) {
        self.ipv4Address = ipv4Address
        self.ipv6Address = ipv6Address
    }
    enum CodingKeys: String, CodingKey {
        case ipv4Address = "IPv4Address", ipv6Address = "IPv6Address", linkLocalIPs = "LinkLocalIPs"
    }
}

/// A container's attachment to one network.
public struct EndpointSettings: Codable, Sendable, Hashable {
    public var ipamConfig: EndpointIPAMConfig?
    public var links: [String]?
    public var aliases: [String]?
    public var networkID: String?
    public var endpointID: String?
    public var gateway: String?
    public var ipAddress: String?
    public var ipPrefixLen: Int?
    public var globalIPv6Address: String?
    public var macAddress: String?
    public var driverOpts: [String: String]?

    public init(aliases: [String]? = nil, ipamConfig: EndpointIPAMConfig? = nil, links: [String]? = nil) {
        self.aliases = aliases
        self.ipamConfig = ipamConfig
        self.links = links
    }

    enum CodingKeys: String, CodingKey {
        case ipamConfig = "IPAMConfig", links = "Links", aliases = "Aliases", networkID = "NetworkID"
        case endpointID = "EndpointID", gateway = "Gateway", ipAddress = "IPAddress", ipPrefixLen = "IPPrefixLen"
        case globalIPv6Address = "GlobalIPv6Address", macAddress = "MacAddress", driverOpts = "DriverOpts"
    }
}

public struct NetworkingConfig: Codable, Sendable, Hashable {
    public var endpointsConfig: [String: EndpointSettings]?
    public init(endpointsConfig: [String: EndpointSettings]? = nil) { self.endpointsConfig = endpointsConfig }
    enum CodingKeys: String, CodingKey { case endpointsConfig = "EndpointsConfig" }
}

/// Body of `POST /containers/create`: the container `Config` fields at top level, plus
/// `HostConfig` and `NetworkingConfig`.
public struct ContainerCreateRequest: Encodable, Sendable, Hashable {
    public var config: ContainerConfig
    public var hostConfig: HostConfig?
    public var networkingConfig: NetworkingConfig?

    public init(config: ContainerConfig, hostConfig: HostConfig? = nil, networkingConfig: NetworkingConfig? = nil) {
        self.config = config
        self.hostConfig = hostConfig
        self.networkingConfig = networkingConfig
    }

    enum CodingKeys: String, CodingKey { case hostConfig = "HostConfig", networkingConfig = "NetworkingConfig" }

    public func encode(to encoder: any Encoder) throws {
        try config.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(hostConfig, forKey: .hostConfig)
        try c.encodeIfPresent(networkingConfig, forKey: .networkingConfig)
    }
}

public struct ContainerCreateResponse: Decodable, Sendable {
    public var id: String
    public var warnings: [String]?
    enum CodingKeys: String, CodingKey { case id = "Id", warnings = "Warnings" }
}

public struct HealthcheckResult: Codable, Sendable, Hashable {
    public var start: String?
    public var end: String?
    public var exitCode: Int?
    public var output: String?
    enum CodingKeys: String, CodingKey { case start = "Start", end = "End", exitCode = "ExitCode", output = "Output" }
}

public struct Health: Codable, Sendable, Hashable {
    /// `none`, `starting`, `healthy`, `unhealthy`.
    public var status: String?
    public var failingStreak: Int?
    public var log: [HealthcheckResult]?
    enum CodingKeys: String, CodingKey { case status = "Status", failingStreak = "FailingStreak", log = "Log" }
}

public struct ContainerState: Codable, Sendable, Hashable {
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited`, `dead`.
    public var status: String?
    public var running: Bool?
    public var paused: Bool?
    public var restarting: Bool?
    public var oomKilled: Bool?
    public var dead: Bool?
    public var pid: Int?
    public var exitCode: Int?
    public var error: String?
    public var startedAt: String?
    public var finishedAt: String?
    public var health: Health?
    enum CodingKeys: String, CodingKey {
        case status = "Status", running = "Running", paused = "Paused", restarting = "Restarting"
        case oomKilled = "OOMKilled", dead = "Dead", pid = "Pid", exitCode = "ExitCode", error = "Error"
        case startedAt = "StartedAt", finishedAt = "FinishedAt", health = "Health"
    }
}

/// A mount as a container reports it (inspect `Mounts`, list `Mounts`).
public struct MountPoint: Codable, Sendable, Hashable {
    public var type: String?
    public var name: String?
    public var source: String?
    public var destination: String?
    public var driver: String?
    public var mode: String?
    public var rw: Bool?
    public var propagation: String?
    enum CodingKeys: String, CodingKey {
        case type = "Type", name = "Name", source = "Source", destination = "Destination", driver = "Driver"
        case mode = "Mode", rw = "RW", propagation = "Propagation"
    }
}

public struct NetworkSettings: Codable, Sendable, Hashable {
    public var networks: [String: EndpointSettings]?
    /// `"80/tcp": [{HostIp, HostPort}]`, or null for an exposed port not published.
    public var ports: [String: [PortBinding]?]?
    public var ipAddress: String?
    enum CodingKeys: String, CodingKey { case networks = "Networks", ports = "Ports", ipAddress = "IPAddress" }
}

/// `GET /containers/{id}/json`.
public struct ContainerInspect: Codable, Sendable, Hashable {
    public var id: String
    public var created: String?
    public var path: String?
    public var args: [String]?
    public var state: ContainerState?
    /// The image ID (`sha256:…`).
    public var image: String?
    /// With a leading `/`.
    public var name: String?
    public var restartCount: Int?
    public var hostConfig: HostConfig?
    public var config: ContainerConfig?
    public var mounts: [MountPoint]?
    public var networkSettings: NetworkSettings?

    /// The name without the leading `/`.
    public var plainName: String { String((name ?? "").drop { $0 == "/" }) }

    enum CodingKeys: String, CodingKey {
        case id = "Id", created = "Created", path = "Path", args = "Args", state = "State", image = "Image"
        case name = "Name", restartCount = "RestartCount", hostConfig = "HostConfig", config = "Config"
        case mounts = "Mounts", networkSettings = "NetworkSettings"
    }
}

public struct ContainerPort: Codable, Sendable, Hashable {
    public var ip: String?
    public var privatePort: Int?
    public var publicPort: Int?
    public var type: String?
    enum CodingKeys: String, CodingKey { case ip = "IP", privatePort = "PrivatePort", publicPort = "PublicPort", type = "Type" }
}

/// One entry of `GET /containers/json`.
public struct ContainerSummary: Codable, Sendable, Hashable {
    public struct SummaryHostConfig: Codable, Sendable, Hashable {
        public var networkMode: String?
        enum CodingKeys: String, CodingKey { case networkMode = "NetworkMode" }
    }
    public struct SummaryNetworkSettings: Codable, Sendable, Hashable {
        public var networks: [String: EndpointSettings]?
        enum CodingKeys: String, CodingKey { case networks = "Networks" }
    }

    public var id: String
    /// With leading `/`.
    public var names: [String]?
    public var image: String?
    public var imageID: String?
    public var command: String?
    /// Unix seconds.
    public var created: Int64?
    public var state: String?
    public var status: String?
    public var ports: [ContainerPort]?
    public var labels: [String: String]?
    public var hostConfig: SummaryHostConfig?
    public var networkSettings: SummaryNetworkSettings?
    public var mounts: [MountPoint]?

    /// The first name without its leading `/`.
    public var name: String? { names?.first.map { String($0.drop { $0 == "/" }) } }

    enum CodingKeys: String, CodingKey {
        case id = "Id", names = "Names", image = "Image", imageID = "ImageID", command = "Command"
        case created = "Created", state = "State", status = "Status", ports = "Ports", labels = "Labels"
        case hostConfig = "HostConfig", networkSettings = "NetworkSettings", mounts = "Mounts"
    }
}

public struct ContainerWaitResponse: Decodable, Sendable {
    public struct WaitError: Decodable, Sendable { public var message: String?
        enum CodingKeys: String, CodingKey { case message = "Message" }
    }
    public var statusCode: Int
    public var error: WaitError?
    enum CodingKeys: String, CodingKey { case statusCode = "StatusCode", error = "Error" }
}
