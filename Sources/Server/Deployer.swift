import Compose
import Engine
import Foundation
import GitSource
import Logging
import Reconcile

/// Converges the host to one app of a repo at one commit: load → desired → plan → apply.
/// Everything is validated and resolved before anything changes, so a bad commit changes nothing.
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
        /// Service → image ID each container runs, for the release record.
        public var images: [String: String]
        public var changes: Int { plan.actions.filter { $0.kind != .unchanged }.count }
    }

    let engine: EngineClient
    let options: Options
    let logger: Logger

    public init(engine: EngineClient, options: Options = Options(), logger: Logger) {
        self.engine = engine
        self.options = options
        self.logger = logger
    }

    /// - Parameter pinnedImages: service → image ID or digest reference, winning over `image:`
    ///   (a rollback runs exactly the images its release ran).
    public func deploy(_ app: AppConfig, checkout: RepoCheckout, pinnedImages: [String: String] = [:],
                       dryRun: Bool = false) async throws -> Result {
        if app.target == .swarm {
            throw ServerError("app \(app.name) has target: swarm, which this version of Berth does not deploy yet; nothing was changed")
        }
        let project = try AppLoader.load(app, root: checkout.root, logger: logger)
        let context = DesiredStateBuilder.Context(pinnedImages: pinnedImages.filter { project.service(named: $0.key) != nil },
                                                  app: app.name, revision: checkout.commit,
                                                  release: String(checkout.commit.prefix(12)), configFiles: project.configFiles)
        let builder = DesiredStateBuilder(images: ImageResolver(engine: engine, logger: logger), logger: logger)
        let reconciler = Reconciler(engine: engine, logger: logger)
        let desired = try await builder.build(project, context: context)
        let actual = try await reconciler.actualState(project: desired.name)
        try reconciler.validate(desired, actual: actual)
        let plan = Planner(options: .init(prune: options.prune ?? app.prune)).plan(desired: desired, actual: actual)
        let images = Dictionary(desired.services.map { ($0.name, $0.spec.image) }, uniquingKeysWith: { a, _ in a })
        guard plan.hasChanges, !dryRun else { return Result(plan: plan, report: nil, images: images) }
        let report = await Applier(engine: engine, options: .init(waitTimeout: options.waitTimeout, settle: options.settle),
                                   logger: logger).apply(plan, desired: desired)
        return Result(plan: plan, report: report, images: images)
    }
}
