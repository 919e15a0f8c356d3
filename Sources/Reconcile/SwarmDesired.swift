import Crypto
import Engine
import FoundationEssentials
import Platform
import Glibc

/// Labels and names of the swarm target. The stack labels are docker's own, so
/// `docker stack ls/ps/services` show a Berth stack like one from `docker stack deploy`.
public enum SwarmLabels {
    public static let namespace = "com.docker.stack.namespace"
    public static let image = "com.docker.stack.image"
    /// sha256 of the canonical service spec Berth sent: equal hash, nothing to do.
    public static let specHash = "dev.berth.spec-hash"
    /// The local image ID, on the container spec, when the image has no registry digest to
    /// pin: a rebuilt tag then still rolls the service.
    public static let imageID = "dev.berth.image-id"
    /// The secret's or config's key in the stack file (its name carries a content hash).
    public static let key = "dev.berth.key"
    public static let contentHash = "dev.berth.content-hash"
}

public enum SwarmNaming {
    public static func service(stack: String, service: String) -> String { "\(stack)_\(service)" }

    /// `<name>_<first 10 hex of sha256(content)>`: a content change is a new object, so
    /// services roll to it and the old one can go once nothing uses it.
    public static func rotated(_ name: String, contentHash: String) -> String {
        "\(name)_\(contentHash.prefix(10))"
    }
}

/// A stack as the swarm target converges it.
public struct SwarmStack: Sendable, Equatable {
    public var name: String
    public var services: [SwarmDesiredService]
    /// Overlay networks (`driver` nil means overlay).
    public var networks: [DesiredNetwork]
    public var secrets: [SwarmDesiredObject]
    public var configs: [SwarmDesiredObject]
    /// Service labels that do not shape the service (app, revision, release): not hashed.
    public var identityLabels: [String: String]
    /// What the file asks for that swarm does not do (ignored), and images other nodes
    /// cannot pull.
    public var warnings: [String]

    public init(name: String, services: [SwarmDesiredService], networks: [DesiredNetwork] = [],
                secrets: [SwarmDesiredObject] = [], configs: [SwarmDesiredObject] = [],
                identityLabels: [String: String] = [:], warnings: [String] = []) {
        self.name = name
        self.services = services
        self.networks = networks
        self.secrets = secrets
        self.configs = configs
        self.identityLabels = identityLabels
        self.warnings = warnings
    }

    public func service(_ name: String) -> SwarmDesiredService? { services.first { $0.name == name } }
}

public struct SwarmDesiredService: Sendable, Equatable {
    /// Engine-side name, `<stack>_<key>`.
    public var name: String
    /// The service's key in the file.
    public var key: String
    /// The spec to send, without the hash label, identity labels, and secret/config IDs
    /// (names carry the content hash; IDs are looked up when applying).
    public var spec: ServiceSpec
    public var specHash: String

    public init(name: String, key: String, spec: ServiceSpec) {
        self.name = name
        self.key = key
        self.spec = spec
        self.specHash = Self.hash(spec)
    }

    /// Replicas for a replicated service; nil for global.
    public var replicas: Int? { spec.mode?.replicated.map { Int($0.replicas ?? 1) } }

    /// The spec as `JSONEncoder` writes it with sorted keys and unescaped slashes (the bytes
    /// every hash label so far was taken of), written without `Codable` (`CanonicalJSON`);
    /// empty where the encoder would fail.
    public static func canonicalJSON(_ spec: ServiceSpec) -> Data {
        CanonicalJSON.encode(spec) ?? Data()
    }

    public static func hash(_ spec: ServiceSpec) -> String {
        Hex.string(SHA256.hash(data: canonicalJSON(spec)))
    }
}

/// A secret or config to exist with this exact content.
public struct SwarmDesiredObject: Sendable, Equatable {
    /// Engine-side name: `<stack>_<key>_<hash10>`, or the external name.
    public var name: String
    public var key: String
    public var content: Data
    public var contentHash: String
    public var labels: [String: String]
    public var external: Bool

    public init(name: String, key: String, content: Data, labels: [String: String] = [:], external: Bool = false) {
        self.name = name
        self.key = key
        self.content = content
        self.contentHash = Hex.string(SHA256.hash(data: content))
        self.labels = labels
        self.external = external
    }
}

/// What the swarm has for a stack: its services (one filtered list call), every network,
/// secret and config (externals need not carry the stack label). Services and networks are
/// the slim reads: a plan where nothing changed decodes no full service spec.
public struct SwarmActualState: Sendable, Equatable {
    public var services: [SwarmServiceSummary]
    public var networks: [NetworkSummary]
    public var secrets: [SwarmObject]
    public var configs: [SwarmObject]

    public init(services: [SwarmServiceSummary], networks: [NetworkSummary], secrets: [SwarmObject], configs: [SwarmObject]) {
        self.services = services
        self.networks = networks
        self.secrets = secrets
        self.configs = configs
    }
}
