import FoundationEssentials
import Glibc

/// What reconcile will do, in order. `--dry-run` prints this and stops.
public struct Plan: Sendable, Codable, Equatable {
    public var project: String
    public var actions: [Action]
    /// `swarm` for a stack; nil (left out of the JSON) for the compose target.
    public var target: String?

    public init(project: String, actions: [Action], target: String? = nil) {
        self.project = project
        self.actions = actions
        self.target = target
    }

    /// True when applying would change the host (anything but `unchanged`).
    public var hasChanges: Bool { actions.contains { $0.kind != .unchanged } }

    public func count(_ kind: Action.Kind) -> Int { actions.filter { $0.kind == kind }.count }
}

public struct Action: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case createNetwork = "create-network"
        case createVolume = "create-volume"
        /// Finish or roll back a replace that a crashed run left half done.
        case recover
        case create
        case replace
        case start
        case scaleDown = "scale-down"
        case removeOrphan = "remove-orphan"
        case removeVolume = "remove-volume"
        /// Swarm target: secrets and configs, named by content hash.
        case createSecret = "create-secret"
        case createConfig = "create-config"
        case removeSecret = "remove-secret"
        case removeConfig = "remove-config"
        case unchanged
    }

    public var kind: Kind
    /// Engine-side object name: container, network or volume (swarm: service, network,
    /// secret or config).
    public var target: String
    public var service: String?
    public var number: Int?
    /// Why: field-level differences for `replace`, the state for `start`, and so on.
    public var reasons: [String]
    /// The existing container acted on (replace, start, scale-down, remove-orphan, recover);
    /// for swarm the service, secret or config ID.
    public var containerID: String?
    public var recovery: Recovery?

    public init(kind: Kind, target: String, service: String? = nil, number: Int? = nil, reasons: [String] = [],
                containerID: String? = nil, recovery: Recovery? = nil) {
        self.kind = kind
        self.target = target
        self.service = service
        self.number = number
        self.reasons = reasons
        self.containerID = containerID
        self.recovery = recovery
    }

    /// How to finish or undo a replace that a crashed run left behind.
    public enum Recovery: Sendable, Codable, Equatable {
        /// The replacement runs with the desired spec: drop the set-aside old container.
        case removeAside(asideID: String)
        /// The replacement never became ready: remove it (if created) and put the old one back.
        case restoreAside(asideID: String, halfStartedID: String?)
        /// A start-first replacement whose old container still exists: drop the replacement.
        case removeNew(newID: String)
        /// A start-first replacement whose old container is gone: give it the final name.
        case promoteNew(newID: String)
    }
}

extension ContainerSpec {
    /// Field-level differences from `old` to `self`, as `path: old → new` lines; paths follow
    /// the spec's JSON (`environment.LOG_LEVEL`, `ports[0].hostPort`).
    public func differences(from old: ContainerSpec) -> [String] {
        let before = Self.flatten(old.canonicalJSON())
        let after = Self.flatten(canonicalJSON())
        var lines: [String] = []
        for key in Set(before.keys).union(after.keys).sorted() {
            let a = before[key]
            let b = after[key]
            if a == b { continue }
            lines.append(SecretRedaction.line(key, a, b))
        }
        return lines
    }

    static func flatten(_ json: Data) -> [String: String] {
        guard let root = try? JSONDecoder().decode(JSONValue.self, from: json) else { return [:] }
        var out: [String: String] = [:]
        func walk(_ value: JSONValue, _ path: String) {
            switch value {
            case .object(let dict):
                for (k, v) in dict { walk(v, path.isEmpty ? k : "\(path).\(k)") }
            case .array(let array):
                for (i, v) in array.enumerated() { walk(v, "\(path)[\(i)]") }
            case .string(let s): out[path] = "\"\(s)\""
            case .bool(let b): out[path] = b ? "true" : "false"
            case .number(let n): out[path] = n
            case .null: break
            }
        }
        walk(root, "")
        return out
    }
}

/// A JSON tree for walking canonical specs field by field.
enum JSONValue: Decodable {
    case object([String: JSONValue]), array([JSONValue]), string(String), bool(Bool), number(String), null

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .number(String(i)) }
        else if let d = try? c.decode(Double.self) { self = .number(String(d)) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }
}

/// Plans end up in CI logs and API answers: a changed value whose name says it is a secret
/// (`DB_PASSWORD`, `API_TOKEN`, …) is shown as changed, never printed.
public enum SecretRedaction {
    static let markers = ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "API_KEY", "PRIVATE_KEY", "ACCESS_KEY",
                          "CREDENTIAL", "AUTH"]
    public static let placeholder = "(redacted)"

    /// Whether a variable (or label) of this name holds a secret.
    public static func isSecretName(_ name: String) -> Bool {
        let upper = name.uppercased()
        return markers.contains { upper.contains($0) }
    }

    /// The `path: old → new` line of a plan, with the values of secret-named environment
    /// variables replaced: `environment.DB_PASSWORD` (compose specs) or a `NAME=value` entry
    /// of an `Env[…]` list (swarm specs). Other fields, secret names included, show as they are.
    public static func line(_ path: String, _ old: String?, _ new: String?) -> String {
        let name = path.split(separator: ".").last.map(String.init) ?? path
        let isVariable = path.hasPrefix("environment.") && isSecretName(name)
        let isEnvEntry = path.contains("Env[")
        func shown(_ value: String?) -> String {
            guard let value else { return "(unset)" }
            if isVariable { return placeholder }
            if isEnvEntry {
                let bare = value.hasPrefix("\"") ? String(value.dropFirst()) : value
                if let eq = bare.firstIndex(of: "="), isSecretName(String(bare[..<eq])) {
                    return "\"\(bare[..<eq])=\(placeholder)\""
                }
            }
            return value
        }
        return "\(path): \(shown(old)) → \(shown(new))"
    }
}
