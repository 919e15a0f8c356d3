/// Failures of reconcile that are not the engine's own errors.
public enum ReconcileError: Error, CustomStringConvertible, Sendable {
    case notReady(container: String, reason: String, logs: String)
    case dependency(service: String, dependency: String, reason: String)
    case imageNotFound(service: String, image: String, reason: String)
    case externalMissing(kind: String, name: String)
    case invalidProject(String)

    public var description: String {
        switch self {
        case .notReady(let container, let reason, let logs):
            var s = "container \(container) did not become ready: \(reason)"
            if !logs.isEmpty { s += "\n  last log lines:\n" + logs.split(separator: "\n").map { "    \($0)" }.joined(separator: "\n") }
            return s
        case .dependency(let service, let dependency, let reason):
            return "service \(service) waits for \(dependency): \(reason)"
        case .imageNotFound(let service, let image, let reason):
            return "service \(service): image \(image) is not available: \(reason). Build it, pull it, or fix `image:`; nothing was changed."
        case .externalMissing(let kind, let name):
            return "external \(kind) \(name) does not exist: create it (docker \(kind) create \(name)) or drop `external: true`; nothing was changed."
        case .invalidProject(let message):
            return message
        }
    }
}
