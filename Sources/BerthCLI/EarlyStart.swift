import Engine
import Foundation
import Logging
import Reconcile

/// The engine reads a `berth reconcile -p NAME` sends as soon as libcurl is loaded, from its
/// raw command line, while ArgumentParser is still parsing it (a third of a no-op run: type
/// metadata and conformance look-ups over the whole binary) and the files load.
///
/// Only a command line made of arguments listed here is guessed at. The command adopts the
/// reads only when what ArgumentParser parsed names the same project and target; otherwise it
/// sends its own. A wrong guess can cost time, never change a result.
final class EarlyStart: Sendable {
    /// What the raw arguments ask for, as far as reading the engine goes.
    struct Guess: Equatable, Sendable {
        var projectName: String?
        var swarm = false
    }

    /// Made on first use: by the libcurl preload thread once the library is ready, or by the
    /// command; nil unless the command line is a `reconcile` the guess understands.
    static let current: EarlyStart? = guess(Array(CommandLine.arguments.dropFirst())).map(EarlyStart.init)

    let guess: Guess
    let engine: EngineClient
    private let logger: Logger
    private let reads = Promise<EarlyState>()

    private init(_ guess: Guess) {
        self.guess = guess
        logger = Logger(label: "berth.reconcile")
        engine = EngineClient(logger: logger)
    }

    /// Sends the engine reads; called once libcurl is ready: their tasks need threads, and no
    /// thread can start while the library loads (glibc holds the loader's locks).
    func libraryReady() {
        reads.fulfil(.success(EarlyState(name: guess.projectName, swarm: guess.swarm, engine: engine, logger: logger)))
    }

    /// The engine reads, once they were sent.
    func state() async -> EarlyState? { try? await reads.value() }

    /// These reads, if they were sent for what the command parsed.
    func matching(_ parsed: Guess) -> EarlyStart? { parsed == guess && guess.projectName != nil ? self : nil }

    /// Reads `reconcile`'s arguments the way ArgumentParser will, for the arguments listed;
    /// nil for anything else.
    static func guess(_ arguments: [String]) -> Guess? {
        guard arguments.first == "reconcile" else { return nil }
        var guess = Guess()
        var rest = arguments.dropFirst()[...]
        let ignoredFlags: Set = ["--swarm", "--dry-run", "--exit-code", "--prune", "--no-prune", "--prune-volumes"]
        let ignoredOptions: Set = ["-f", "--file", "--project-directory", "--env-file", "--profile", "--timeout", "--wait-timeout",
                                   "--parallel", "--settle", "--output", "--release"]
        while let argument = rest.popFirst() {
            if !argument.hasPrefix("-") { continue }  // a service to select
            if ignoredFlags.contains(argument) {
                if argument == "--swarm" { guess.swarm = true }
                continue
            }
            let name: String
            let value: String
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            } else {
                guard let next = rest.popFirst(), !next.hasPrefix("-") else { return nil }
                name = argument
                value = next
            }
            switch name {
            case "-p", "--project-name": guess.projectName = value
            default: if !ignoredOptions.contains(name) { return nil }
            }
        }
        return guess
    }
}

/// A result a plain thread hands to async code.
final class Promise<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<Value, any Error>?
    private var waiters: [CheckedContinuation<Value, any Error>] = []

    func fulfil(_ result: Result<Value, any Error>) {
        let waiting = lock.withLock {
            self.result = result
            defer { waiters = [] }
            return waiters
        }
        for waiter in waiting { waiter.resume(with: result) }
    }

    func value() async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<Value, any Error>? = lock.withLock {
                if result == nil { waiters.append(continuation) }
                return result
            }
            if let ready { continuation.resume(with: ready) }
        }
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
