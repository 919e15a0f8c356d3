import Compose
import Engine
import Foundation
import Logging
import Reconcile

/// Work a `berth reconcile` starts from its raw command line, while ArgumentParser is still
/// parsing it: loading the compose files and, with -p, asking the engine what runs. Parsing
/// the reconcile command is a third of a no-op run (type metadata and conformance look-ups
/// over the whole binary), and the file load would otherwise wait for it.
///
/// Only a command line made of arguments listed here is guessed at. The command adopts the
/// work only when what ArgumentParser parsed asks for exactly the same project; otherwise it
/// does the work again. A wrong guess can cost time, never change a result.
final class EarlyStart: Sendable {
    /// What the raw arguments ask for, as far as loading the project and reading the engine go.
    struct Guess: Equatable, Sendable {
        var files: [String] = []
        var projectName: String?
        var projectDirectory: String?
        var envFiles: [String] = []
        var profiles: [String] = []
        var services: [String] = []
        var swarm = false
    }

    /// Started on first use: `run()` touches it before parsing when the command is `reconcile`.
    static let current: EarlyStart? = guess(Array(CommandLine.arguments.dropFirst())).map(EarlyStart.init)

    let guess: Guess
    let engine: EngineClient
    let state: EarlyState
    private let project: Task<Project, any Error>
    private let log: LogCapture

    private init(_ guess: Guess) {
        self.guess = guess
        let logger = Logger(label: "berth.reconcile")
        engine = EngineClient(logger: logger)
        state = EarlyState(name: guess.projectName, swarm: guess.swarm, engine: engine, logger: logger)
        let log = LogCapture()
        self.log = log
        let options = ProjectArguments.options(files: guess.files, projectDirectory: guess.projectDirectory,
                                               projectName: guess.projectName, envFiles: guess.envFiles,
                                               profiles: guess.profiles, services: guess.services)
        project = Task.detached { try ProjectLoader.load(options, logger: log.logger(label: "berth.reconcile")) }
    }

    /// This work, if it was started for exactly what the command parsed.
    func matching(_ parsed: Guess) -> EarlyStart? { parsed == guess ? self : nil }

    /// The loaded project, its warnings passed on to `logger`; nil when loading failed (the
    /// command loads again and reports the error as it always does).
    func loadedProject(logger: Logger) async -> Project? {
        guard let project = try? await project.value else { return nil }
        log.replay(into: logger)
        return project
    }

    /// Reads `reconcile`'s arguments the way ArgumentParser will, for the arguments listed;
    /// nil for anything else.
    static func guess(_ arguments: [String]) -> Guess? {
        guard arguments.first == "reconcile" else { return nil }
        var guess = Guess()
        var rest = arguments.dropFirst()[...]
        let ignoredFlags: Set = ["--swarm", "--dry-run", "--exit-code", "--prune", "--no-prune", "--prune-volumes"]
        let ignoredOptions: Set = ["--timeout", "--wait-timeout", "--parallel", "--settle", "--output", "--release"]
        while let argument = rest.popFirst() {
            if !argument.hasPrefix("-") {
                guess.services.append(argument)
                continue
            }
            if ignoredFlags.contains(argument) {
                if argument == "--swarm" { guess.swarm = true }
                continue
            }
            var name = argument
            var value: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            }
            if value == nil {
                guard let next = rest.popFirst(), !next.hasPrefix("-") else { return nil }
                value = next
            }
            guard let value else { return nil }
            switch name {
            case "-f", "--file": guess.files.append(value)
            case "-p", "--project-name": guess.projectName = value
            case "--project-directory": guess.projectDirectory = value
            case "--env-file": guess.envFiles.append(value)
            case "--profile": guess.profiles.append(value)
            default: if !ignoredOptions.contains(name) { return nil }
            }
        }
        return guess
    }
}

/// Log entries held back until the work that logged them is adopted.
final class LogCapture: @unchecked Sendable {
    struct Entry {
        var level: Logger.Level
        var message: Logger.Message
        var metadata: Logger.Metadata?
        var source: String
        var file: String
        var function: String
        var line: UInt
    }

    private let lock = NSLock()
    private var entries: [Entry] = []

    func logger(label: String) -> Logger {
        Logger(label: label) { _ in Handler(capture: self) }
    }

    func replay(into logger: Logger) {
        let held = lock.withLock { entries }
        for e in held {
            logger.log(level: e.level, e.message, metadata: e.metadata, source: e.source, file: e.file, function: e.function, line: e.line)
        }
    }

    fileprivate func append(_ entry: Entry) { lock.withLock { entries.append(entry) } }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
                 file: String, function: String, line: UInt) {
            let merged = self.metadata.isEmpty ? metadata : self.metadata.merging(metadata ?? [:]) { $1 }
            capture.append(Entry(level: level, message: message, metadata: merged, source: source, file: file,
                                 function: function, line: line))
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
