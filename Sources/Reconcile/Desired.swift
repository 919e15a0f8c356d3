/// The state a project should have on the host, as reconcile consumes it: built from a compose
/// project (and a release lock) by `DesiredStateBuilder`, compared with `ActualState`.
public struct DesiredProject: Sendable, Equatable {
    public var name: String
    /// In dependency order: a service comes after everything it depends on.
    public var services: [DesiredService]
    public var networks: [DesiredNetwork]
    public var volumes: [DesiredVolume]
    /// Labels every container of the project carries but that do not shape it (and so stay
    /// out of the hash): working dir, config files, app, revision, release.
    public var identityLabels: [String: String]

    public init(name: String, services: [DesiredService], networks: [DesiredNetwork] = [],
                volumes: [DesiredVolume] = [], identityLabels: [String: String] = [:]) {
        self.name = name
        self.services = services
        self.networks = networks
        self.volumes = volumes
        self.identityLabels = identityLabels
    }

    public func service(_ name: String) -> DesiredService? { services.first { $0.name == name } }
}

public struct DesiredService: Sendable, Equatable {
    public enum UpdateOrder: String, Sendable, Codable { case stopFirst = "stop-first", startFirst = "start-first" }
    public enum Condition: String, Sendable, Codable {
        case started = "service_started"
        case healthy = "service_healthy"
        case completedSuccessfully = "service_completed_successfully"
    }
    public struct Dependency: Sendable, Equatable {
        public var service: String
        public var condition: Condition
        public var required: Bool
        public init(service: String, condition: Condition = .started, required: Bool = true) {
            self.service = service
            self.condition = condition
            self.required = required
        }
    }

    public var name: String
    public var replicas: Int
    public var spec: ContainerSpec
    public var dependsOn: [Dependency]
    public var updateOrder: UpdateOrder
    /// compose's `container_name`: replaces `<project>-<service>-1` (one replica only).
    public var containerName: String?

    public init(name: String, replicas: Int = 1, spec: ContainerSpec, dependsOn: [Dependency] = [],
                updateOrder: UpdateOrder = .stopFirst, containerName: String? = nil) {
        self.name = name
        self.replicas = replicas
        self.spec = spec
        self.dependsOn = dependsOn
        self.updateOrder = updateOrder
        self.containerName = containerName
    }

    public func containerName(project: String, number: Int) -> String {
        if let containerName, number == 1 { return containerName }
        return Naming.container(project: project, service: name, number: number)
    }

    /// start-first needs two containers at once, which a fixed host port forbids.
    public var effectiveUpdateOrder: UpdateOrder {
        spec.ports.contains { !$0.hostPort.isEmpty } ? .stopFirst : updateOrder
    }
}

public struct DesiredNetwork: Sendable, Equatable {
    /// The engine-side name.
    public var name: String
    /// The name in the compose file.
    public var key: String
    public var driver: String?
    public var driverOpts: [String: String]
    public var labels: [String: String]
    public var `internal`: Bool
    public var attachable: Bool
    public var enableIPv6: Bool
    public var external: Bool

    public init(name: String, key: String, driver: String? = nil, driverOpts: [String: String] = [:],
                labels: [String: String] = [:], internal: Bool = false, attachable: Bool = false,
                enableIPv6: Bool = false, external: Bool = false) {
        self.name = name
        self.key = key
        self.driver = driver
        self.driverOpts = driverOpts
        self.labels = labels
        self.internal = `internal`
        self.attachable = attachable
        self.enableIPv6 = enableIPv6
        self.external = external
    }
}

public struct DesiredVolume: Sendable, Equatable {
    public var name: String
    public var key: String
    public var driver: String?
    public var driverOpts: [String: String]
    public var labels: [String: String]
    public var external: Bool

    public init(name: String, key: String, driver: String? = nil, driverOpts: [String: String] = [:],
                labels: [String: String] = [:], external: Bool = false) {
        self.name = name
        self.key = key
        self.driver = driver
        self.driverOpts = driverOpts
        self.labels = labels
        self.external = external
    }
}

/// What the host has, from one container list call plus the network and volume lists.
public struct ActualState: Sendable, Equatable {
    public var containers: [ActualContainer]
    public var networks: Set<String>
    public var volumes: [ActualVolume]

    public init(containers: [ActualContainer], networks: Set<String>, volumes: [ActualVolume]) {
        self.containers = containers
        self.networks = networks
        self.volumes = volumes
    }
}

public struct ActualVolume: Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    public init(name: String, labels: [String: String]) {
        self.name = name
        self.labels = labels
    }
}

public struct ActualContainer: Sendable, Equatable {
    public var id: String
    public var name: String
    public var labels: [String: String]
    /// The engine's state word: created, running, paused, restarting, removing, exited, dead.
    public var state: String
    /// The `Status` text (`Exited (0) 3 minutes ago`, `Up 2 seconds (healthy)`).
    public var status: String
    public var imageID: String

    public init(id: String, name: String, labels: [String: String], state: String, status: String, imageID: String) {
        self.id = id
        self.name = name
        self.labels = labels
        self.state = state
        self.status = status
        self.imageID = imageID
    }

    public var service: String? { labels[Labels.service] }
    public var number: Int? { labels[Labels.containerNumber].flatMap { Int($0) } }
    public var configHash: String? { labels[Labels.configHash] }
    public var isRunning: Bool { state == "running" || state == "restarting" }
    public var exitedCleanly: Bool { state == "exited" && status.hasPrefix("Exited (0)") }

    public var spec: ContainerSpec? {
        labels[Labels.spec].flatMap { ContainerSpec.decode(canonicalJSON: Data($0.utf8)) }
    }
}

import FoundationEssentials
import Glibc
