import Curl
import FoundationEssentials
import Platform
import Glibc

/// Where the Docker Engine listens, resolved the way the docker CLI does.
public struct EngineEndpoint: Sendable, Equatable, CustomStringConvertible {
    public struct TLS: Sendable, Equatable {
        /// CA bundle to verify the engine with (`ca.pem`); nil means the system CAs.
        public var caFile: String?
        public var certificateFile: String?
        public var keyFile: String?
        /// Verify the engine's certificate (`DOCKER_TLS_VERIFY`).
        public var verify: Bool

        public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, verify: Bool = true) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.verify = verify
        }
    }

    public enum Transport: Sendable, Equatable {
        case unix(path: String)
        case tcp(host: String, port: Int, tls: TLS?)
        /// `DOCKER_HOST` could not be understood; every request fails with this reason.
        case invalid(reason: String)
    }

    public var transport: Transport

    public init(_ transport: Transport) { self.transport = transport }

    public static let defaultSocket = "/var/run/docker.sock"
    public static let `default` = EngineEndpoint(.unix(path: defaultSocket))

    /// `DOCKER_HOST` (`unix://` or `tcp://`), `DOCKER_TLS_VERIFY`, `DOCKER_TLS` and
    /// `DOCKER_CERT_PATH` (default `~/.docker`) as the docker CLI reads them; without
    /// `DOCKER_HOST`, `unix:///var/run/docker.sock`.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        -> EngineEndpoint
    {
        func set(_ name: String) -> String? {
            guard let v = environment[name], !v.isEmpty else { return nil }
            return v
        }
        guard let host = set("DOCKER_HOST") else { return .default }
        let verify = set("DOCKER_TLS_VERIFY") != nil
        let useTLS = verify || set("DOCKER_TLS") != nil
        let home = environment["HOME"] ?? homeDirectory()
        let certPath = set("DOCKER_CERT_PATH") ?? Path.appending(home, ".docker")
        do {
            return try parse(host: host, tls: useTLS, verify: verify, certPath: certPath)
        } catch {
            return EngineEndpoint(.invalid(reason: "\(error)"))
        }
    }

    struct ParseError: Error, CustomStringConvertible { var description: String }

    /// Parses a `DOCKER_HOST` value. With `tls`, client certificate files in `certPath` are used
    /// when present (`ca.pem`, `cert.pem`, `key.pem`).
    public static func parse(host: String, tls: Bool = false, verify: Bool = false, certPath: String? = nil) throws
        -> EngineEndpoint
    {
        if host.hasPrefix("unix://") {
            let path = String(host.dropFirst("unix://".count))
            guard path.hasPrefix("/") else {
                throw ParseError(description: "DOCKER_HOST=\(host): a unix socket path must be absolute, e.g. unix:///var/run/docker.sock")
            }
            return EngineEndpoint(.unix(path: path))
        }
        if host.hasPrefix("/") { return EngineEndpoint(.unix(path: host)) }
        guard host.hasPrefix("tcp://") else {
            throw ParseError(description: "DOCKER_HOST=\(host): only unix:// and tcp:// endpoints are supported (ssh:// and npipe:// are not)")
        }
        var rest = Substring(host.dropFirst("tcp://".count))
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        var hostPart = String(rest)
        var port = tls ? 2376 : 2375
        if hostPart.hasPrefix("[") {
            // IPv6 literal: [::1]:2376
            guard let close = hostPart.firstIndex(of: "]") else {
                throw ParseError(description: "DOCKER_HOST=\(host): unterminated IPv6 address")
            }
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()) else {
                    throw ParseError(description: "DOCKER_HOST=\(host): the port is not a number")
                }
                port = p
            }
            hostPart = String(hostPart[...close])
        } else if let colon = hostPart.lastIndex(of: ":") {
            guard let p = Int(hostPart[hostPart.index(after: colon)...]) else {
                throw ParseError(description: "DOCKER_HOST=\(host): the port is not a number")
            }
            port = p
            hostPart = String(hostPart[..<colon])
        }
        if hostPart.isEmpty { hostPart = "127.0.0.1" }
        var tlsConfig: TLS?
        if tls {
            var t = TLS(verify: verify)
            if let certPath {
                let fm = FileManager.default
                func file(_ name: String) -> String? {
                    let p = Path.appending(certPath, name)
                    return fm.fileExists(atPath: p) ? p : nil
                }
                t.caFile = file("ca.pem")
                t.certificateFile = file("cert.pem")
                t.keyFile = file("key.pem")
            }
            tlsConfig = t
        }
        return EngineEndpoint(.tcp(host: hostPart, port: port, tls: tlsConfig))
    }

    /// The URL prefix requests are made against.
    var baseURL: String {
        switch transport {
        case .unix, .invalid: return "http://localhost"
        case .tcp(let host, let port, let tls): return "\(tls == nil ? "http" : "https")://\(host):\(port)"
        }
    }

    var unixSocketPath: String? {
        if case .unix(let path) = transport { return path }
        return nil
    }

    var httpConfiguration: HTTPClient.Configuration {
        var c = HTTPClient.Configuration(userAgent: "berth")
        if case .tcp(_, _, let tls?) = transport {
            c.caFile = tls.caFile
            c.clientCertificateFile = tls.certificateFile
            c.clientKeyFile = tls.keyFile
            c.insecure = !tls.verify
        }
        return c
    }

    public var description: String {
        switch transport {
        case .unix(let path): return "unix://\(path)"
        case .tcp(let host, let port, let tls): return "tcp://\(host):\(port)\(tls == nil ? "" : " (TLS)")"
        case .invalid(let reason): return "invalid endpoint (\(reason))"
        }
    }
}
