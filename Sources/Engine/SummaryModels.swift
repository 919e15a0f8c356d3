import FoundationEssentials
import Glibc

// Slim reads of engine answers for planning: the few fields a plan looks at, read with
// `JSONScanner` instead of decoding whole models, and the raw JSON kept where the full model
// may still be wanted.

/// A service as `GET /services` lists it, with what a swarm plan compares when nothing
/// changed; `full()` decodes the whole `SwarmService` from the kept JSON when more is needed.
public struct SwarmServiceSummary: Sendable, Hashable {
    public var id: String
    /// `Version.Index`, for updates.
    public var versionIndex: UInt64?
    /// False when the engine returned no `Spec`.
    public var hasSpec: Bool
    /// `Spec.Name`.
    public var name: String?
    /// `Spec.Labels`.
    public var labels: [String: String]?
    /// `Spec.Mode.Replicated.Replicas`; nil for a global service.
    public var replicas: UInt64?
    /// `Spec.TaskTemplate.ContainerSpec.Image`.
    public var image: String?
    /// `UpdateStatus.State` and `UpdateStatus.Message`.
    public var updateState: String?
    public var updateMessage: String?
    /// The service's JSON as the engine returned it.
    public var json: Data

    /// Reads one service object (`GET /services/{id}`, or a test's JSON).
    public init(json: Data) throws {
        self = try JSONScanner.read(json) { s in try Self.read(&s, json: json) }
    }

    /// Reads a `GET /services` answer.
    public static func list(json: Data) throws -> [SwarmServiceSummary] {
        try JSONScanner.read(json) { s in
            var out: [SwarmServiceSummary] = []
            try s.array { s in out.append(try read(&s, json: json)) }
            return out
        }
    }

    /// The whole service, decoded from `json`.
    public func full() throws -> SwarmService {
        try JSONDecoder().decode(SwarmService.self, from: json)
    }

    private init(empty json: Data) {
        id = ""
        hasSpec = false
        self.json = json
    }

    private static func read(_ s: inout JSONScanner, json: Data) throws -> SwarmServiceSummary {
        s.skipSpace()
        let start = s.offset
        var v = SwarmServiceSummary(empty: Data())
        var hasID = false
        try s.object { s, key in
            switch key {
            case "ID":
                v.id = try s.string()
                hasID = true
            case "Version":
                try s.object { s, key in
                    if key == "Index" { v.versionIndex = try s.unsigned() } else { try s.skipValue() }
                }
            case "Spec":
                v.hasSpec = try s.object { s, key in
                    switch key {
                    case "Name": v.name = try s.optionalString()
                    case "Labels": v.labels = try s.stringMap()
                    case "Mode":
                        try s.object { s, key in
                            guard key == "Replicated" else { return try s.skipValue() }
                            try s.object { s, key in
                                if key == "Replicas" { v.replicas = try s.unsigned() } else { try s.skipValue() }
                            }
                        }
                    case "TaskTemplate":
                        try s.object { s, key in
                            guard key == "ContainerSpec" else { return try s.skipValue() }
                            try s.object { s, key in
                                if key == "Image" { v.image = try s.optionalString() } else { try s.skipValue() }
                            }
                        }
                    default: try s.skipValue()
                    }
                }
            case "UpdateStatus":
                try s.object { s, key in
                    switch key {
                    case "State": v.updateState = try s.optionalString()
                    case "Message": v.updateMessage = try s.optionalString()
                    default: try s.skipValue()
                    }
                }
            default:
                try s.skipValue()
            }
        }
        guard hasID else { throw s.failure("a service without ID") }
        // A slice shares the answer's storage: nothing is copied unless `full()` is called.
        v.json = json[(json.startIndex + start)..<(json.startIndex + s.offset)]
        return v
    }
}

/// A network as `GET /networks` lists it, without its containers, IPAM and options.
public struct NetworkSummary: Sendable, Hashable {
    public var id: String
    public var name: String
    public var driver: String?
    /// `local`, `swarm` or `global`.
    public var scope: String?
    public var labels: [String: String]?

    public init(id: String, name: String, driver: String? = nil, scope: String? = nil, labels: [String: String]? = nil) {
        self.id = id
        self.name = name
        self.driver = driver
        self.scope = scope
        self.labels = labels
    }

    /// Reads a `GET /networks` answer.
    public static func list(json: Data) throws -> [NetworkSummary] {
        try JSONScanner.read(json) { s in
            var out: [NetworkSummary] = []
            try s.array { s in
                var n = NetworkSummary(id: "", name: "")
                var hasID = false, hasName = false
                try s.object { s, key in
                    switch key {
                    case "Id": n.id = try s.string(); hasID = true
                    case "Name": n.name = try s.string(); hasName = true
                    case "Driver": n.driver = try s.optionalString()
                    case "Scope": n.scope = try s.optionalString()
                    case "Labels": n.labels = try s.stringMap()
                    default: try s.skipValue()
                    }
                }
                guard hasID && hasName else { throw s.failure("a network without Id or Name") }
                out.append(n)
            }
            return out
        }
    }
}

/// What `GET /images/{name}/json` says about an image's identity: its ID and the registry
/// digests it is known by.
public struct ImageIdentity: Sendable, Hashable {
    public var id: String
    public var repoDigests: [String]

    public init(id: String, repoDigests: [String] = []) {
        self.id = id
        self.repoDigests = repoDigests
    }

    /// Reads an image inspect answer.
    public init(json: Data) throws {
        var id: String?
        var digests: [String] = []
        _ = try JSONScanner.read(json) { s in
            try s.object { s, key in
                switch key {
                case "Id": id = try s.string()
                case "RepoDigests": digests = try s.strings() ?? []
                default: try s.skipValue()
                }
            }
        }
        guard let id else { throw JSONScanner.Failure(offset: 0, reason: "an image without Id") }
        self.init(id: id, repoDigests: digests)
    }
}

extension SwarmObject {
    /// Reads a `GET /secrets` or `GET /configs` answer without `Codable` (a plan lists both).
    static func list(json: Data) throws -> [SwarmObject] {
        try JSONScanner.read(json) { s in
            var out: [SwarmObject] = []
            try s.array { s in
                var o = SwarmObject(id: "")
                var hasID = false
                try s.object { s, key in
                    switch key {
                    case "ID": o.id = try s.string(); hasID = true
                    case "Version":
                        var version = ObjectVersion()
                        try s.object { s, key in
                            if key == "Index" { version.index = try s.unsigned() } else { try s.skipValue() }
                        }
                        o.version = version
                    case "CreatedAt": o.createdAt = try s.optionalString()
                    case "UpdatedAt": o.updatedAt = try s.optionalString()
                    case "Spec":
                        var spec = SwarmObjectSpec(name: "")
                        spec.name = nil
                        let present = try s.object { s, key in
                            switch key {
                            case "Name": spec.name = try s.optionalString()
                            case "Labels": spec.labels = try s.stringMap()
                            case "Data": spec.data = try s.optionalString()
                            case "Driver": spec.driver = try SwarmDriver.read(&s)
                            case "Templating": spec.templating = try SwarmDriver.read(&s)
                            default: try s.skipValue()
                            }
                        }
                        o.spec = present ? spec : nil
                    default: try s.skipValue()
                    }
                }
                guard hasID else { throw s.failure("an object without ID") }
                out.append(o)
            }
            return out
        }
    }
}

extension SwarmDriver {
    static func read(_ s: inout JSONScanner) throws -> SwarmDriver? {
        var driver = SwarmDriver(name: nil)
        let present = try s.object { s, key in
            switch key {
            case "Name": driver.name = try s.optionalString()
            case "Options": driver.options = try s.stringMap()
            default: try s.skipValue()
            }
        }
        return present ? driver : nil
    }
}
