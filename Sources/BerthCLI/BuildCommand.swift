import ArgumentParser
import Build
import Compose
import Engine
import Foundation
import Logging
import Registry

struct BuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build the images of a compose project's services on the engine's classic builder.",
        discussion: """
        Every service with a `build:` section is built, with the same files and flags as \
        `docker compose build`. All Dockerfiles are parsed first: a syntax error, or a BuildKit-only \
        construct (heredocs, RUN --mount, COPY --chmod …) that the classic builder refuses, stops the \
        command before anything reaches the engine, naming file and line.

        A Dockerfile whose FROM names another service's image (its `image:`, or the default \
        `<project>-<service>`) is built after that service; independent builds run in parallel \
        (--parallel, default 2).

        Each image is labelled with its build key (sha256 of the context tar, the Dockerfile path, \
        the build args, the target, the labels and the base images' IDs). When an image with the \
        same key is already on the host it is tagged instead of rebuilt ("reused"); --no-cache \
        always builds.

        Tags: the service's `image:`; else `<registry>/<project>-<service>:<revision[:12]>` with \
        --registry; else `<project>-<service>:latest`. --tag adds more.

        Examples:
          # every service of ./compose.yaml
          berth build
          # one service (and those it builds FROM), from another folder
          berth build -f apps/web/compose.yaml --service api
          berth build --build-arg VERSION=1.4 --no-cache
          # CI: registry tags named after the commit, and a release lock
          berth build --registry 127.0.0.1:5000/acme \\
            --revision "$(git rev-parse HEAD)" --release-out release.json
          # which services were really built
          berth build --output json | jq '.services[] | select(.result == "built")'
        """)

    @OptionGroup var project: ProjectArguments

    @Option(name: .customLong("service"), help: ArgumentHelp("Build only this service (repeatable); services it builds FROM are built too.", valueName: "name"))
    var serviceOptions: [String] = []

    @Argument(help: ArgumentHelp("Services to build (same as --service).", valueName: "service"))
    var serviceArguments: [String] = []

    @Option(help: ArgumentHelp("Registry (and namespace) for the default image names, e.g. 127.0.0.1:5000/acme.", valueName: "host[:port][/path]"))
    var registry: String?

    @Option(name: .customLong("tag"), help: ArgumentHelp("Another tag: bare (`v1.2`, added to every service's repository) or a full reference for a single service.", valueName: "tag"))
    var tags: [String] = []

    @Flag(name: .customLong("no-cache"), help: "Build every step again, and do not reuse images with the same build key.")
    var noCache = false

    @Flag(help: "Ask the engine to pull newer base images (turns off reuse by build key).")
    var pull = false

    @Option(name: .customLong("build-arg"), help: ArgumentHelp("Build argument for every service; `KEY` alone takes the value from the environment.", valueName: "key=value"))
    var buildArgs: [String] = []

    @Option(name: .customLong("label"), help: ArgumentHelp("Extra label on every image (repeatable).", valueName: "key=value"))
    var labels: [String] = []

    @Option(help: ArgumentHelp("The git commit being built: labels org.opencontainers.image.revision and names registry tags.", valueName: "sha"))
    var revision: String?

    @Option(help: ArgumentHelp("Value of the org.opencontainers.image.source label (default: the project directory).", valueName: "url"))
    var source: String?

    @Option(name: .customLong("release-out"), help: ArgumentHelp("Write the release lock (JSON) to this file.", valueName: "file"))
    var releaseOut: String?

    @Flag(help: "Push the images and put their digests in the release lock (not available yet).")
    var push = false

    @Option(help: "How many builds run at once.")
    var parallel = 2

    @Option(help: "text (progress and a summary) or json (the results on stdout, progress on stderr).")
    var output: OutputFormat = .text

    @Flag(name: [.customShort("v"), .customLong("verbose")], help: "Also print the output of RUN steps, not only the step lines.")
    var verbose = false

    @Flag(help: "Fail when the libc audit of a built image finds problems (default: warn).")
    var strict = false

    @Flag(name: .customLong("no-audit"), help: "Skip the libc audit of the built images.")
    var noAudit = false

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    func validate() throws {
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1") }
        for pair in labels where !pair.contains("=") { throw ValidationError("--label \(pair): expected key=value") }
    }

    func run() async throws {
        let logger = Logger(label: "berth.build")
        let environment = ProcessInfo.processInfo.environment
        let project = try self.project.load(logger: logger)

        var args: [String: String] = [:]
        for pair in buildArgs {
            if let eq = pair.firstIndex(of: "=") {
                args[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
            } else if let value = environment[pair] {
                args[pair] = value
            }
        }
        var extraLabels: [String: String] = [:]
        for pair in labels {
            if let eq = pair.firstIndex(of: "=") { extraLabels[String(pair[..<eq])] = String(pair[pair.index(after: eq)...]) }
        }
        let options = BuildOptions(
            services: serviceOptions + serviceArguments, registry: registry, extraTags: tags, noCache: noCache, pull: pull,
            buildArgs: args, revision: revision, source: source, labels: extraLabels, parallelism: parallel)
        let plan = try BuildPlanner.plan(project, options: options)

        let console = Console(progressToStderr: output == .json)
        if plan.builds.isEmpty {
            console.progress("no service of project \(project.name) has a build: section; nothing to build")
        }
        let width = plan.builds.map(\.service.count).max() ?? 0
        let verbose = self.verbose
        let engine = EngineClient(logger: logger)
        let builder = Builder(engine: engine, logger: logger)
        let report = await builder.run(plan) { event in
            func prefix(_ service: String) -> String { service.padding(toLength: width, withPad: " ", startingAt: 0) + " | " }
            switch event {
            case .started(let service):
                console.progress(prefix(service) + "building (\(plan.build(for: service)?.image ?? service))")
            case .step(let service, let text):
                console.progress(prefix(service) + text)
            case .output(let service, let line):
                if verbose || line.hasPrefix("unchanged context:") { console.progress(prefix(service) + line) }
            case .finished(let result):
                console.progress(prefix(result.service) + (result.reused ? "reused " : "built ") + Self.shortID(result.imageID)
                                 + String(format: " in %.1fs", result.seconds))
            case .failed(let error):
                if let service = error.service { console.progress(prefix(service) + "FAILED") }
            }
        }

        if report.succeeded && !noAudit {
            try await Self.auditImages(report.results, strict: strict, console: console, logger: logger)
        }

        var pushed: [String: String] = [:]
        if push && report.succeeded {
            pushed = try await pushImages(report.results, plan: plan, logger: logger)
        }
        if let releaseOut, report.succeeded {
            try ReleaseLock(plan: plan, results: report.results, pushed: pushed).write(to: releaseOut)
        }

        switch output {
        case .json:
            console.out(String(decoding: try Self.json(plan: plan, report: report, pushed: pushed), as: UTF8.self))
        case .text:
            if !report.results.isEmpty { console.out(Self.summary(plan: plan, report: report)) }
        }
        if !report.succeeded {
            throw BuildError.combinedForCLI(report.failures)
        }
    }

    /// Pushes each built image to its first tag (which names the registry) and returns
    /// service → `<repository>@sha256:…`, the references the release lock pins.
    private func pushImages(_ results: [ServiceBuildResult], plan: BuildPlan, logger: Logger) async throws -> [String: String] {
        let pusher = ImagePusher(credentials: CredentialStore(explicit: nil, logger: logger), caFile: nil, insecure: false,
                                 cacheDirectory: StateDirectory.resolve(nil), logger: logger)
        var pinned: [String: String] = [:]
        for result in results {
            guard let tag = result.tags.first else { continue }
            let reference: ImageReference
            do {
                reference = try ImageReference.parse(tag)
            } catch {
                throw CLIError("service \(result.service): cannot push \(tag): \(error)")
            }
            let pushed = try await pusher.push(tag, to: reference)
            if output == .text {
                print("pushed \(pushed.pinnedReference) (\(pushed.blobsUploaded) uploaded, \(pushed.blobsMounted) mounted, \(pushed.blobsSkipped) already there)")
            }
            pinned[result.service] = pushed.pinnedReference
        }
        return pinned
    }

    static func shortID(_ id: String) -> String {
        let hex = id.hasPrefix("sha256:") ? id.dropFirst(7) : Substring(id)
        return String(hex.prefix(12))
    }

    static func summary(plan: BuildPlan, report: BuildReport) -> String {
        var rows = [["SERVICE", "IMAGE ID", "TAG", "RESULT", "SECONDS"]]
        for item in plan.builds {
            if let r = report.result(for: item.service) {
                rows.append([r.service, shortID(r.imageID), r.tags.first ?? "", r.reused ? "reused" : "built", String(format: "%.1f", r.seconds)])
            } else {
                let failure = report.failures.first { $0.service == item.service }
                rows.append([item.service, "-", item.image, failure?.kind == .skipped ? "skipped" : "failed", "-"])
            }
        }
        let widths = (0..<5).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }

    struct JSONOutput: Encodable {
        struct Entry: Encodable {
            var service: String
            var imageID: String?
            var tags: [String]
            var buildKey: String?
            var contextDigest: String?
            var seconds: Double?
            var result: String
            var pushed: String?
            var error: String?
        }
        var ok: Bool
        var project: String
        var revision: String
        var services: [Entry]
    }

    static func json(plan: BuildPlan, report: BuildReport, pushed: [String: String]) throws -> Data {
        var entries: [JSONOutput.Entry] = []
        for item in plan.builds {
            if let r = report.result(for: item.service) {
                entries.append(.init(service: r.service, imageID: r.imageID, tags: r.tags, buildKey: r.buildKey,
                                     contextDigest: r.contextDigest, seconds: (r.seconds * 1000).rounded() / 1000,
                                     result: r.reused ? "reused" : "built", pushed: pushed[r.service]))
            } else {
                let failure = report.failures.first { $0.service == item.service }
                entries.append(.init(service: item.service, tags: item.tags,
                                     result: failure?.kind == .skipped ? "skipped" : "failed", error: failure?.description))
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(JSONOutput(ok: report.succeeded, project: plan.project, revision: plan.revision, services: entries))
    }
}

extension BuildError {
    /// Failures to report on exit; skipped services are left out when something real failed.
    static func combinedForCLI(_ errors: [BuildError]) -> BuildError {
        let real = errors.filter { $0.kind != .skipped }
        let list = real.isEmpty ? errors : real
        if list.count == 1 { return list[0] }
        let text = list.map { "  - " + $0.description.replacingOccurrences(of: "\n", with: "\n    ") }
        return BuildError(list[0].kind, message: "\(list.count) builds failed:\n" + text.joined(separator: "\n"))
    }
}

/// Line-atomic output from concurrent builds.
final class Console: @unchecked Sendable {
    private let lock = NSLock()
    private let progressToStderr: Bool

    init(progressToStderr: Bool) { self.progressToStderr = progressToStderr }

    func progress(_ line: String) { write(line, to: progressToStderr ? FileHandle.standardError : FileHandle.standardOutput) }
    func out(_ text: String) { write(text, to: FileHandle.standardOutput) }

    private func write(_ line: String, to handle: FileHandle) {
        lock.withLock { handle.write(Data((line + "\n").utf8)) }
    }
}
