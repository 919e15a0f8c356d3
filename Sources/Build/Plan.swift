// From a compose project to an ordered list of engine builds. Everything that can be checked
// without the engine is checked here, for every service at once: a bad Dockerfile or a cycle
// fails the whole command before the first byte is sent.

import Compose
import Dockerfile
import Engine
import FoundationEssentials
import Glibc
import Registry

/// What `berth build` was asked to do, beyond the compose files.
public struct BuildOptions: Sendable {
    /// Services to build; empty: every service with `build:`. Services whose images these build
    /// FROM are added.
    public var services: [String]
    /// `--registry`: tag images `<registry>/<project>-<service>:<commit12>` unless they set `image:`.
    public var registry: String?
    /// `--tag`: a bare tag (`v1.2`) is added to each service's repository; a full reference
    /// (`repo/name:tag`) is allowed when one service is built.
    public var extraTags: [String]
    public var noCache: Bool
    /// Ask the engine to pull newer base images; turns off reuse by build key.
    public var pull: Bool
    /// `--build-arg`, over the compose file's `build.args` for every service.
    public var buildArgs: [String: String]
    /// The git commit; labels `org.opencontainers.image.revision` and forms the registry tag.
    public var revision: String?
    /// `org.opencontainers.image.source`; default: the project directory.
    public var source: String?
    /// More labels for every image (tests pass `dev.berth.test=1`).
    public var labels: [String: String]
    /// How many builds run at once.
    public var parallelism: Int

    public init(services: [String] = [], registry: String? = nil, extraTags: [String] = [], noCache: Bool = false,
                pull: Bool = false, buildArgs: [String: String] = [:], revision: String? = nil, source: String? = nil,
                labels: [String: String] = [:], parallelism: Int = 2) {
        self.services = services
        self.registry = registry
        self.extraTags = extraTags
        self.noCache = noCache
        self.pull = pull
        self.buildArgs = buildArgs
        self.revision = revision
        self.source = source
        self.labels = labels
        self.parallelism = parallelism
    }
}

/// One service's build, fully resolved.
public struct ServiceBuild: Sendable, Equatable {
    public var service: String
    /// Absolute path of the context directory.
    public var context: String
    /// Path of the Dockerfile inside the context tar (the `dockerfile` build parameter).
    public var dockerfile: String
    /// Where the Dockerfile came from, for messages: a path, or `services.x.build.dockerfile_inline`.
    public var dockerfileSource: String
    /// A Dockerfile added to the context tar under `dockerfile` (inline, or outside the context).
    public var generatedDockerfile: String?
    /// The Dockerfile's text, and the line after which the labels go (the end of the target
    /// stage) and its escape character: labels are written into the Dockerfile as one LABEL.
    public var dockerfileText: String
    public var labelLine: Int
    public var escapeToken: Character
    public var buildArgs: [String: String]
    public var target: String?
    /// The compose `build.labels` and `BuildOptions.labels`; the OCI and build-key labels are added when building.
    public var labels: [String: String]
    /// Every tag the image gets; the first is the service's image name.
    public var tags: [String]
    /// External images the target's stages read (FROM, COPY --from), in first-use order.
    public var baseImages: [String]
    /// Services whose images this build reads; they are built first.
    public var dependencies: [String]
    public var noCache: Bool
    public var pull: Bool

    /// The service's image reference (its `image:`, or the default name).
    public var image: String { tags[0] }
}

/// The builds of a project in an order that respects their dependencies.
public struct BuildPlan: Sendable {
    public var project: String
    /// The value of `org.opencontainers.image.revision` (`unknown` when not given).
    public var revision: String
    public var source: String
    public var parallelism: Int
    /// Dependencies first; ties in name order.
    public var builds: [ServiceBuild]

    public func build(for service: String) -> ServiceBuild? { builds.first { $0.service == service } }
}

public enum BuildPlanner {
    /// Name of the generated Dockerfile for `dockerfile_inline` or a Dockerfile outside the context.
    public static let generatedDockerfileName = ".berth.Dockerfile"

    /// Resolves tags, Dockerfiles, base images and order. Throws every Dockerfile problem of
    /// every selected service at once, and cycles with their path.
    public static func plan(_ project: Project, options: BuildOptions = BuildOptions()) throws(BuildError) -> BuildPlan {
        let buildable = project.services.filter { $0.build != nil }
        for name in options.services {
            guard let service = project.service(named: name) else {
                throw BuildError(.invalidRequest, service: name, message: "no such service in project \(project.name)",
                                 hint: "Services: \(project.services.map(\.name).joined(separator: ", ")).")
            }
            if service.build == nil {
                throw BuildError(.invalidRequest, service: name, message: "the service has no build: section, nothing to build",
                                 hint: "It runs the image \(service.image ?? "(none)"); leave it out of --service.")
            }
        }
        let revision = options.revision.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown"

        // Tags first: dependencies are found by matching FROM lines against them.
        let selectedCount = options.services.isEmpty ? buildable.count : Set(options.services).count
        var tagsByService: [String: [String]] = [:]
        for service in buildable {
            // --tag belongs to what was asked for, not to the services pulled in as bases.
            let asked = options.services.isEmpty || options.services.contains(service.name)
            tagsByService[service.name] = try tags(for: service, project: project.name, options: options,
                                                   revision: options.revision, selectedCount: selectedCount,
                                                   extraTags: asked ? options.extraTags : [])
        }
        var owner: [String: String] = [:]
        for service in buildable {
            for tag in tagsByService[service.name] ?? [] {
                let key = ImageReference.canonical(tag)
                if let other = owner[key], other != service.name {
                    throw BuildError(.invalidRequest, service: service.name,
                                     message: "the image \(tag) is also built by service \(other)",
                                     hint: "Give each service its own image: name.")
                }
                owner[key] = service.name
            }
        }

        // Parse every selected Dockerfile; dependencies found along the way join the selection.
        var queue = options.services.isEmpty ? buildable.map(\.name) : options.services
        var planned: [String: ServiceBuild] = [:]
        var errors: [BuildError] = []
        while !queue.isEmpty {
            let name = queue.removeFirst()
            guard planned[name] == nil, let service = project.service(named: name), let build = service.build else { continue }
            do {
                var item = try resolve(service, build: build, project: project, options: options)
                item.tags = tagsByService[name] ?? []
                var dependencies: [String] = []
                for base in item.baseImages {
                    if let other = owner[ImageReference.canonical(base)], !dependencies.contains(other) {
                        dependencies.append(other)
                        queue.append(other)
                    }
                }
                item.dependencies = dependencies.sorted()
                planned[name] = item
            } catch {
                errors.append(error)
                // Keep a placeholder so the service is not parsed twice.
                planned[name] = ServiceBuild(service: name, context: "", dockerfile: "", dockerfileSource: "",
                                             dockerfileText: "", labelLine: 0, escapeToken: "\\", buildArgs: [:], target: nil, labels: [:], tags: [], baseImages: [],
                                             dependencies: [], noCache: false, pull: false)
            }
        }
        if !errors.isEmpty { throw BuildError.combined(errors) }

        let ordered = try order(planned)
        return BuildPlan(project: project.name, revision: revision, source: options.source ?? project.workingDirectory,
                         parallelism: max(1, options.parallelism), builds: ordered)
    }

    static func tags(for service: Service, project: String, options: BuildOptions, revision: String?,
                     selectedCount: Int, extraTags: [String]) throws(BuildError) -> [String] {
        let primary: String
        if let image = service.image, !image.isEmpty {
            primary = image
        } else if let registry = options.registry, !registry.isEmpty {
            let trimmed = registry.hasSuffix("/") ? String(registry.dropLast()) : registry
            let tag = revision.map { String($0.prefix(12)) } ?? "latest"
            primary = "\(trimmed)/\(project)-\(service.name):\(tag)"
        } else {
            primary = "\(project)-\(service.name):latest"
        }
        var tags = [primary]
        for tag in service.build?.tags ?? [] where !tags.contains(tag) { tags.append(tag) }
        let repository = EngineClient.splitTag(primary).0
        for extra in extraTags {
            let reference: String
            if extra.contains("/") || extra.contains(":") {
                guard selectedCount <= 1 else {
                    throw BuildError(.invalidRequest, location: "--tag \(extra)",
                                     message: "a full image reference can only tag one service, and \(selectedCount) are built",
                                     hint: "Pass a bare tag (e.g. --tag v1.2) to add it to every service's repository, or select one service with --service.")
                }
                reference = extra
            } else {
                reference = repository + ":" + extra
            }
            if !tags.contains(reference) { tags.append(reference) }
        }
        return tags
    }

    /// Reads and checks one service's Dockerfile.
    static func resolve(_ service: Service, build: Build, project: Project, options: BuildOptions) throws(BuildError) -> ServiceBuild {
        let context = Self.clean(build.context.hasPrefix("/") ? build.context : project.workingDirectory + "/" + build.context)
        if build.context.contains("://") || build.context.hasPrefix("git@") {
            throw BuildError(.invalidRequest, service: service.name, location: "build.context",
                             message: "remote build contexts (\(build.context)) are not supported",
                             hint: "Check the sources out into the GitOps repo and point build.context at the folder.")
        }
        var args: [String: String] = [:]
        for (key, value) in build.args {
            if let value { args[key] = value } else if let value = project.environment[key] { args[key] = value }
        }
        for (key, value) in options.buildArgs { args[key] = value }

        let dockerfileInContext: String
        let display: String
        let text: String
        var generated: String?
        if let inline = build.dockerfileInline {
            dockerfileInContext = generatedDockerfileName
            display = "services.\(service.name).build.dockerfile_inline"
            text = inline
            generated = inline
        } else {
            let given = build.dockerfile ?? "Dockerfile"
            let path = Self.clean(given.hasPrefix("/") ? given : context + "/" + given)
            display = Self.relative(path, to: project.workingDirectory)
            guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw BuildError(.dockerfile, service: service.name, location: display,
                                 message: FileManager.default.fileExists(atPath: path) ? "cannot read the Dockerfile" : "Dockerfile not found",
                                 hint: "Check build.dockerfile (relative to build.context \(build.context)).")
            }
            text = contents
            if path.hasPrefix(context + "/") {
                dockerfileInContext = String(path.dropFirst(context.count + 1))
            } else {
                // Like the docker CLI: a Dockerfile outside the context travels inside the tar.
                dockerfileInContext = generatedDockerfileName
                generated = contents
            }
        }

        let dockerfile: Dockerfile
        do {
            dockerfile = try Dockerfile.parse(text, file: display)
        } catch {
            throw BuildError(error, service: service.name)
        }
        let findings = dockerfile.validateForClassicBuilder()
        if !findings.isEmpty {
            throw BuildError.combined(findings.map {
                BuildError(.dockerfile, service: service.name, location: "\($0.file):\($0.line)", message: $0.message, hint: $0.hint)
            })
        }
        let baseImages: [String]
        let labelLine: Int
        do {
            let graph = try StageGraph(dockerfile: dockerfile, buildArgs: args)
            baseImages = try graph.baseImages(target: build.target)
            let stage = try graph.stage(named: build.target)
            let fromEnd = dockerfile.instructions.first { $0.line == stage.line }?.endLine ?? stage.line
            labelLine = stage.instructions.map(\.endLine).max() ?? fromEnd
        } catch {
            throw BuildError(error, service: service.name)
        }
        var labels = build.labels
        for (key, value) in options.labels { labels[key] = value }
        return ServiceBuild(service: service.name, context: context, dockerfile: dockerfileInContext, dockerfileSource: display,
                            generatedDockerfile: generated, dockerfileText: text, labelLine: labelLine,
                            escapeToken: dockerfile.escapeToken, buildArgs: args, target: build.target, labels: labels,
                            tags: [], baseImages: baseImages, dependencies: [],
                            noCache: options.noCache || build.noCache, pull: options.pull || build.pull)
    }

    /// Dependencies first, ties by name; a cycle is reported with its path.
    static func order(_ planned: [String: ServiceBuild]) throws(BuildError) -> [ServiceBuild] {
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        var result: [ServiceBuild] = []
        var path: [String] = []
        func visit(_ name: String) throws(BuildError) {
            if state[name] == 2 { return }
            if state[name] == 1 {
                let start = path.firstIndex(of: name) ?? 0
                let cycle = path[start...] + [name]
                throw BuildError(.cycle, service: name,
                                 message: "builds depend on each other in a cycle: \(cycle.joined(separator: " -> "))",
                                 hint: "Each arrow is a FROM (or COPY --from) naming the next service's image; break one of them.")
            }
            guard let item = planned[name] else { return }
            state[name] = 1
            path.append(name)
            for dependency in item.dependencies { try visit(dependency) }
            path.removeLast()
            state[name] = 2
            result.append(item)
        }
        for name in planned.keys.sorted() { try visit(name) }
        return result
    }

    static func clean(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    static func relative(_ path: String, to base: String) -> String {
        let prefix = base.hasSuffix("/") ? base : base + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }
}
