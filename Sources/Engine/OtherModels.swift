import FoundationEssentials
import Glibc

// MARK: images

public struct ImageSummary: Codable, Sendable, Hashable {
    public var id: String
    public var parentID: String?
    public var repoTags: [String]?
    public var repoDigests: [String]?
    public var created: Int64?
    public var size: Int64?
    public var labels: [String: String]?
    enum CodingKeys: String, CodingKey {
        case id = "Id", parentID = "ParentId", repoTags = "RepoTags", repoDigests = "RepoDigests"
        case created = "Created", size = "Size", labels = "Labels"
    }
}

public struct ImageInspect: Codable, Sendable, Hashable {
    public struct RootFS: Codable, Sendable, Hashable {
        public var type: String?
        public var layers: [String]?
        enum CodingKeys: String, CodingKey { case type = "Type", layers = "Layers" }
    }
    public var id: String
    public var repoTags: [String]?
    public var repoDigests: [String]?
    public var created: String?
    public var config: ContainerConfig?
    public var architecture: String?
    public var os: String?
    public var size: Int64?
    public var rootFS: RootFS?
    enum CodingKeys: String, CodingKey {
        case id = "Id", repoTags = "RepoTags", repoDigests = "RepoDigests", created = "Created", config = "Config"
        case architecture = "Architecture", os = "Os", size = "Size", rootFS = "RootFS"
    }
}

/// One entry of `DELETE /images/{name}`.
public struct ImageDeleteItem: Codable, Sendable, Hashable {
    public var untagged: String?
    public var deleted: String?
    enum CodingKeys: String, CodingKey { case untagged = "Untagged", deleted = "Deleted" }
}

// MARK: networks

public struct IPAMConfig: Codable, Sendable, Hashable {
    public var subnet: String?
    public var ipRange: String?
    public var gateway: String?
    public var auxAddresses: [String: String]?
    public init(subnet: String? = nil, ipRange: String? = nil, gateway: String? = nil) {
        self.subnet = subnet
        self.ipRange = ipRange
        self.gateway = gateway
    }
    enum CodingKeys: String, CodingKey {
        case subnet = "Subnet", ipRange = "IPRange", gateway = "Gateway", auxAddresses = "AuxiliaryAddresses"
    }
}

public struct IPAM: Codable, Sendable, Hashable {
    public var driver: String?
    public var config: [IPAMConfig]?
    public var options: [String: String]?
    public init(driver: String? = nil, config: [IPAMConfig]? = nil, options: [String: String]? = nil) {
        self.driver = driver
        self.config = config
        self.options = options
    }
    enum CodingKeys: String, CodingKey { case driver = "Driver", config = "Config", options = "Options" }
}

public struct NetworkContainer: Codable, Sendable, Hashable {
    public var name: String?
    public var endpointID: String?
    public var macAddress: String?
    public var ipv4Address: String?
    public var ipv6Address: String?
    enum CodingKeys: String, CodingKey {
        case name = "Name", endpointID = "EndpointID", macAddress = "MacAddress", ipv4Address = "IPv4Address"
        case ipv6Address = "IPv6Address"
    }
}

public struct Network: Codable, Sendable, Hashable {
    public var name: String
    public var id: String
    public var created: String?
    public var scope: String?
    public var driver: String?
    public var enableIPv6: Bool?
    public var ipam: IPAM?
    public var `internal`: Bool?
    public var attachable: Bool?
    public var ingress: Bool?
    public var containers: [String: NetworkContainer]?
    public var options: [String: String]?
    public var labels: [String: String]?
    enum CodingKeys: String, CodingKey {
        case name = "Name", id = "Id", created = "Created", scope = "Scope", driver = "Driver"
        case enableIPv6 = "EnableIPv6", ipam = "IPAM", `internal` = "Internal", attachable = "Attachable"
        case ingress = "Ingress", containers = "Containers", options = "Options", labels = "Labels"
    }
}

public struct NetworkCreateRequest: Codable, Sendable, Hashable {
    public var name: String
    public var checkDuplicate: Bool?
    public var driver: String?
    public var `internal`: Bool?
    public var attachable: Bool?
    public var ingress: Bool?
    public var enableIPv6: Bool?
    public var ipam: IPAM?
    public var options: [String: String]?
    public var labels: [String: String]?

    public init(name: String, driver: String? = nil, labels: [String: String]? = nil, checkDuplicate: Bool? = true) {
        self.name = name
        self.driver = driver
        self.labels = labels
        self.checkDuplicate = checkDuplicate
    }

    enum CodingKeys: String, CodingKey {
        case name = "Name", checkDuplicate = "CheckDuplicate", driver = "Driver", `internal` = "Internal"
        case attachable = "Attachable", ingress = "Ingress", enableIPv6 = "EnableIPv6", ipam = "IPAM"
        case options = "Options", labels = "Labels"
    }
}

public struct NetworkCreateResponse: Decodable, Sendable {
    public var id: String
    public var warning: String?
    enum CodingKeys: String, CodingKey { case id = "Id", warning = "Warning" }
}

// MARK: volumes

public struct Volume: Codable, Sendable, Hashable {
    public var name: String
    public var driver: String?
    public var mountpoint: String?
    public var createdAt: String?
    public var labels: [String: String]?
    public var scope: String?
    public var options: [String: String]?
    enum CodingKeys: String, CodingKey {
        case name = "Name", driver = "Driver", mountpoint = "Mountpoint", createdAt = "CreatedAt"
        case labels = "Labels", scope = "Scope", options = "Options"
    }
}

public struct VolumeCreateRequest: Codable, Sendable, Hashable {
    public var name: String?
    public var driver: String?
    public var driverOpts: [String: String]?
    public var labels: [String: String]?
    public init(name: String? = nil, driver: String? = nil, driverOpts: [String: String]? = nil, labels: [String: String]? = nil) {
        self.name = name
        self.driver = driver
        self.driverOpts = driverOpts
        self.labels = labels
    }
    enum CodingKeys: String, CodingKey { case name = "Name", driver = "Driver", driverOpts = "DriverOpts", labels = "Labels" }
}

struct VolumeListResponse: Decodable {
    var volumes: [Volume]?
    var warnings: [String]?
    enum CodingKeys: String, CodingKey { case volumes = "Volumes", warnings = "Warnings" }
}

// MARK: system

public struct Ping: Sendable, Hashable {
    /// From the `API-Version` header.
    public var apiVersion: String?
    public var osType: String?
    public var builderVersion: String?
}

public struct EngineVersion: Codable, Sendable, Hashable {
    public var version: String?
    public var apiVersion: String?
    public var minAPIVersion: String?
    public var os: String?
    public var arch: String?
    public var kernelVersion: String?
    enum CodingKeys: String, CodingKey {
        case version = "Version", apiVersion = "ApiVersion", minAPIVersion = "MinAPIVersion", os = "Os", arch = "Arch"
        case kernelVersion = "KernelVersion"
    }
}

public struct SwarmInfo: Codable, Sendable, Hashable {
    public var nodeID: String?
    /// `""`, `inactive`, `pending`, `active`, `error`, `locked`.
    public var localNodeState: String?
    public var controlAvailable: Bool?
    public var error: String?
    enum CodingKeys: String, CodingKey {
        case nodeID = "NodeID", localNodeState = "LocalNodeState", controlAvailable = "ControlAvailable", error = "Error"
    }
}

/// `GET /info`.
public struct EngineInfo: Codable, Sendable, Hashable {
    public var id: String?
    public var name: String?
    public var containers: Int?
    public var containersRunning: Int?
    public var images: Int?
    /// Storage driver, e.g. `overlay2`.
    public var driver: String?
    public var dockerRootDir: String?
    public var serverVersion: String?
    public var operatingSystem: String?
    public var osType: String?
    public var architecture: String?
    public var ncpu: Int?
    public var memTotal: Int64?
    public var cgroupDriver: String?
    public var cgroupVersion: String?
    public var swarm: SwarmInfo?
    enum CodingKeys: String, CodingKey {
        case id = "ID", name = "Name", containers = "Containers", containersRunning = "ContainersRunning"
        case images = "Images", driver = "Driver", dockerRootDir = "DockerRootDir", serverVersion = "ServerVersion"
        case operatingSystem = "OperatingSystem", osType = "OSType", architecture = "Architecture", ncpu = "NCPU"
        case memTotal = "MemTotal", cgroupDriver = "CgroupDriver", cgroupVersion = "CgroupVersion", swarm = "Swarm"
    }
}

/// One message of `GET /events`.
public struct EngineEvent: Codable, Sendable, Hashable {
    public struct Actor: Codable, Sendable, Hashable {
        public var id: String?
        /// Labels of the object, plus `name`, `image`, `exitCode` and the like.
        public var attributes: [String: String]?
        enum CodingKeys: String, CodingKey { case id = "ID", attributes = "Attributes" }
    }
    /// `container`, `image`, `network`, `volume`, `daemon`, `service`, …
    public var type: String?
    /// `create`, `start`, `die`, `destroy`, `health_status: healthy`, …
    public var action: String?
    public var actor: Actor?
    public var scope: String?
    public var time: Int64?
    public var timeNano: Int64?
    enum CodingKeys: String, CodingKey {
        case type = "Type", action = "Action", actor = "Actor", scope, time, timeNano
    }
}

/// One message of a JSON progress stream (pull, push, build).
public struct JSONMessage: Codable, Sendable, Hashable {
    public struct ErrorDetail: Codable, Sendable, Hashable {
        public var code: Int?
        public var message: String?
    }
    public struct Aux: Codable, Sendable, Hashable {
        /// Image ID at the end of a build.
        public var id: String?
        enum CodingKeys: String, CodingKey { case id = "ID" }
    }
    public var stream: String?
    public var status: String?
    public var progress: String?
    public var id: String?
    public var error: String?
    public var errorDetail: ErrorDetail?
    public var aux: Aux?

    enum CodingKeys: String, CodingKey { case stream, status, progress, id, error, errorDetail, aux }

    // Lenient: `aux` and `progressDetail` take several shapes across endpoints, and a
    // progress message must never fail a pull or build just because one field is odd.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        stream = (try? c.decodeIfPresent(String.self, forKey: .stream)) ?? nil
        status = (try? c.decodeIfPresent(String.self, forKey: .status)) ?? nil
        progress = (try? c.decodeIfPresent(String.self, forKey: .progress)) ?? nil
        id = (try? c.decodeIfPresent(String.self, forKey: .id)) ?? nil
        error = (try? c.decodeIfPresent(String.self, forKey: .error)) ?? nil
        errorDetail = (try? c.decodeIfPresent(ErrorDetail.self, forKey: .errorDetail)) ?? nil
        aux = (try? c.decodeIfPresent(Aux.self, forKey: .aux)) ?? nil
    }

    /// The error the message reports, if any.
    public var failure: String? {
        if let m = errorDetail?.message, !m.isEmpty { return m }
        if let e = error, !e.isEmpty { return e }
        return nil
    }
}
