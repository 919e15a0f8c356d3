import Compose
import Engine
import Foundation
import GitSource
import Logging
import Reconcile
import RepoApps

/// Converges the host to one app of a repo at one commit: load → build + push → desired → plan
/// → apply, on the compose target (this host) or the swarm target (`target: swarm`).
/// Everything is validated, built and resolved before anything changes, so a bad commit
/// changes nothing.
public struct Deployer: Sendable {
    public struct Options: Sendable {
        /// Overrides each app's `prune` from berth.yaml when set.
        public var prune: Bool?
        public var waitTimeout: Duration
        public var settle: Duration
        public init(prune: Bool? = nil, waitTimeout: Duration = .seconds(120), settle: Duration = .seconds(1)) {
            self.prune = prune
            self.waitTimeout = waitTimeout
            self.settle = settle
        }
    }

    public struct Result: Sendable {
        public var plan: Plan
        /// nil when the plan had no changes (or for a dry run).
        public var report: Applier.Report?
        /// Service → what it runs, for the release record: the digest reference
        /// (`repo@sha256:…`) when there is one, else the image ID.
        public var images: [String: String]
        /// The build step's figures; nil when nothing was built (no `build:`, building off, or a rollback).
        public var build: ReleaseBuilder.Output?
        public var changes: Int { plan.actions.filter { $0.kind != .unchanged }.count }
    }

    let engine: EngineClient
    let options: Options
    /// Builds services with `build:` before each deploy; nil deploys their `image:` as it is.
    let builder: ReleaseBuilder?
    /// Where the repo comes from, for the images' `org.opencontainers.image.source` label.
    let source: String
    let logger: Logger

    public init(engine: EngineClient, options: Options = Options(), builder: ReleaseBuilder? = nil, source: String = "",
                logger: Logger) {
        self.engine = engine
        self.options = options
        self.builder = builder
        self.source = source
        self.logger = logger
    }

    /// - Parameter pinnedImages: service → image ID or digest reference, winning over `image:`
    ///   and over building (a rollback runs exactly the images its release ran).
    public func deploy(_ app: AppConfig, checkout: RepoCheckout, pinnedImages: [String: String] = [:],
                       dryRun: Bool = false) async throws -> Result {
        let project = try AppLoader.load(app, root: checkout.root, logger: logger)
        var pinned = pinnedImages.filter { project.service(named: $0.key) != nil }
        var buildOutput: ReleaseBuilder.Output?
        if let builder, ReleaseBuilder.hasBuilds(project), !dryRun {
            let output = try await builder.build(project, app: app.name, checkout: checkout, source: source,
                                                 skipping: Set(pinned.keys))
            for (service, image) in output.images { pinned[service] = image }
            if !output.images.isEmpty { buildOutput = output }
        }
        let context = DesiredStateBuilder.Context(pinnedImages: pinned, app: app.name, revision: checkout.commit,
                                                  release: String(checkout.commit.prefix(12)), configFiles: project.configFiles)
        var result: Result
        if app.target == .swarm {
            result = try await deploySwarm(app, project: project, context: context, dryRun: dryRun)
        } else {
            result = try await deployCompose(app, project: project, context: context, dryRun: dryRun)
        }
        result.build = buildOutput
        return result
    }

    private func deployCompose(_ app: AppConfig, project: Project, context: DesiredStateBuilder.Context,
                               dryRun: Bool) async throws -> Result {
        let builder = DesiredStateBuilder(images: ImageResolver(engine: engine, logger: logger), logger: logger)
        let reconciler = Reconciler(engine: engine, logger: logger)
        let desired = try await builder.build(project, context: context)
        let actual = try await reconciler.actualState(project: desired.name)
        try reconciler.validate(desired, actual: actual)
        let plan = Planner(options: .init(prune: options.prune ?? app.prune)).plan(desired: desired, actual: actual)
        let images = Dictionary(desired.services.map { ($0.name, Self.recorded(id: $0.spec.image, reference: $0.spec.imageReference)) },
                                uniquingKeysWith: { a, _ in a })
        guard plan.hasChanges, !dryRun else { return Result(plan: plan, report: nil, images: images) }
        let report = await Applier(engine: engine, options: .init(waitTimeout: options.waitTimeout, settle: options.settle),
                                   logger: logger).apply(plan, desired: desired)
        return Result(plan: plan, report: report, images: images)
    }

    /// The stack path, as `berth reconcile` takes it for `target: swarm`: the engine must be a
    /// swarm manager; services are `<stack>_<service>`; a swarm rollback is a failed deploy.
    private func deploySwarm(_ app: AppConfig, project: Project, context: DesiredStateBuilder.Context,
                             dryRun: Bool) async throws -> Result {
        let reconciler = SwarmReconciler(engine: engine, logger: logger)
        let prune = options.prune ?? app.prune
        let (stack, actual) = try await reconciler.read(project, context: context, prune: prune)
        for warning in stack.warnings { logger.warning("\(app.name): \(warning)") }
        try reconciler.validate(stack, actual: actual)
        let plan = SwarmPlanner(options: .init(prune: prune)).plan(desired: stack, actual: actual)
        var images: [String: String] = [:]
        for service in stack.services {
            let reference = service.spec.taskTemplate?.containerSpec?.image ?? ""
            images[service.key] = Self.recorded(id: service.spec.taskTemplate?.containerSpec?.labels?[SwarmLabels.imageID] ?? reference,
                                                reference: reference)
        }
        guard plan.hasChanges, !dryRun else { return Result(plan: plan, report: nil, images: images) }
        let report = await SwarmApplier(engine: engine, options: .init(waitTimeout: options.waitTimeout), logger: logger)
            .apply(plan, stack: stack, actual: actual)
        return Result(plan: plan, report: report, images: images)
    }

    /// A digest reference names the bytes anywhere; an image ID only on this host.
    static func recorded(id: String, reference: String) -> String {
        reference.contains("@sha256:") ? reference : id
    }
}
