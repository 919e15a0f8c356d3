import BerthYAML
import FoundationEssentials
import Platform
import Glibc
import Interpolation
import Logging

/// Loads compose files into a normalized, validated `Project` the way `docker compose` does:
/// parse → interpolate → `extends` → `include` → merge the files (`!reset`/`!override`) →
/// schema validation → canonical long syntax → relative paths → normalize → profiles → checks.
public enum ProjectLoader {
    public static let defaultFileNames = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"]

    public static func load(_ options: ProjectOptions, logger: Logger) throws(ComposeError) -> Project {
        let cwd = options.workingDirectory
        var files = options.files.map { Paths.absolute($0, base: cwd) }
        if files.isEmpty, let fromEnv = options.environment["COMPOSE_FILE"], !fromEnv.isEmpty {
            let separator = options.environment["COMPOSE_PATH_SEPARATOR"] ?? ":"
            files = fromEnv.components(separatedBy: separator).filter { !$0.isEmpty }.map { Paths.absolute($0, base: cwd) }
        }
        if files.isEmpty { files = try findDefaultFiles(from: options.projectDirectory.map { Paths.absolute($0, base: cwd) } ?? cwd) }
        let projectDirectory = options.projectDirectory.map { Paths.absolute($0, base: cwd) } ?? Paths.directory(of: files[0])

        // Variables: the env files first, the process environment over them.
        var envFiles = options.envFiles.map { Paths.absolute($0, base: cwd) }
        if envFiles.isEmpty {
            let dotEnv = projectDirectory + "/.env"
            var isDirectory = false
            if FileManager.default.fileExists(atPath: dotEnv, isDirectory: &isDirectory), !isDirectory {
                envFiles = [dotEnv]
            }
        }
        var environment: [String: String] = [:]
        if !envFiles.isEmpty {
            var inputs: [(file: String, text: String)] = []
            for file in envFiles {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw ComposeError("cannot read env file \(file): no such file or not readable")
                }
                inputs.append((file, text))
            }
            do {
                for (key, value) in try DotEnv.parse(files: inputs, environment: { options.environment[$0] }) {
                    environment[key] = value
                }
            } catch {
                throw ComposeError(error.description)
            }
        }
        environment.merge(options.environment) { _, process in process }
        let env = environment

        let root = cwd.hasSuffix("/") ? cwd : cwd + "/"
        var loader = TreeLoader(lookup: { env[$0] }, logger: logger,
                                display: { $0.hasPrefix(root) ? String($0.dropFirst(root.count)) : $0 })
        var document = try loader.loadFiles(files, stack: [])
        if (document.pairs ?? []).isEmpty {
            throw ComposeError("empty compose file: \(files.joined(separator: ", ")) defines nothing")
        }
        if let version = document["version"] {
            logger.warning("the attribute `version` is obsolete, it will be ignored", metadata: ["at": "\(version.mark)"])
            document["version"] = nil
        }
        if document["services"] == nil { document["services"] = YAMLNode(.mapping([])) }

        try SchemaValidator.compose.validate(document)

        let name = try projectName(options: options, environment: env, document: document, directory: projectDirectory)
        document["name"] = .string(name, mark: document["name"]?.mark ?? .none)
        document = try Canonical.transform(document)
        document = Canonical.resolvePaths(document, base: projectDirectory)
        document = try Canonical.resolveEnvFiles(document, lookup: { env[$0] })
        document = ComposeNormalize.normalize(document, lookup: { env[$0] })

        var profiles = options.profiles
        if profiles.isEmpty, let fromEnv = env["COMPOSE_PROFILES"] {
            profiles = fromEnv.split(separator: ",").map { $0.trimming(.whitespaces) }.filter { !$0.isEmpty }
        }
        document = try Selection.apply(document, profiles: profiles, services: options.services)
        try Checks.validate(document)
        document = Canonical.ordered(document)
        let project = try ModelDecoder.project(document, workingDirectory: projectDirectory, profiles: profiles,
                                               environment: env, configFiles: files)
        if options.target == .swarm { logSwarmWarnings(project, logger: logger) }
        return project
    }

    static func findDefaultFiles(from start: String) throws(ComposeError) -> [String] {
        var dir = Paths.clean(start)
        while true {
            for name in defaultFileNames where Paths.exists(dir + "/" + name) {
                var found = [dir + "/" + name]
                let stem = name.hasPrefix("docker-compose") ? "docker-compose" : "compose"
                for ext in name.hasSuffix(".yml") ? ["yml", "yaml"] : ["yaml", "yml"] {
                    let override = "\(dir)/\(stem).override.\(ext)"
                    if Paths.exists(override) { found.append(override); break }
                }
                return found
            }
            if dir == "/" { break }
            dir = Paths.directory(of: dir)
        }
        throw ComposeError("no configuration file provided: not found (looked for \(defaultFileNames.joined(separator: ", ")) in \(start) and its parents)")
    }

    static func projectName(options: ProjectOptions, environment: [String: String], document: YAMLNode,
                            directory: String) throws(ComposeError) -> String {
        func checked(_ name: String, from source: String, mark: Mark? = nil) throws(ComposeError) -> String {
            guard !name.isEmpty else { throw ComposeError("project name must not be empty (\(source))", mark: mark) }
            guard normalizeProjectName(name) == name else {
                throw ComposeError("\"\(name)\" is not a valid project name (\(source)): use only lowercase letters, digits, "
                                   + "\"-\" and \"_\", starting with a letter or digit", mark: mark)
            }
            return name
        }
        if let name = options.projectName { return try checked(name, from: "-p") }
        if let name = environment["COMPOSE_PROJECT_NAME"], !name.isEmpty { return try checked(name, from: "COMPOSE_PROJECT_NAME") }
        if let node = document["name"], let name = node.string, !name.isEmpty { return try checked(name, from: "name:", mark: node.mark) }
        if let name = options.defaultName { return try checked(name, from: "the default name") }
        let derived = normalizeProjectName(Paths.base(of: directory))
        guard !derived.isEmpty else {
            throw ComposeError("cannot derive a project name from the directory \(directory); set one with -p or name:")
        }
        return derived
    }

    /// Compose's sanitizing of a directory name: lowercase, only `[a-z0-9_-]`, no leading `_`/`-`.
    public static func normalizeProjectName(_ name: String) -> String {
        let kept = name.lowercased().unicodeScalars.filter { c in
            (c >= "a" && c <= "z") || (c >= "0" && c <= "9") || c == "_" || c == "-"
        }
        var text = String(String.UnicodeScalarView(kept))
        while let first = text.first, first == "_" || first == "-" { text.removeFirst() }
        return text
    }
}

/// Reads, interpolates and merges compose files into one document.
struct TreeLoader {
    let lookup: @Sendable (String) -> String?
    let logger: Logger
    /// How a file is named in messages: relative to the working directory when inside it.
    let display: @Sendable (String) -> String
    var parsed: [String: [YAMLNode]] = [:]

    init(lookup: @escaping @Sendable (String) -> String?, logger: Logger,
         display: @escaping @Sendable (String) -> String = { $0 }) {
        self.lookup = lookup
        self.logger = logger
        self.display = display
    }

    mutating func loadFiles(_ files: [String], stack: [String]) throws(ComposeError) -> YAMLNode {
        var document = YAMLNode.mapping([YAMLPair]())
        for file in files {
            for (doc, reset) in try loadFile(file, stack: stack) {
                document = try ComposeMerge.merge(reset.apply(document), doc)
                document = ComposeUnicity.enforce(document)
            }
        }
        return document
    }

    /// One file's documents, each interpolated, with `extends` and `include` applied.
    mutating func loadFile(_ file: String, stack: [String]) throws(ComposeError) -> [(YAMLNode, ResetPaths)] {
        var result: [(YAMLNode, ResetPaths)] = []
        for var doc in try parse(file) {
            var reset = ResetPaths()
            guard let stripped = reset.strip(doc) else { continue }
            doc = try interpolate(stripped, TreePath())
            doc = try applyExtends(doc, file: file)
            doc = try applyInclude(doc, file: file, stack: stack + [file])
            result.append((doc, reset))
        }
        return result
    }

    mutating func parse(_ file: String) throws(ComposeError) -> [YAMLNode] {
        if let docs = parsed[file] { return docs }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ComposeError("cannot read \(file): no such file or not readable")
        }
        let text = String(decoding: data, as: UTF8.self)
        var docs: [YAMLNode]
        do {
            docs = try YAML.parseAll(text, file: display(file))
        } catch {
            throw ComposeError(error)
        }
        docs = docs.filter { !$0.isNull }
        for doc in docs where !doc.isMapping {
            throw ComposeError("top-level object must be a mapping, not a \(doc.kindName)", mark: doc.mark)
        }
        parsed[file] = docs
        return docs
    }

    // MARK: interpolation

    func interpolate(_ node: YAMLNode, _ path: TreePath) throws(ComposeError) -> YAMLNode {
        var scratch = path
        return try interpolated(node, &scratch) ?? node
    }

    /// The node with variables substituted and typed attributes cast, or nil when nothing
    /// changes: most of a file has no `$`, and rebuilding every mapping and list regardless
    /// was a large share of the time spent loading a big project.
    /// `path` is this node's path; it is extended and restored while walking the children,
    /// rather than copied for each of them.
    func interpolated(_ node: YAMLNode, _ path: inout TreePath) throws(ComposeError) -> YAMLNode? {
        var out = node
        switch node.content {
        case .scalar(let text, let style):
            // A byte scan: Foundation's String.contains(String) showed up in profiles.
            guard text.utf8.contains(UInt8(ascii: "$")) else { return try TypeCast.castIfNeeded(node, path) }
            let result: InterpolationResult
            do {
                result = try Interpolator.evaluate(text, lookup: lookup)
            } catch {
                var mark = node.mark
                if !text.contains("\n"), style == .plain || style == .singleQuoted || style == .doubleQuoted {
                    mark.column += error.offset + (style == .plain ? 0 : 1)
                }
                throw ComposeError(error.description, mark: mark, path: path.description)
            }
            for name in Set(result.unsetVariables).sorted() {
                logger.warning("The \"\(name)\" variable is not set. Defaulting to a blank string.",
                               metadata: ["at": "\(node.mark)"])
            }
            var newStyle = style
            if style == .plain, YAMLNode.plainResolves(result.value) == .null { newStyle = .doubleQuoted }
            out.content = .scalar(result.value, newStyle)
            out = try TypeCast.cast(out, path)
        case .sequence(let items):
            var changed: [YAMLNode]?
            for (i, item) in items.enumerated() {
                path.parts.append(TreePath.indexPart(i))
                let result = try interpolatedChild(item, &path)
                guard let new = result else { continue }
                var list = changed ?? items
                changed = nil  // keeps `list` the only reference, so the write below does not copy
                list[i] = new
                changed = list
            }
            guard let changed else { return nil }
            out.content = .sequence(changed)
        case .mapping(let pairs):
            var changed: [YAMLPair]?
            for (i, pair) in pairs.enumerated() {
                path.parts.append(pair.key.scalarText ?? "")
                let result = try interpolatedChild(pair.value, &path)
                guard let new = result else { continue }
                var list = changed ?? pairs
                changed = nil  // keeps `list` the only reference, so the write below does not copy
                list[i].value = new
                changed = list
            }
            guard let changed else { return nil }
            out.content = .mapping(changed)
        }
        return out
    }

    /// `interpolated` for a child whose key was just pushed on `path`; pops it, error or not.
    private func interpolatedChild(_ node: YAMLNode, _ path: inout TreePath) throws(ComposeError) -> YAMLNode? {
        defer { path.parts.removeLast() }
        return try interpolated(node, &path)
    }

    // MARK: extends

    mutating func applyExtends(_ doc: YAMLNode, file: String) throws(ComposeError) -> YAMLNode {
        guard var services = doc["services"], let pairs = services.pairs,
              pairs.contains(where: { $0.value["extends"] != nil }) else { return doc }
        var resolved = pairs
        for i in resolved.indices {
            let name = resolved[i].key.scalarText ?? ""
            resolved[i].value = try resolveService(name, in: doc, file: file, chain: [])
        }
        services.content = .mapping(resolved)
        var out = doc
        out["services"] = services
        return out
    }

    mutating func resolveService(_ name: String, in doc: YAMLNode, file: String, chain: [String],
                                 from: YAMLNode? = nil) throws(ComposeError) -> YAMLNode {
        guard let service = doc["services"]?[name] else {
            throw ComposeError("cannot extend service \"\(name)\": no such service in \(file)", mark: from?.mark,
                               path: from.map { _ in "extends" })
        }
        guard let ext = service["extends"] else { return service }
        let link = "\(file):\(name)"
        if chain.contains(link) {
            let cycle = (chain + [link]).map { Paths.base(of: String($0)) }.joined(separator: " -> ")
            throw ComposeError("circular reference with extends: \(cycle)", mark: ext.mark, path: "services.\(name).extends")
        }
        guard let baseName = ext.string ?? ext["service"]?.string else {
            throw ComposeError("extends requires a service name", mark: ext.mark, path: "services.\(name).extends")
        }
        var base: YAMLNode
        if let other = ext["file"]?.string {
            let otherFile = Paths.absolute(other, base: Paths.directory(of: file))
            let docs = try parse(otherFile)
            guard var otherDoc = docs.first else {
                throw ComposeError("cannot extend service \"\(baseName)\": \(other) is empty", mark: ext.mark,
                                   path: "services.\(name).extends")
            }
            var reset = ResetPaths()
            otherDoc = try interpolate(reset.strip(otherDoc) ?? otherDoc, TreePath())
            base = try resolveService(baseName, in: otherDoc, file: otherFile, chain: chain + [link], from: ext)
            base = Canonical.rebaseService(base, from: Paths.directory(of: otherFile))
        } else {
            base = try resolveService(baseName, in: doc, file: file, chain: chain + [link], from: ext)
        }
        var own = service
        own["extends"] = nil
        base["extends"] = nil
        if base.isNull { base = .mapping([YAMLPair]()) }
        let merged = try ComposeMerge.mergeNode(base, own, TreePath(["services", name]))
        return ComposeUnicity.enforce(merged, TreePath(["services", name]))
    }

    // MARK: include

    mutating func applyInclude(_ doc: YAMLNode, file: String, stack: [String]) throws(ComposeError) -> YAMLNode {
        guard let include = doc["include"] else { return doc }
        var out = doc
        out["include"] = nil
        let dir = Paths.directory(of: file)
        for (i, entry) in (include.sequence ?? []).enumerated() {
            let path = TreePath(["include"]).next(i)
            var files: [String] = []
            var projectDirectory: String?
            var envFiles: [String] = []
            if let single = entry.string {
                files = [single]
            } else {
                let p = entry["path"]
                files = p?.sequence?.compactMap(\.string) ?? p?.string.map { [$0] } ?? []
                projectDirectory = entry["project_directory"]?.string
                let e = entry["env_file"]
                envFiles = e?.sequence?.compactMap(\.string) ?? e?.string.map { [$0] } ?? []
            }
            guard !files.isEmpty else {
                throw ComposeError("include requires a path", mark: entry.mark, path: path.description)
            }
            let absolute = files.map { Paths.absolute($0, base: dir) }
            for f in absolute where stack.contains(f) {
                throw ComposeError("include cycle: \((stack + [f]).map(Paths.base).joined(separator: " -> "))",
                                   mark: entry.mark, path: path.description)
            }
            for f in absolute where !Paths.exists(f) {
                throw ComposeError("included file \(f) not found", mark: entry.mark, path: path.description)
            }
            let includedDir = projectDirectory.map { Paths.absolute($0, base: dir) } ?? Paths.directory(of: absolute[0])
            var sub = self
            if !envFiles.isEmpty {
                var inputs: [(file: String, text: String)] = []
                for f in envFiles.map({ Paths.absolute($0, base: includedDir) }) {
                    guard let text = try? String(contentsOfFile: f, encoding: .utf8) else {
                        throw ComposeError("cannot read env file \(f)", mark: entry.mark, path: path.description)
                    }
                    inputs.append((f, text))
                }
                let parent = lookup
                var values: [String: String] = [:]
                do {
                    for (k, v) in try DotEnv.parse(files: inputs, environment: parent) { values[k] = v }
                } catch {
                    throw ComposeError(error.description, mark: entry.mark, path: path.description)
                }
                let frozen = values
                sub = TreeLoader(lookup: { parent($0) ?? frozen[$0] }, logger: logger, display: display)
            }
            var included = try sub.loadFiles(absolute, stack: stack)
            included = try Canonical.transform(included)
            included = Canonical.resolvePaths(included, base: includedDir)
            for kind in ["services", "networks", "volumes", "secrets", "configs", "models"] {
                guard let entries = included[kind]?.pairs else { continue }
                var target = out[kind] ?? .mapping([YAMLPair]())
                if target.isNull { target = .mapping([YAMLPair]()) }
                for pair in entries {
                    let key = pair.key.scalarText ?? ""
                    if let existing = target[key] {
                        if existing == pair.value { continue }
                        throw ComposeError("\(kind).\(key) is defined both here and in included file \(absolute[0])",
                                           mark: pair.key.mark, path: path.description)
                    }
                    target[key] = pair.value
                }
                out[kind] = target
            }
        }
        return out
    }
}
