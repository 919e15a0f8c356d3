import FoundationEssentials
import Platform
import Glibc
import Logging

/// A user name and password (or token) for a registry. Its description never shows the secret.
public struct Credentials: Sendable, Hashable, CustomStringConvertible {
    public var username: String
    public var password: String
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }
    public var description: String { "Credentials(username: \(username), password: ***)" }

    var basicAuthorization: String {
        "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }
}

/// Where registry credentials come from, first match wins: explicit values (flags), then
/// `BERTH_REGISTRY_USER` / `BERTH_REGISTRY_PASSWORD`, then Docker's `config.json`
/// (`auths.<host>.auth`, base64 `user:password`).
public struct CredentialStore: Sendable {
    /// Used for every registry when set (e.g. `--username`/`--password`).
    public var explicit: Credentials?
    /// Per registry host (`127.0.0.1:5000`), after `explicit`.
    public var perRegistry: [String: Credentials]
    var fromEnvironment: Credentials?
    var fromDockerConfig: [String: Credentials]
    /// Where the Docker config was read from, if anywhere.
    public private(set) var dockerConfigPath: String?

    /// No credentials at all: anonymous access only.
    public static let anonymous = CredentialStore(explicit: nil, perRegistry: [:], environment: [:], dockerConfigPath: nil)

    /// - Parameters:
    ///   - environment: looked up for `BERTH_REGISTRY_USER` and `BERTH_REGISTRY_PASSWORD`.
    ///   - dockerConfigPath: `config.json` to read; by default `$DOCKER_CONFIG/config.json` or
    ///     `~/.docker/config.json`. Nil skips it.
    public init(
        explicit: Credentials? = nil, perRegistry: [String: Credentials] = [:],
        environment: [String: String] = ProcessInfo.processInfo.environment,
        dockerConfigPath: String? = CredentialStore.defaultDockerConfigPath(),
        logger: Logger = Logger(label: "berth.registry")
    ) {
        self.explicit = explicit
        self.perRegistry = perRegistry
        if let user = environment["BERTH_REGISTRY_USER"], !user.isEmpty {
            fromEnvironment = Credentials(username: user, password: environment["BERTH_REGISTRY_PASSWORD"] ?? "")
        }
        fromDockerConfig = [:]
        if let path = dockerConfigPath, FileManager.default.fileExists(atPath: path) {
            self.dockerConfigPath = path
            fromDockerConfig = CredentialStore.readDockerConfig(path, logger: logger)
        }
    }

    public static func defaultDockerConfigPath() -> String? {
        if let dir = ProcessInfo.processInfo.environment["DOCKER_CONFIG"], !dir.isEmpty {
            return Path.appending(dir, "config.json")
        }
        return Path.appending(homeDirectory(), ".docker/config.json")
    }

    /// Credentials for `registry` (host[:port] as in an image reference), or nil for anonymous.
    public func credentials(for registry: String) -> Credentials? {
        if let explicit { return explicit }
        if let c = perRegistry[registry] { return c }
        if let fromEnvironment { return fromEnvironment }
        for key in CredentialStore.configKeys(for: registry) {
            if let c = fromDockerConfig[key] { return c }
        }
        return nil
    }

    /// The keys Docker writes for a registry: `host[:port]`, with scheme and path variants,
    /// and Docker Hub's historic index URL.
    static func configKeys(for registry: String) -> [String] {
        if registry == "docker.io" || registry == "registry-1.docker.io" || registry == "index.docker.io" {
            return ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"]
        }
        return [registry]
    }

    /// Normalizes a config key (`https://host:port/v1/`) to `host:port`.
    static func normalizeKey(_ key: String) -> String {
        if key.contains("index.docker.io") { return "https://index.docker.io/v1/" }
        var k = Substring(key)
        if let r = k.firstRange(of: "://") { k = k[r.upperBound...] }
        if let slash = k.firstIndex(of: "/") { k = k[..<slash] }
        return String(k)
    }

    static func readDockerConfig(_ path: String, logger: Logger) -> [String: Credentials] {
        var st = stat()
        if stat(path, &st) == 0, st.st_mode & 0o077 != 0 {
            logger.warning(
                "docker config holds credentials but is readable by group or others; run chmod 600 on it",
                metadata: ["path": "\(path)", "mode": "\(String(st.st_mode & 0o777, radix: 8))"])
        }
        guard let data = FileManager.default.contents(atPath: path),
            let config = try? JSONDecoder().decode(DockerConfigFile.self, from: data)
        else {
            logger.warning("cannot read docker config; ignoring it", metadata: ["path": "\(path)"])
            return [:]
        }
        var out: [String: Credentials] = [:]
        for (key, value) in config.auths {
            guard let entry = value.value else { continue }
            var creds: Credentials?
            if let auth = entry.auth, !auth.isEmpty,
                let decoded = Data(base64Encoded: auth).map({ String(decoding: $0, as: UTF8.self) }),
                let colon = decoded.firstIndex(of: ":")
            {
                creds = Credentials(username: String(decoded[..<colon]), password: String(decoded[decoded.index(after: colon)...]))
            } else if let user = entry.username, let pass = entry.password {
                creds = Credentials(username: user, password: pass)
            } else if entry.hasIdentityToken {
                // OAuth2 refresh tokens need a different token flow, which we do not speak.
                logger.info("docker config has an identity token for a registry; berth uses only user/password auths",
                    metadata: ["registry": "\(key)"])
            }
            if let creds { out[normalizeKey(key)] = creds }
        }
        if config.hasHelpers {
            logger.info("docker config names a credential helper; berth reads only the auths section",
                metadata: ["path": "\(path)"])
        }
        return out
    }
}

/// A parsed `WWW-Authenticate` challenge.
public struct AuthChallenge: Sendable, Hashable {
    public enum Scheme: String, Sendable { case basic, bearer }
    public var scheme: Scheme
    /// Lower-cased parameter names: `realm`, `service`, `scope`, `error`.
    public var parameters: [String: String]

    /// Parses `Bearer realm="https://auth/token",service="registry",scope="repository:x:pull"`
    /// or `Basic realm="..."`; nil for schemes we do not speak.
    public static func parse(_ header: String) -> AuthChallenge? {
        let trimmed = header.trimming(.whitespaces)
        let schemeEnd = trimmed.firstIndex(of: " ") ?? trimmed.endIndex
        guard let scheme = Scheme(rawValue: trimmed[..<schemeEnd].lowercased()) else { return nil }
        var params: [String: String] = [:]
        var s = trimmed[schemeEnd...].drop(while: { $0 == " " })
        while !s.isEmpty {
            guard let eq = s.firstIndex(of: "=") else { break }
            let name = s[..<eq].trimming(CharacterClass(charactersIn: " ,")).lowercased()
            s = s[s.index(after: eq)...]
            var value = ""
            if s.first == "\"" {
                s = s.dropFirst()
                var escaped = false
                while let c = s.first {
                    s = s.dropFirst()
                    if escaped {
                        value.append(c)
                        escaped = false
                    } else if c == "\\" {
                        escaped = true
                    } else if c == "\"" {
                        break
                    } else {
                        value.append(c)
                    }
                }
            } else {
                let end = s.firstIndex(of: ",") ?? s.endIndex
                value = s[..<end].trimming(.whitespaces)
                s = s[end...]
            }
            params[name] = value
            s = s.drop(while: { $0 == "," || $0 == " " })
        }
        return AuthChallenge(scheme: scheme, parameters: params)
    }
}

/// The parts of ~/.docker/config.json Berth reads. As lenient as the file's many writers: a
/// member of an unexpected type counts as absent, and so does an `auths` entry that is not an
/// object.
private struct DockerConfigFile: Decodable {
    struct Entry: Decodable {
        var auth: String?
        var username: String?
        var password: String?
        var hasIdentityToken: Bool

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: JSONKey.self)
            auth = try? c.decode(String.self, forKey: JSONKey("auth"))
            username = try? c.decode(String.self, forKey: JSONKey("username"))
            password = try? c.decode(String.self, forKey: JSONKey("password"))
            hasIdentityToken = c.contains(JSONKey("identitytoken"))
        }
    }

    var auths: [String: Lenient<Entry>]
    var hasHelpers: Bool

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        auths = (try? c.decode([String: Lenient<Entry>].self, forKey: JSONKey("auths"))) ?? [:]
        hasHelpers = c.contains(JSONKey("credsStore")) || c.contains(JSONKey("credHelpers"))
    }
}

/// A value that decodes to nil instead of failing its container.
struct Lenient<T: Decodable>: Decodable {
    let value: T?

    init(from decoder: any Decoder) throws {
        value = try? T(from: decoder)
    }
}

/// Any member name.
struct JSONKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }

    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
