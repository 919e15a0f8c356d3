import Crypto
import FoundationEssentials
import Platform
import Glibc

/// Everything that shapes one container, in a canonical form independent of the Engine API's
/// JSON layout. Two containers with equal specs are interchangeable; any difference means
/// replace. Replicas, build and depends_on are deliberately not here: they do not change what
/// a single container is.
public struct ContainerSpec: Codable, Sendable, Equatable {
    /// The resolved image ID (`sha256:…`); the human reference is kept in `imageReference`.
    public var image: String
    public var imageReference: String
    public var command: [String]?
    public var entrypoint: [String]?
    public var environment: [String: String] = [:]
    public var labels: [String: String] = [:]
    public var user: String?
    public var workingDir: String?
    public var hostname: String?
    public var domainname: String?
    public var tty: Bool = false
    public var stdinOpen: Bool = false
    public var exposedPorts: [String] = []
    public var ports: [PortBinding] = []
    public var mounts: [Mount] = []
    /// `bridge`, `host`, `none`, `container:<name>`, or nil for the project's networks.
    public var networkMode: String?
    public var networks: [NetworkAttachment] = []
    public var healthcheck: Healthcheck?
    public var restartPolicy: RestartPolicy?
    public var resources: Resources = Resources()
    public var extraHosts: [String] = []
    public var dns: [String] = []
    public var dnsSearch: [String] = []
    public var dnsOptions: [String] = []
    public var capAdd: [String] = []
    public var capDrop: [String] = []
    public var ulimits: [Ulimit] = []
    public var sysctls: [String: String] = [:]
    public var logging: Logging?
    public var initProcess: Bool?
    public var stopSignal: String?
    public var stopTimeoutSeconds: Int?
    public var tmpfs: [String: String] = [:]
    public var devices: [Device] = []
    public var pid: String?
    public var ipc: String?
    public var volumesFrom: [String] = []
    public var readOnly: Bool = false
    public var privileged: Bool = false
    public var securityOpt: [String] = []
    public var groupAdd: [String] = []
    public var macAddress: String?
    public var uts: String?
    public var cgroup: String?
    public var usernsMode: String?
    public var oomScoreAdj: Int?

    public init(image: String, imageReference: String) {
        self.image = image
        self.imageReference = imageReference
    }

    public struct PortBinding: Codable, Sendable, Equatable, Hashable {
        public var containerPort: Int
        public var proto: String
        public var hostIP: String
        public var hostPort: String
        public init(containerPort: Int, proto: String = "tcp", hostIP: String = "", hostPort: String = "") {
            self.containerPort = containerPort
            self.proto = proto
            self.hostIP = hostIP
            self.hostPort = hostPort
        }
    }

    public struct Mount: Codable, Sendable, Equatable {
        public var type: String  // bind | volume | tmpfs | npipe
        public var source: String
        public var target: String
        public var readOnly: Bool = false
        public var bindPropagation: String?
        public var bindCreateHostPath: Bool?
        public var volumeNoCopy: Bool?
        public var tmpfsSizeBytes: Int64?
        public var tmpfsMode: Int?
        public var consistency: String?
        public init(type: String, source: String, target: String, readOnly: Bool = false) {
            self.type = type
            self.source = source
            self.target = target
            self.readOnly = readOnly
        }
    }

    public struct NetworkAttachment: Codable, Sendable, Equatable {
        /// The engine-side network name (`<project>_<name>` or the external name).
        public var network: String
        public var aliases: [String] = []
        public var ipv4Address: String?
        public var ipv6Address: String?
        public var priority: Int = 0
        public init(network: String, aliases: [String] = []) {
            self.network = network
            self.aliases = aliases
        }
    }

    public struct Healthcheck: Codable, Sendable, Equatable {
        public var test: [String]
        public var intervalNs: Int64?
        public var timeoutNs: Int64?
        public var startPeriodNs: Int64?
        public var retries: Int?
        public init(test: [String]) { self.test = test }
    }

    public struct RestartPolicy: Codable, Sendable, Equatable {
        public var name: String
        public var maximumRetryCount: Int = 0
        public init(name: String, maximumRetryCount: Int = 0) {
            self.name = name
            self.maximumRetryCount = maximumRetryCount
        }
    }

    public struct Resources: Codable, Sendable, Equatable {
        public var memoryBytes: Int64?
        public var memoryReservationBytes: Int64?
        public var memorySwapBytes: Int64?
        public var nanoCPUs: Int64?
        public var cpuShares: Int64?
        public var cpuset: String?
        public var pidsLimit: Int64?
        public var shmSizeBytes: Int64?
        public var oomKillDisable: Bool?
        public init() {}
    }

    public struct Ulimit: Codable, Sendable, Equatable {
        public var name: String
        public var soft: Int64
        public var hard: Int64
        public init(name: String, soft: Int64, hard: Int64) {
            self.name = name
            self.soft = soft
            self.hard = hard
        }
    }

    public struct Logging: Codable, Sendable, Equatable {
        public var driver: String
        public var options: [String: String]
        public init(driver: String, options: [String: String] = [:]) {
            self.driver = driver
            self.options = options
        }
    }

    public struct Device: Codable, Sendable, Equatable {
        public var pathOnHost: String
        public var pathInContainer: String
        public var permissions: String
        public init(pathOnHost: String, pathInContainer: String, permissions: String = "rwm") {
            self.pathOnHost = pathOnHost
            self.pathInContainer = pathInContainer
            self.permissions = permissions
        }
    }
}

extension ContainerSpec {
    /// Canonical JSON: sorted keys, no whitespace variance; the input of the config hash.
    public func canonicalJSON() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a tree of strings, numbers and bools cannot fail; an empty body would only
        // make every hash differ, never match wrongly.
        return (try? encoder.encode(self)) ?? Data()
    }

    /// sha256 of the canonical JSON, hex: the value of `com.docker.compose.config-hash`.
    public var configHash: String {
        Hex.string(SHA256.hash(data: canonicalJSON()))
    }

    public static func decode(canonicalJSON data: Data) -> ContainerSpec? {
        try? JSONDecoder().decode(ContainerSpec.self, from: data)
    }
}
