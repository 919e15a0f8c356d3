import Engine
import Foundation
import Logging
import Reconcile

extension ReconcileCommand {
    /// The swarm target's plan for one stack: resolve and validate everything (the engine
    /// must be a swarm manager), plan, and hand back how to apply it.
    func prepareSwarm(_ target: Target, engine: EngineClient, logger: Logger) async throws
        -> (Plan, [String], @Sendable () async -> Applier.Report)
    {
        let reconciler = SwarmReconciler(engine: engine, logger: logger)
        // With only some services selected the others are not orphans.
        let prune = target.prune && services.isEmpty
        // The swarm's state and the stack's images in one round of calls; an engine that is no
        // manager is reported before a missing image. Secrets and configs are listed only
        // when the plan looks at them, the networks only when the services do not prove them.
        async let current = reconciler.actualState(stack: target.compose.name, networks: false,
                                                   secrets: prune || !target.compose.secrets.isEmpty,
                                                   configs: prune || !target.compose.configs.isEmpty)
        async let built = SwarmStackBuilder(engine: engine, logger: logger).build(target.compose, context: target.context)
        var read = try await current
        let stack = try await built
        read.networks = try await reconciler.networks(for: stack, actual: read)
        let actual = read
        for warning in stack.warnings {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        try reconciler.validate(stack, actual: actual)
        let planner = SwarmPlanner(options: .init(prune: prune))
        let plan = planner.plan(desired: stack, actual: actual)
        let applier = SwarmApplier(engine: engine, options: .init(waitTimeout: .seconds(timeout)), logger: logger)
        let orphans = services.isEmpty ? planner.keptOrphans(desired: stack, actual: actual) : []
        return (plan, orphans, { await applier.apply(plan, stack: stack, actual: actual) })
    }
}
