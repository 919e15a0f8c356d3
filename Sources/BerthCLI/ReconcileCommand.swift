import ArgumentParser
import Build
import Compose
import Engine
import FoundationEssentials
import Platform
import Glibc
import Logging
import Reconcile
import RepoApps
import GitSource

struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Converge this host's containers to a compose project, immutably.",
        discussion: """
        Berth compares the project with what runs (one container list call; the config hash \
        label decides), prints a plan, and applies it. A container is never changed in place: \
        a difference means a new container from the image resolved to its ID. The old container \
        is stopped and set aside (stop-first, default) or kept running (start-first, from \
        deploy.update_config.order, only without fixed host ports) until the new one is ready — \
        healthy if it has a healthcheck, else running without a restart for --settle seconds. A \
        replacement that fails is removed and the old container serves again.

        Named volumes are never removed unless --prune-volumes. Containers of services that \
        left the project are removed with --prune (off by default in file mode, like \
        `docker compose up --remove-orphans`). A run interrupted at any point (even kill -9) \
        is finished or rolled back by the next run.

        Exit status: 0 success, 1 error or failed rollout; with --exit-code, 2 when the plan \
        has changes (like `git diff --exit-code`).

        Examples:
          berth reconcile                          converge the project in this folder
          berth reconcile --dry-run                show the plan, change nothing
          berth reconcile --dry-run --exit-code    CI drift check: exit 2 on changes
          berth reconcile -f compose.yaml -f prod.yaml -p shop --prune
          berth reconcile --release release.json   deploy exactly the digests of a build
          berth reconcile --output json --dry-run | jq '.projects[].actions[]'
          berth reconcile --swarm -f stack.yaml -p edge   deploy a swarm stack
        """)

    @OptionGroup var project: ProjectArguments

    @OptionGroup(title: "Repo mode") var source: RepoArguments

    @Flag(help: "Print the plan and stop; change nothing.")
    var dryRun = false

    @Flag(help: "Exit with status 2 when the plan has changes.")
    var exitCode = false

    @Option(help: "Output format: text or json.")
    var output: OutputFormat = Defaults.output

    @Flag(inversion: .prefixedNo,
          help: "Remove containers of services that are no longer in the project (default: off for -f files, the app's `prune` in repo mode; never when services are named).")
    var prune: Bool?

    @Flag(help: "Also remove the project's named volumes that are no longer in the project. Deletes data.")
    var pruneVolumes = false

    @Option(help: ArgumentHelp("Deploy the image digests of this release lock (from `berth build --release-out`).",
                               valueName: "file"))
    var release: String?

    @Option(name: [.customLong("timeout"), .customLong("wait-timeout", withSingleDash: false)],
            help: "Seconds a replacement (or a depends_on condition) may take to become ready.")
    var timeout: Int = Defaults.timeout

    @Option(help: "Services applied at once within one depends_on layer.")
    var parallel: Int = Defaults.parallel

    @Option(help: "Seconds a container without healthcheck must run without restarting to count as ready.")
    var settle: Double = Defaults.settle

    @Flag(help: "Deploy the file as a swarm stack (services <project>_<service>) through the swarm API; the engine must be a swarm manager.")
    var swarm = false

    @Argument(help: "Only these services (and what they depend on).")
    var services: [String] = []

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    /// Option defaults, named once for the declarations above and `quickParse`.
    enum Defaults {
        static let output = OutputFormat.text
        static let timeout = 120
        static let parallel = 32
        static let settle = 1.0
    }

    func validate() throws {
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1") }
        guard timeout >= 1 else { throw ValidationError("--timeout must be at least 1 second") }
        if source.repo != nil && (!project.files.isEmpty || project.projectName != nil || project.projectDirectory != nil) {
            throw ValidationError("-f, -p and --project-directory name a compose project; with --repo the apps come from the repo's berth.yaml (pick them with --app)")
        }
        if swarm && source.repo != nil {
            throw ValidationError("--swarm is for -f files; in repo mode an app's `target: swarm` in berth.yaml deploys it as a stack")
        }
        if source.repo == nil && (source.ref != nil || !source.apps.isEmpty) {
            throw ValidationError("--ref and --app need --repo")
        }
    }

    func run() async throws {
        try await run(loaded: nil)
    }

    /// The compose project of a file-mode run (`-f`, no `--repo`), loaded before anything
    /// waits. `berth` calls this on the main thread while libcurl loads on the other core: no
    /// thread can start until that load ends (glibc holds its loader locks), so the files are
    /// read there rather than after a hop to the concurrency pool. A load error is kept for
    /// the point where the run would have loaded the files, so errors come in the same order.
    func loadFileProject(logger: Logger) -> Result<Project, any Error>? {
        guard source.repo == nil else { return nil }
        return Result { try project.load(services: services, logger: logger) }
    }

    /// Runs the command; `loaded` is what `loadFileProject` returned, if it was called.
    func run(loaded: Result<Project, any Error>?) async throws {
        let logger = Logger(label: "berth.reconcile")
        do {
            let status = try await reconcile(loaded: loaded, logger: logger)
            if status != 0 { throw ExitCode(status) }
        } catch let error as ExitCode {
            throw error
        } catch {
            Terminal.printError("\(error)")
            throw ExitCode.failure
        }
    }

    /// One compose project to converge, with how it was found.
    struct Target {
        var compose: Project
        var context: DesiredStateBuilder.Context
        var prune: Bool
        /// A swarm stack (`--swarm`, or `target: swarm` in berth.yaml).
        var swarm = false
    }

    struct ProjectResult {
        var plan: Plan
        var keptOrphans: [String]
        var result: Applier.Report?
    }

    private func targets(loaded: Result<Project, any Error>?, logger: Logger) async throws -> [Target] {
        let lock = try release.map(ReleaseLock.readPinned)
        func context(app: String?, commit: String?, files: [String]) -> DesiredStateBuilder.Context {
            let pinned = (lock != nil && (app == nil || lock?.app == app)) ? lock?.services.mapValues(\.image) ?? [:] : [:]
            let revision = lock.map(\.commit) ?? commit
            return DesiredStateBuilder.Context(pinnedImages: pinned, app: app ?? lock.map(\.app), revision: revision,
                                               release: revision.map { String($0.prefix(12)) }, configFiles: files)
        }
        guard let checkout = try await source.checkout(logger: logger) else {
            let compose = try loaded?.get() ?? project.load(services: services, logger: logger)
            if let lock, let unknown = lock.services.keys.first(where: { compose.service(named: $0) == nil }) {
                throw CLIError("release \(release ?? ""): service \(unknown) is not in project \(compose.name); was the lock built from these files?")
            }
            return [Target(compose: compose, context: context(app: nil, commit: nil, files: compose.configFiles), prune: prune ?? false,
                           swarm: swarm)]
        }
        var targets: [Target] = []
        for app in try checkout.selected(source.apps) {
            let compose = try AppLoader.load(app, root: checkout.root, services: services, logger: logger)
            targets.append(Target(compose: compose, context: context(app: app.name, commit: checkout.commit, files: compose.configFiles),
                                  prune: prune ?? app.prune, swarm: app.target == .swarm))
        }
        return targets
    }

    private func reconcile(loaded: Result<Project, any Error>?, logger: Logger) async throws -> Int32 {
        let engine = EngineClient(logger: logger)
        let builder = DesiredStateBuilder(images: ImageResolver(engine: engine, logger: logger), logger: logger)
        let reconciler = Reconciler(engine: engine, logger: logger)

        // Validate and resolve every project before touching any: a bad app changes nothing.
        var prepared: [(Plan, [String], @Sendable () async -> Applier.Report)] = []
        for target in try await targets(loaded: loaded, logger: logger) {
            if target.swarm {
                prepared.append(try await prepareSwarm(target, engine: engine, logger: logger))
                continue
            }
            // What runs is read while the images resolve: one round of calls.
            async let current = reconciler.actualState(project: target.compose.name)
            let desired = try await builder.build(target.compose, context: target.context)
            let actual = try await current
            try reconciler.validate(desired, actual: actual)
            // With only some services selected the project holds just those: the others' containers
            // are not orphans, and pruning would remove them.
            let planner = Planner(options: .init(prune: target.prune && services.isEmpty, pruneVolumes: pruneVolumes))
            let options = Applier.Options(waitTimeout: .seconds(timeout), settle: .milliseconds(Int(settle * 1000)),
                                          parallel: parallel)
            let text = output == .text
            let progress: @Sendable (Applier.Event) -> Void = { event in if text { LiveProgress.print(event) } }
            let applier = Applier(engine: engine, options: options, logger: logger, progress: progress)
            let plan = planner.plan(desired: desired, actual: actual)
            let orphans = services.isEmpty ? planner.keptOrphans(desired: desired, actual: actual) : []
            prepared.append((plan, orphans, { await applier.apply(plan, desired: desired) }))
        }
        let hasChanges = prepared.contains { $0.0.hasChanges }
        let changesStatus: Int32 = exitCode && hasChanges ? 2 : 0
        let renderer = PlanRenderer(colour: Terminal.colour)

        var results: [ProjectResult] = []
        var failed = false
        for (plan, orphans, apply) in prepared {
            if output == .text { print(renderer.text(plan, keptOrphans: orphans), terminator: "") }
            guard !dryRun, plan.hasChanges, !failed else {
                results.append(ProjectResult(plan: plan, keptOrphans: orphans, result: nil))
                continue
            }
            let start = ContinuousClock.now
            let report = await apply()
            results.append(ProjectResult(plan: plan, keptOrphans: orphans, result: report))
            if output == .text {
                for failure in report.failures {
                    print("  ✘ \(failure.action.kind.rawValue) \(failure.action.target): \(failure.error ?? "failed")")
                }
                let changes = report.outcomes.filter { (o: Applier.Outcome) in o.action.kind != Action.Kind.unchanged }
                let done = changes.filter(\.ok).count
                let elapsed = Self.seconds(ContinuousClock.now - start)
                if report.ok {
                    print("Applied \(done) change\(done == 1 ? "" : "s") in \(elapsed).")
                } else {
                    print("Failed: \(report.failures.count) of \(changes.count) changes; see above."
                          + (prepared.count > 1 ? " Later apps were left as they are." : ""))
                }
            }
            // Apps after a failed one may depend on it: leave them as they are.
            failed = !report.ok
        }
        if output == .json {
            print(PlanRenderer.json(results.map { ($0.plan, $0.keptOrphans, $0.result) }, dryRun: dryRun))
        }
        return failed ? 1 : changesStatus
    }

    static func seconds(_ d: Duration) -> String {
        Number.fixed(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18, digits: 1) + "s"
    }
}

extension ReleaseLock {
    /// Reads a lock and refuses an image that is not pinned (by digest, or by local image ID).
    static func readPinned(_ path: String) throws -> ReleaseLock {
        let lock = try ReleaseLock.read(from: path)
        for (service, entry) in lock.services where !entry.image.contains("@sha256:") && !entry.image.hasPrefix("sha256:") {
            throw CLIError("release lock \(path): services.\(service).image \"\(entry.image)\" is not pinned by digest (repo@sha256:…)")
        }
        return lock
    }
}
