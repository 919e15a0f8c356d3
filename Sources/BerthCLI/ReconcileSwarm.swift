import Engine
import FoundationEssentials
import Platform
import Glibc
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
        let (stack, actual) = try await reconciler.read(target.compose, context: target.context, prune: prune)
        for warning in stack.warnings {
            File.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        try reconciler.validate(stack, actual: actual)
        let planner = SwarmPlanner(options: .init(prune: prune))
        let plan = planner.plan(desired: stack, actual: actual)
        let applier = SwarmApplier(engine: engine, options: .init(waitTimeout: .seconds(timeout)), logger: logger)
        let orphans = services.isEmpty ? planner.keptOrphans(desired: stack, actual: actual) : []
        return (plan, orphans, { await applier.apply(plan, stack: stack, actual: actual) })
    }
}
