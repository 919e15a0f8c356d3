import ArgumentParser
import Build
import Compose
import Engine
import FoundationEssentials
import Platform
import Glibc
import Logging
import Registry
import RepoApps
import GitSource

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

        Repo mode (--repo, like reconcile): every app of the GitOps repo that has services with \
        `build:` is built, in berth.yaml order (--app picks some). The revision defaults to the \
        commit read; berth.yaml's `registry:` names the images only with --push, so unpushed \
        images keep the `<app>-<service>:latest` name that `berth reconcile --repo` runs.

        Progress: on a terminal, one line per service with its current step, redrawn in place; \
        otherwise (CI logs) one `service | Step n/m : …` line per step. With --output json, \
        stdout carries only the JSON document and the step lines go to stderr.

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
          # every app of a GitOps repo, then deploy it
          berth build --repo manifests/examples && berth reconcile --repo manifests/examples
        """)

    @OptionGroup var project: ProjectArguments

    @OptionGroup(title: "Repo mode") var repoSource: RepoArguments

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

    @Flag(help: "Push each image to its first tag (name a registry with --registry) and pin the release lock to the pushed digests.")
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
        if repoSource.repo != nil && (!project.files.isEmpty || project.projectName != nil || project.projectDirectory != nil) {
            throw ValidationError("-f, -p and --project-directory name a compose project; with --repo the apps come from the repo's berth.yaml (pick them with --app)")
        }
        if repoSource.repo == nil && (repoSource.ref != nil || !repoSource.apps.isEmpty) {
            throw ValidationError("--ref and --app need --repo")
        }
    }

    /// One compose project to build: the -f project, or one app of the repo.
    struct Target {
        var app: String?
        var compose: Project
    }

    /// What was built for one project.
    struct Outcome {
        var app: String?
        var plan: BuildPlan
        var report: BuildReport
        var pushed: [String: String]
    }

    func run() async throws {
        let logger = Logger(label: "berth.build")
        let environment = ProcessInfo.processInfo.environment

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

        // Load every project and plan every build before the engine sees anything.
        var targets: [Target] = []
        var revision = self.revision
        var registry = self.registry
        if let checkout = try await repoSource.checkout(logger: logger) {
            revision = revision ?? checkout.commit
            // berth.yaml's registry names the images only when they are pushed: unpushed images
            // keep the local name (`<app>-<service>:latest`) that reconcile runs.
            if registry == nil && push { registry = checkout.config.registry }
            for app in try checkout.selected(repoSource.apps) {
                do {
                    targets.append(Target(app: app.name, compose: try AppLoader.load(app, root: checkout.root, logger: logger)))
                } catch {
                    throw CLIError(error.description)
                }
            }
        } else {
            targets.append(Target(app: nil, compose: try project.load(logger: logger)))
        }
        let asked = serviceOptions + serviceArguments
        if repoSource.repo != nil, let missing = asked.first(where: { name in !targets.contains { $0.compose.service(named: name) != nil } }) {
            throw CLIError("service \(missing) is in no app of the repo (apps: \(targets.compactMap(\.app).joined(separator: ", ")))")
        }
        var plans: [(Target, BuildPlan)] = []
        for target in targets {
            var services = asked
            if target.app != nil {
                // In repo mode a named service selects the apps that have it.
                services = asked.filter { target.compose.service(named: $0) != nil }
                if !asked.isEmpty && services.isEmpty { continue }
                if !target.compose.services.contains(where: { $0.build != nil }) { continue }
            }
            let options = BuildOptions(
                services: services, registry: registry, extraTags: tags, noCache: noCache, pull: pull,
                buildArgs: args, revision: revision, source: self.source ?? repoSource.repo,
                labels: extraLabels, parallelism: parallel)
            plans.append((target, try BuildPlanner.plan(target.compose, options: options)))
        }
        if releaseOut != nil && plans.count > 1 {
            throw CLIError("--release-out writes one app's release lock, and \(plans.count) apps have builds (\(plans.compactMap(\.0.app).joined(separator: ", "))); pick one with --app")
        }

        let console = Console(progressToStderr: output == .json)
        if plans.allSatisfy({ $0.1.builds.isEmpty }) {
            let what = repoSource.repo.map { "repo \($0)" } ?? "project \(targets.first?.compose.name ?? "")"
            console.progress("no service of \(what) has a build: section; nothing to build")
        }
        let engine = EngineClient(logger: logger)
        var outcomes: [Outcome] = []
        for (target, plan) in plans where !plan.builds.isEmpty {
            if plans.count > 1 { console.progress("app \(target.app ?? plan.project):") }
            let report = await build(plan, engine: engine, console: console, logger: logger)
            var pushed: [String: String] = [:]
            if report.succeeded && !noAudit {
                try await Self.auditImages(report.results, strict: strict, console: console, logger: logger)
            }
            if push && report.succeeded {
                pushed = try await pushImages(report.results, plan: plan, logger: logger)
            }
            if let releaseOut, report.succeeded {
                try ReleaseLock(plan: plan, results: report.results, pushed: pushed).write(to: releaseOut)
            }
            outcomes.append(Outcome(app: target.app, plan: plan, report: report, pushed: pushed))
            // Like reconcile: apps after a failed one are left alone.
            if !report.succeeded { break }
        }

        switch output {
        case .json:
            let data = repoSource.repo == nil
                ? try Self.json(plan: plans[0].1, report: outcomes.first?.report ?? BuildReport(results: [], failures: []),
                                pushed: outcomes.first?.pushed ?? [:])
                : try Self.json(repo: outcomes, revision: revision)
            console.out(String(decoding: data, as: UTF8.self))
        case .text:
            for outcome in outcomes where !outcome.report.results.isEmpty || !outcome.report.failures.isEmpty {
                if outcomes.count > 1 { console.out("app \(outcome.app ?? outcome.plan.project):") }
                console.out(Self.summary(plan: outcome.plan, report: outcome.report))
            }
        }
        if let failed = outcomes.first(where: { !$0.report.succeeded }) {
            throw BuildError.combinedForCLI(failed.report.failures)
        }
    }

    /// Runs one plan: a live view on a terminal, `service | step` lines otherwise (and on stderr
    /// in JSON mode, so stdout carries nothing but the JSON).
    private func build(_ plan: BuildPlan, engine: EngineClient, console: Console, logger: Logger) async -> BuildReport {
        let builder = Builder(engine: engine, logger: logger)
        let live = output == .text ? BuildLiveView.onTerminal(plan, fd: STDOUT_FILENO, handle: .standardOutput) : nil
        let width = plan.builds.map(\.service.count).max() ?? 0
        let verbose = self.verbose
        let report = await builder.run(plan) { event in
            // A failure shows as a row; its full text is printed on exit.
            if let live { return live.handle(event) }
            Self.plainProgress(event, plan: plan, width: width, verbose: verbose, console: console)
        }
        live?.finish()
        return report
    }

    /// The progress line for one event off a terminal, or nil when the event prints nothing.
    static func plainLine(_ event: BuildEvent, plan: BuildPlan, width: Int, verbose: Bool) -> String? {
        func prefix(_ service: String) -> String { service.fitted(to: width) + " | " }
        switch event {
        case .started(let service):
            return prefix(service) + "building (\(plan.build(for: service)?.image ?? service))"
        case .step(let service, let text):
            return prefix(service) + text
        case .output(let service, let line):
            return verbose || line.hasPrefix("unchanged context:") ? prefix(service) + line : nil
        case .finished(let result):
            return prefix(result.service) + (result.reused ? "reused " : "built ") + shortID(result.imageID)
                + " in " + Number.fixed(result.seconds, digits: 1) + "s"
        case .failed(let error):
            return error.service.map { prefix($0) + "FAILED" }
        }
    }

    static func plainProgress(_ event: BuildEvent, plan: BuildPlan, width: Int, verbose: Bool, console: Console) {
        if let line = plainLine(event, plan: plan, width: width, verbose: verbose) { console.progress(line) }
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
                rows.append([r.service, shortID(r.imageID), r.tags.first ?? "", r.reused ? "reused" : "built", Number.fixed(r.seconds, digits: 1)])
            } else {
                let failure = report.failures.first { $0.service == item.service }
                rows.append([item.service, "-", item.image, failure?.kind == .skipped ? "skipped" : "failed", "-"])
            }
        }
        let widths = (0..<5).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { $1.fitted(to: widths[$0]) }
                .joined(separator: "  ").trimming(.whitespaces)
        }.joined(separator: "\n")
    }

    /// `berth build --output json` for -f: one project. Field names are part of the CLI's
    /// contract (README, "Berth in CI"): add fields, never rename them.
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
        /// Set in repo mode: the app of berth.yaml.
        var app: String?
        var ok: Bool
        var project: String
        var revision: String
        var services: [Entry]
    }

    /// `--output json` with --repo: one JSONOutput per app that has builds.
    struct RepoJSONOutput: Encodable {
        var ok: Bool
        var revision: String?
        var apps: [JSONOutput]
    }

    static func output(plan: BuildPlan, report: BuildReport, pushed: [String: String], app: String? = nil) -> JSONOutput {
        var entries: [JSONOutput.Entry] = []
        for item in plan.builds {
            if let r = report.result(for: item.service) {
                entries.append(.init(service: r.service, imageID: r.imageID, tags: r.tags, buildKey: r.buildKey,
                                     contextDigest: r.contextDigest, seconds: (r.seconds * 1000).rounded() / 1000,
                                     result: r.reused ? "reused" : "built", pushed: pushed[r.service]))
            } else {
                let failure = report.failures.first { $0.service == item.service }
                entries.append(.init(service: item.service, tags: item.tags,
                                     result: failure?.kind == .skipped || failure == nil ? "skipped" : "failed",
                                     error: failure?.description))
            }
        }
        return JSONOutput(app: app, ok: report.succeeded, project: plan.project, revision: plan.revision, services: entries)
    }

    static var jsonEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static func json(plan: BuildPlan, report: BuildReport, pushed: [String: String]) throws -> Data {
        try jsonEncoder.encode(output(plan: plan, report: report, pushed: pushed))
    }

    static func json(repo outcomes: [Outcome], revision: String?) throws -> Data {
        let apps = outcomes.map { output(plan: $0.plan, report: $0.report, pushed: $0.pushed, app: $0.app) }
        return try jsonEncoder.encode(RepoJSONOutput(ok: apps.allSatisfy(\.ok), revision: revision, apps: apps))
    }
}

extension BuildError {
    /// Failures to report on exit; skipped services are left out when something real failed.
    static func combinedForCLI(_ errors: [BuildError]) -> BuildError {
        let real = errors.filter { $0.kind != .skipped }
        let list = real.isEmpty ? errors : real
        if list.count == 1 { return list[0] }
        let text = list.map { "  - " + $0.description.replacing("\n", with: "\n    ") }
        return BuildError(list[0].kind, message: "\(list.count) builds failed:\n" + text.joined(separator: "\n"))
    }
}

/// Line-atomic output from concurrent builds.
final class Console: @unchecked Sendable {
    private let lock = Lock()
    private let progressToStderr: Bool

    init(progressToStderr: Bool) { self.progressToStderr = progressToStderr }

    func progress(_ line: String) { write(line, to: progressToStderr ? File.standardError : File.standardOutput) }
    func out(_ text: String) { write(text, to: File.standardOutput) }

    private func write(_ line: String, to handle: File) {
        lock.withLock { handle.write(Data((line + "\n").utf8)) }
    }
}
