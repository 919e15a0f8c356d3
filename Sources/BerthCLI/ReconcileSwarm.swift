import Engine
import Foundation
import Logging
import Reconcile

extension ReconcileCommand {
    /// The swarm target's plan for one stack: resolve and validate everything (the engine
    /// must be a swarm manager), plan, and hand back how to apply it.
    func prepareSwarm(_ target: Target, engine: EngineClient, early: EarlyState.SwarmReads?, logger: Logger) async throws
        -> (Plan, [String], @Sendable () async -> Applier.Report)
    {
        let reconciler = SwarmReconciler(engine: engine, logger: logger)
        // The manager check, the swarm's state and the stack's images in one round of calls
        // (the first two already asked when the name was known before loading).
        let reads = early ?? EarlyState.SwarmReads(reconciler: reconciler, stack: target.compose.name)
        let stack = try await SwarmStackBuilder(engine: engine, logger: logger).build(target.compose, context: target.context)
        try await reads.manager.value
        let actual = try await reads.state.value
        for warning in stack.warnings {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        try reconciler.validate(stack, actual: actual)
        // With only some services selected the others are not orphans.
        let planner = SwarmPlanner(options: .init(prune: target.prune && services.isEmpty))
        let plan = planner.plan(desired: stack, actual: actual)
        let applier = SwarmApplier(engine: engine, options: .init(waitTimeout: .seconds(timeout)), logger: logger)
        let orphans = services.isEmpty ? planner.keptOrphans(desired: stack, actual: actual) : []
        return (plan, orphans, { await applier.apply(plan, stack: stack, actual: actual) })
    }
}
