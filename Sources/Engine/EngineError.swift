import Curl
import FoundationEssentials
import Glibc

/// A failed Docker Engine call: the engine's answer, or why no answer came.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The engine answered with an error status.
        case status(Int)
        /// No answer: the transfer failed (see `transport`).
        case unreachable
        /// The engine speaks an API version older than Berth needs.
        case unsupportedVersion(String)
        /// `DOCKER_HOST` could not be understood.
        case invalidEndpoint
        /// The answer could not be decoded.
        case badResponse
        /// A stream (pull, build) reported an error after a 200 status.
        case streamError
    }

    public var kind: Kind
    public var method: String
    /// The request path, e.g. `/v1.41/containers/web-1/json`.
    public var path: String
    public var endpoint: String
    /// The engine's `message`, or the transport's / decoder's message.
    public var message: String
    public var transport: CurlError?

    public init(kind: Kind, method: String, path: String, endpoint: String, message: String, transport: CurlError? = nil) {
        self.kind = kind
        self.method = method
        self.path = path
        self.endpoint = endpoint
        self.message = message
        self.transport = transport
    }

    /// The HTTP status, when the engine answered.
    public var status: Int? {
        if case .status(let s) = kind { return s }
        return nil
    }

    public var isNotFound: Bool { status == 404 }
    public var isConflict: Bool { status == 409 }
    /// The caller cancelled the call.
    public var isCancelled: Bool { transport?.kind == .cancelled }

    public var description: String {
        var s = "Docker Engine \(method) \(path) at \(endpoint) failed"
        switch kind {
        case .status(let code): s += " with \(code): \(message)"
        case .unreachable: s += ": \(transport.map { "\($0.message)" } ?? message)"
        default: s += ": \(message)"
        }
        if !s.hasSuffix(".") { s += "." }
        return s + " " + hint
    }

    /// What to do about it.
    public var hint: String {
        switch kind {
        case .unreachable:
            switch transport?.kind {
            case .couldNotConnect?, .couldNotResolveHost?:
                if endpoint.hasPrefix("unix://") {
                    return "Is dockerd running? Start it with ops/setup, or point DOCKER_HOST at a running engine; "
                        + "in a container, mount the socket (-v /var/run/docker.sock:/var/run/docker.sock)."
                }
                return "Is dockerd running? Start it with ops/setup, or point DOCKER_HOST at a running engine."
            case .timedOut?: return "The engine did not answer in time; check that it is healthy (docker info)."
            case .tls?: return "Check DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) and DOCKER_TLS_VERIFY."
            case .cancelled?: return "The call was cancelled."
            default: return transport?.hint ?? "Check the engine endpoint."
            }
        case .unsupportedVersion:
            return "Berth needs Docker Engine API 1.40 or newer (Docker 19.03+); upgrade the engine."
        case .invalidEndpoint: return "Fix DOCKER_HOST (e.g. unix:///var/run/docker.sock or tcp://host:2376)."
        case .badResponse: return "The engine's answer did not match API v1.41; check the engine version."
        case .streamError: return "See the engine's message above."
        case .status(let code):
            let object = objectKind
            switch code {
            case 404:
                if path.hasSuffix("/images/create") {
                    return "The registry has no such image or tag: check the reference, and the credentials if it is private."
                }
                switch object {
                case "container": return "No such container: check the name or ID (docker ps -a)."
                case "image": return "No such image: pull or build it first (docker images lists what is there)."
                case "network": return "No such network: check the name (docker network ls)."
                case "volume": return "No such volume: check the name (docker volume ls)."
                default: return "The object does not exist; check its name."
                }
            case 409:
                return "Conflict: the name is already in use, or the \(object ?? "object") is in a state that "
                    + "forbids this (e.g. running; stop it or use force)."
            case 400: return "The engine rejected the request; check the configuration sent."
            case 401, 403: return "The engine refused access; check permissions or registry credentials."
            case 500...: return "The engine failed internally; see its logs (journalctl -u docker)."
            default: return "See the engine's message."
            }
        }
    }

    /// Which kind of object the path names, for hints.
    private var objectKind: String? {
        let parts = path.split(separator: "/")
        let start = parts.first?.hasPrefix("v1.") == true ? 1 : 0
        guard parts.count > start else { return nil }
        switch parts[start] {
        case "containers": return "container"
        case "images": return "image"
        case "networks": return "network"
        case "volumes": return "volume"
        default: return nil
        }
    }
}
