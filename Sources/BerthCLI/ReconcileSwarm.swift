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
        return (plan, planner.keptOrphans(desired: stack, actual: actual), { await applier.apply(plan, stack: stack, actual: actual) })
    }
}

/// Engine reads started as soon as the project name is known (`-p`), before the files load.
struct EarlyState {
    /// The swarm's manager check and the stack's state, in flight.
    struct SwarmReads {
        let manager: Task<Void, any Error>
        let state: Task<SwarmActualState, any Error>

        init(reconciler: SwarmReconciler, stack: String) {
            manager = Task { try await reconciler.requireManager() }
            state = Task { try await reconciler.actualState(stack: stack) }
        }
    }

    let name: String?
    private let swarmReads: SwarmReads?
    private let composeState: Task<ActualState, any Error>?

    init(name: String?, swarm: Bool, engine: EngineClient, logger: Logger) {
        self.name = name
        guard let name else {
            swarmReads = nil
            composeState = nil
            return
        }
        if swarm {
            swarmReads = SwarmReads(reconciler: SwarmReconciler(engine: engine, logger: logger), stack: name)
            composeState = nil
        } else {
            swarmReads = nil
            let reconciler = Reconciler(engine: engine, logger: logger)
            composeState = Task { try await reconciler.actualState(project: name) }
        }
    }

    /// The reads for this stack, if they were started for it.
    func swarm(_ stack: String) -> SwarmReads? { stack == name ? swarmReads : nil }

    /// This project's containers, networks and volumes, if they were asked for it early.
    func compose(_ project: String) async throws -> ActualState? {
        guard project == name, let composeState else { return nil }
        return try await composeState.value
    }
}
