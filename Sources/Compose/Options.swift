import FoundationEssentials
import Glibc

/// What to load: the `docker compose` flags and environment that shape a project.
public struct ProjectOptions: Sendable {
    /// Compose files in merge order (`-f`). Empty: `compose.yaml` / `docker-compose.yml` (searched
    /// from `workingDirectory` upwards) plus its `.override` file, or `COMPOSE_FILE`.
    public var files: [String]
    /// `--project-directory`; default: the directory of the first file.
    public var projectDirectory: String?
    /// `-p`; default: `COMPOSE_PROJECT_NAME`, then top-level `name:`, then `defaultName`.
    public var projectName: String?
    /// The name when neither `-p`, `COMPOSE_PROJECT_NAME` nor a file's `name:` gives one; default:
    /// the project directory's name, normalized. A GitOps app passes its own name here.
    public var defaultName: String?
    /// `--profile`; default: `COMPOSE_PROFILES` (comma separated).
    public var profiles: [String]
    /// `--env-file`; default: `.env` in the project directory when it exists.
    public var envFiles: [String]
    /// The process environment; it wins over env files.
    public var environment: [String: String]
    /// Where relative `files` and `envFiles` are found, and where the default file search starts.
    public var workingDirectory: String
    /// Keep only these services (and what they depend on); empty keeps all active ones.
    public var services: [String]
    /// Where the project will run; `.swarm` logs a warning for each attribute swarm ignores.
    public var target: DeployTarget

    public init(files: [String] = [], projectDirectory: String? = nil, projectName: String? = nil,
                profiles: [String] = [], envFiles: [String] = [],
                environment: [String: String] = ProcessInfo.processInfo.environment,
                workingDirectory: String = FileManager.default.currentDirectoryPath,
                services: [String] = [], target: DeployTarget = .compose, defaultName: String? = nil) {
        self.files = files
        self.defaultName = defaultName
        self.projectDirectory = projectDirectory
        self.projectName = projectName
        self.profiles = profiles
        self.envFiles = envFiles
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.services = services
        self.target = target
    }
}

enum Paths {
    static func absolute(_ path: String, base: String) -> String {
        let expanded = path.hasPrefix("~/") || path == "~"
            ? (ProcessInfo.processInfo.environment["HOME"] ?? "/root") + path.dropFirst()
            : path
        if expanded.hasPrefix("/") { return clean(expanded) }
        return clean(base + "/" + expanded)
    }

    /// Lexical cleanup like Go's filepath.Clean.
    static func clean(_ path: String) -> String {
        let isAbsolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." { parts.removeLast(); continue }
            if part == "..", isAbsolute { continue }
            parts.append(part)
        }
        let joined = parts.joined(separator: "/")
        if isAbsolute { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    static func base(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    static func isRemote(_ s: String) -> Bool {
        s.contains("://") || s.hasPrefix("git@") || s.hasPrefix("github.com/")
    }
}
