import BerthYAML
import FoundationEssentials
import Platform
import Glibc

/// Where an app is deployed.
public enum DeployTarget: String, Sendable, Hashable, CaseIterable {
    /// Containers on this host through the Engine API.
    case compose
    /// A swarm stack.
    case swarm
}

/// One app of the GitOps repo, from `berth.yaml` or found by discovery.
public struct AppConfig: Sendable, Hashable {
    /// Compose project name unless the compose file sets `name:`.
    public var name: String
    /// The app's folder relative to the repo root (`.` for the root).
    public var path: String
    /// Compose (or stack) files relative to `path`, in merge order. When `berth.yaml` names none
    /// these are the defaults found on disk: `compose.yaml` / `compose.yml` /
    /// `docker-compose.yaml` / `docker-compose.yml` plus its override file (for swarm,
    /// `stack.yaml` / `stack.yml` first).
    public var files: [String]
    public var profiles: [String]
    public var target: DeployTarget
    /// Remove containers of services deleted from git.
    public var prune: Bool
    /// Apps deployed before this one.
    public var dependsOn: [String]
    /// Where the app is declared in `berth.yaml`; `Mark.none` when discovered.
    public var mark: Mark

    public init(name: String, path: String, files: [String], profiles: [String] = [], target: DeployTarget = .compose,
                prune: Bool = true, dependsOn: [String] = [], mark: Mark = .none) {
        self.name = name
        self.path = path
        self.files = files
        self.profiles = profiles
        self.target = target
        self.prune = prune
        self.dependsOn = dependsOn
        self.mark = mark
    }
}

/// The repo's `berth.yaml`, or what discovery found without one.
public struct RepoConfig: Sendable, Hashable {
    /// Where built images are pushed (`127.0.0.1:5000/acme`).
    public var registry: String?
    /// Apps in dependency order: every app comes after the apps it depends on; otherwise in
    /// declaration order (discovered apps by path).
    public var apps: [AppConfig]
    /// True when the apps were found by discovery rather than listed in `berth.yaml`.
    public var discovered: Bool

    public init(registry: String? = nil, apps: [AppConfig], discovered: Bool) {
        self.registry = registry
        self.apps = apps
        self.discovered = discovered
    }

    public func app(named name: String) -> AppConfig? { apps.first { $0.name == name } }

    /// Names of the files that configure a repo, first found wins.
    public static let configFileNames = ["berth.yaml", "berth.yml"]
    static let composeFileNames = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"]
    static let stackFileNames = ["stack.yaml", "stack.yml"]
    /// How deep below the root discovery looks for compose files (`apps/web` is depth 2).
    public static let discoveryDepth = 3

    /// Reads `berth.yaml` in a snapshot, or discovers apps when there is none (or when it has no
    /// `apps:`). Paths are checked against the snapshot; positions in errors are relative to it.
    public static func load(snapshotDirectory: URL) throws(GitSourceError) -> RepoConfig {
        let root = snapshotDirectory.standardizedFileURL.path
        let fm = FileManager.default
        guard let configName = configFileNames.first(where: { fm.fileExists(atPath: root + "/" + $0) }) else {
            return RepoConfig(registry: nil, apps: try discover(root: root), discovered: true)
        }
        let text: String
        do {
            text = try String(contentsOfFile: root + "/" + configName, encoding: .utf8)
        } catch {
            throw GitSourceError(kind: .config, message: "cannot read \(configName): \(errorText(error))",
                                 hint: "It must be a UTF-8 text file")
        }
        return try parse(text, file: configName, root: root)
    }

    /// Parses `berth.yaml` text; `root` is the snapshot the paths are checked against.
    static func parse(_ text: String, file: String, root: String) throws(GitSourceError) -> RepoConfig {
        let document: YAMLNode?
        do {
            document = try YAML.parse(text, file: file)
        } catch {
            throw GitSourceError(kind: .config, message: error.description, hint: "Fix the YAML syntax")
        }
        guard let document, !document.isNull else {
            return RepoConfig(registry: nil, apps: try discover(root: root), discovered: true)
        }
        guard let pairs = document.pairs else {
            throw configError(document.mark, "\(file) must be a mapping with registry and apps", "See the berth.yaml reference")
        }
        try rejectUnknownKeys(pairs, known: ["registry", "apps"], in: file)
        var registry: String?
        if let node = document["registry"], !node.isNull {
            guard node.isScalar, let value = node.string, !value.isEmpty else {
                throw configError(node.mark, "registry must be a string like 127.0.0.1:5000/acme", "")
            }
            registry = value
        }
        guard let appsNode = document["apps"], !appsNode.isNull else {
            return RepoConfig(registry: registry, apps: try discover(root: root), discovered: true)
        }
        guard let appPairs = appsNode.pairs else {
            throw configError(appsNode.mark, "apps must be a mapping of app name to settings", "Write apps: {web: {path: apps/web}}")
        }
        var apps: [AppConfig] = []
        for pair in appPairs {
            apps.append(try parseApp(pair, root: root, seen: apps))
        }
        for app in apps {
            for (index, dependency) in app.dependsOn.enumerated() where !apps.contains(where: { $0.name == dependency }) {
                let node = appPairs.first { $0.key.scalarText == app.name }?.value["dependsOn"]
                let mark = node?.sequence?[index].mark ?? node?.mark ?? app.mark
                throw configError(mark, "app \(app.name) depends on \"\(dependency)\", which is not an app",
                                  "Apps: " + apps.map(\.name).joined(separator: ", "))
            }
        }
        return RepoConfig(registry: registry, apps: try dependencyOrder(apps), discovered: false)
    }

    private static func parseApp(_ pair: YAMLPair, root: String, seen: [AppConfig]) throws(GitSourceError) -> AppConfig {
        guard let name = pair.key.string, pair.key.isScalar else {
            throw configError(pair.key.mark, "an app name must be a string", "")
        }
        guard isValidName(name) else {
            throw configError(pair.key.mark, "app name \"\(name)\" is not valid",
                              "Use lowercase letters, digits, '-' and '_', starting with a letter or digit")
        }
        if seen.contains(where: { $0.name == name }) {
            throw configError(pair.key.mark, "app \(name) is defined twice", "Remove one of the definitions")
        }
        let node = pair.value
        let mark = pair.key.mark
        if !node.isNull && !node.isMapping {
            throw configError(node.mark, "app \(name) must be a mapping of settings", "Write \(name): {path: apps/\(name)}")
        }
        try rejectUnknownKeys(node.pairs ?? [], known: ["path", "files", "profiles", "target", "prune", "dependsOn"],
                              in: "app \(name)")

        var path = name
        if let p = node["path"], !p.isNull {
            guard p.isScalar, let value = p.string else { throw configError(p.mark, "path of app \(name) must be a string", "") }
            path = try relativePath(value, mark: p.mark, what: "path of app \(name)")
            var isDir = false
            let full = root + "/" + path
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDir), isDir else {
                throw configError(p.mark, "path \(value) of app \(name) is not a folder in the repository", "Check the path")
            }
            try checkInside(full, root: root, mark: p.mark, what: "path \(value) of app \(name)")
        } else {
            var isDir = false
            guard FileManager.default.fileExists(atPath: root + "/" + name, isDirectory: &isDir), isDir else {
                throw configError(mark, "app \(name) has no path and there is no folder \(name)", "Set path: to the app's folder")
            }
        }

        var target = DeployTarget.compose
        if let t = node["target"], !t.isNull {
            guard t.isScalar, let value = t.string, let parsed = DeployTarget(rawValue: value) else {
                throw configError(t.mark, "target of app \(name) must be compose or swarm, not \(t.string ?? "a collection")", "")
            }
            target = parsed
        }

        var prune = true
        if let p = node["prune"], !p.isNull {
            guard let value = p.bool else { throw configError(p.mark, "prune of app \(name) must be true or false", "") }
            prune = value
        }

        let appDir = root + "/" + path
        var files: [String] = []
        if let f = node["files"], !f.isNull {
            for item in try stringList(f, what: "files of app \(name)") {
                let file = try relativePath(item.value, mark: item.mark, what: "file \(item.value) of app \(name)")
                guard FileManager.default.fileExists(atPath: appDir + "/" + file) else {
                    throw configError(item.mark, "file \(item.value) of app \(name) does not exist in \(path)", "Check the file name")
                }
                try checkInside(appDir + "/" + file, root: root, mark: item.mark, what: "file \(item.value) of app \(name)")
                files.append(file)
            }
            if files.isEmpty { throw configError(f.mark, "files of app \(name) is empty", "Name at least one compose file, or remove files:") }
        } else {
            files = defaultFiles(in: appDir, target: target)
            if files.isEmpty {
                let looked = (target == .swarm ? stackFileNames : []) + composeFileNames
                throw configError(mark, "app \(name) has no compose file in \(path) (looked for \(looked.joined(separator: ", ")))",
                                  "Add one, or list the files with files:")
            }
        }

        let profiles = try node["profiles"].map { n throws(GitSourceError) in try stringList(n, what: "profiles of app \(name)").map(\.value) } ?? []
        let dependsOn = try node["dependsOn"].map { n throws(GitSourceError) in try stringList(n, what: "dependsOn of app \(name)").map(\.value) } ?? []
        return AppConfig(name: name, path: path, files: files, profiles: profiles, target: target, prune: prune,
                         dependsOn: dependsOn, mark: mark)
    }

    // MARK: discovery

    /// Every folder up to `discoveryDepth` below the root holding a compose file is an app named
    /// after the folder (lowercased, characters compose does not allow dropped). Hidden folders
    /// and symlinks are skipped, and an app's own subfolders are not searched. A compose file
    /// at the root makes one app named by its top-level `name:`, else `default`.
    static func discover(root: String) throws(GitSourceError) -> [AppConfig] {
        var found: [AppConfig] = []
        func visit(_ relative: String, depth: Int) throws(GitSourceError) {
            let dir = relative == "." ? root : root + "/" + relative
            let files = defaultFiles(in: dir, target: .compose)
            if !files.isEmpty {
                let folder = relative == "." ? nil : Path.lastComponent(relative)
                let name = folder.map(normalizedName) ?? rootAppName(dir + "/" + files[0])
                guard !name.isEmpty else {
                    throw GitSourceError(kind: .config, message: "folder \(relative) holds a compose file but gives no usable app name",
                                         hint: "Add berth.yaml naming the app")
                }
                if let other = found.first(where: { $0.name == name }) {
                    throw GitSourceError(kind: .config, message: "two folders make an app named \(name): \(other.path) and \(relative)",
                                         hint: "Add berth.yaml listing the apps with distinct names")
                }
                found.append(AppConfig(name: name, path: relative, files: files))
                return
            }
            guard depth < discoveryDepth else { return }
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
            for name in names where !name.hasPrefix(".") {
                var info = stat()
                guard lstat(dir + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { continue }
                try visit(relative == "." ? name : relative + "/" + name, depth: depth + 1)
            }
        }
        try visit(".", depth: 0)
        return found.sorted { $0.path < $1.path }
    }

    private static func rootAppName(_ composeFile: String) -> String {
        if let text = try? String(contentsOfFile: composeFile, encoding: .utf8),
           let node = try? YAML.parse(text, file: composeFile), let name = node["name"]?.string,
           !name.contains("$"), isValidName(name) {
            return name
        }
        return "default"
    }

    static func defaultFiles(in dir: String, target: DeployTarget) -> [String] {
        let fm = FileManager.default
        if target == .swarm, let stack = stackFileNames.first(where: { fm.fileExists(atPath: dir + "/" + $0) }) {
            return [stack]
        }
        guard let main = composeFileNames.first(where: { fm.fileExists(atPath: dir + "/" + $0) }) else { return [] }
        let overrides = main.hasPrefix("docker-")
            ? ["docker-compose.override.yaml", "docker-compose.override.yml"]
            : ["compose.override.yaml", "compose.override.yml"]
        if target == .compose, let override = overrides.first(where: { fm.fileExists(atPath: dir + "/" + $0) }) {
            return [main, override]
        }
        return [main]
    }

    static func normalizedName(_ folder: String) -> String {
        String(folder.lowercased().unicodeScalars.filter { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }
            .map(Character.init)).trimmingPrefix { $0 == "-" || $0 == "_" }.description
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) || ("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }
    }

    // MARK: ordering

    /// Stable topological order: among apps whose dependencies are placed, the earliest
    /// declared goes first.
    static func dependencyOrder(_ apps: [AppConfig]) throws(GitSourceError) -> [AppConfig] {
        var placed: [AppConfig] = []
        var done = Set<String>()
        var remaining = apps
        while !remaining.isEmpty {
            guard let index = remaining.firstIndex(where: { $0.dependsOn.allSatisfy(done.contains) }) else {
                let cycle = findCycle(remaining)
                let first = remaining.first { $0.name == cycle.first } ?? remaining[0]
                throw configError(first.mark, "apps depend on each other in a cycle: " + cycle.joined(separator: " → "),
                                  "Remove one of these dependsOn entries")
            }
            let app = remaining.remove(at: index)
            placed.append(app)
            done.insert(app.name)
        }
        return placed
    }

    private static func findCycle(_ apps: [AppConfig]) -> [String] {
        let byName = Dictionary(apps.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        // Every remaining app waits on another remaining app, so walking first unmet
        // dependencies must revisit a name.
        guard var current = apps.first?.name else { return [] }
        var path: [String] = []
        while !path.contains(current) {
            path.append(current)
            guard let next = byName[current]?.dependsOn.first(where: { byName[$0] != nil }) else { return path }
            current = next
        }
        let start = path.firstIndex(of: current) ?? 0
        return Array(path[start...]) + [current]
    }

    // MARK: helpers

    private static func rejectUnknownKeys(_ pairs: [YAMLPair], known: [String], in context: String) throws(GitSourceError) {
        for pair in pairs {
            let key = pair.key.scalarText ?? ""
            if !known.contains(key) {
                let close = known.filter { GitStore.editDistance($0.lowercased(), key.lowercased()) <= 2 }
                throw configError(pair.key.mark, "unknown key \"\(key)\" in \(context)",
                                  close.isEmpty ? "Known keys: " + known.joined(separator: ", ") : "Did you mean \(close[0])?")
            }
        }
    }

    private static func stringList(_ node: YAMLNode, what: String) throws(GitSourceError) -> [(value: String, mark: Mark)] {
        if node.isScalar, let value = node.string { return [(value, node.mark)] }
        guard let items = node.sequence else { throw configError(node.mark, "\(what) must be a list of strings", "") }
        var result: [(value: String, mark: Mark)] = []
        for item in items {
            guard item.isScalar, let value = item.string, !value.isEmpty else {
                throw configError(item.mark, "\(what) must be a list of strings", "")
            }
            result.append((value, item.mark))
        }
        return result
    }

    /// A path inside the repo: relative, no `..` that climbs out; normalised (`./a/` → `a`).
    private static func relativePath(_ value: String, mark: Mark, what: String) throws(GitSourceError) -> String {
        guard !value.hasPrefix("/") else { throw configError(mark, "\(what) must be relative to the repository, not \(value)", "") }
        var parts: [Substring] = []
        for part in value.split(separator: "/") where part != "." {
            if part == ".." {
                guard !parts.isEmpty else { throw configError(mark, "\(what) leaves the repository (\(value))", "Keep paths inside the repository") }
                parts.removeLast()
            } else {
                parts.append(part)
            }
        }
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    /// Refuses a path that a symlink takes outside the snapshot.
    private static func checkInside(_ path: String, root: String, mark: Mark, what: String) throws(GitSourceError) {
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let realRoot = URL(fileURLWithPath: root).resolvingSymlinksInPath().path
        guard real == realRoot || real.hasPrefix(realRoot + "/") else {
            throw configError(mark, "\(what) leaves the repository through a symlink", "Keep paths inside the repository")
        }
    }

    private static func configError(_ mark: Mark, _ message: String, _ hint: String) -> GitSourceError {
        GitSourceError(kind: .config, message: "\(mark): \(message)", hint: hint)
    }
}
