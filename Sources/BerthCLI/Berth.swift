import ArgumentParser
import Curl
import FoundationEssentials
import Platform
import Glibc
import Logging

/// The `berth` root command. Each subcommand lives in its own file.
public struct Berth: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "Keep Docker hosts in the state a git repository describes.",
        discussion: """
        Berth builds the images of a repo of Dockerfiles and compose files inside build \
        containers, pushes them to a registry, and converges the host's containers to the repo: \
        never patching a container, always replacing it with one from a digest-pinned image.

        Start with `berth doctor` to check this host.
        """,
        version: BerthVersion.string,
        subcommands: [ConfigCommand.self, BuildCommand.self, PushCommand.self, AuditCommand.self, ReconcileCommand.self,
                      PsCommand.self, LogsCommand.self, ServeLauncher.self, StatusCommand.self, HistoryCommand.self,
                      SyncCommand.self, RollbackCommand.self, SuspendCommand.self, ResumeCommand.self, Doctor.self,
                      FetchCommand.self]
    )

    public init() {}
}

public enum BerthVersion {
    public static let string = "0.1.0"
}

/// Entry point for the `berth` executable, part one, called first thing in `main`: bootstraps
/// logging once. libcurl is already loading by then, for a command that makes requests: the
/// executable's CBerthPreload starts that before `main` (Sources/CBerthPreload/berth_preload.c).
public func start() {
    bootstrapLogging()
}

/// Log lines go to stderr, at BERTH_LOG_LEVEL (default warning). Call once, first thing.
public func bootstrapLogging() {
    // getenv, not ProcessInfo: building its environment dictionary first costs ~0.5 ms here.
    let level = getenv("BERTH_LOG_LEVEL").flatMap { Logger.Level(rawValue: String(cString: $0)) } ?? .warning
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

/// Entry point for the `berth` executable, part two (after `start()`): parses and runs the
/// command, and ends the process. The parse runs here on the main thread: the concurrency
/// pool's threads start on first use, and none can start while libcurl is being loaded on the
/// other core. So does a reconcile's file load, when its command line is one `quickParse` reads.
public func run() -> Never {
    do {
        let arguments = Array(CommandLine.arguments.dropFirst())
        // Before ArgumentParser sees them: `--help` and every error are berth-serve's to word.
        if arguments.first == ServeLauncher.commandName {
            try ServeLauncher.exec(Array(arguments.dropFirst()))
        }
        if arguments.count >= 2, arguments[0] == "help", arguments[1] == ServeLauncher.commandName {
            try ServeLauncher.exec(["--help"])
        }
        if let reconcile = ReconcileCommand.quickParse(arguments) {
            let loaded = reconcile.loadFileProject(logger: Logger(label: "berth.reconcile"))
            launchOnThisThread { try await reconcile.run(loaded: loaded) }
        }
        var command = try Berth.parseAsRoot()
        if let reconcile = command as? ReconcileCommand {
            launchOnThisThread { try await reconcile.run(loaded: nil) }
        } else if let asyncCommand = command as? any AsyncParsableCommand {
            launch {
                var command = asyncCommand
                try await command.run()
            }
        } else {
            try command.run()
            finish(status: 0)
        }
    } catch {
        fail(error)
    }
}

/// Runs an async command on the concurrency pool and parks the main thread; the command ends
/// the process (`runToEnd`). Not Swift's async `main`: that parks the main thread in `dispatch_main`,
/// whose `pthread_exit` makes glibc dlopen libgcc_s to unwind it, and that load waited for
/// libcurl's and then held the loader lock while the first requests' threads started. Nothing
/// in `berth` runs on the main actor.
func launch(_ body: sending @escaping () async throws -> Void) -> Never {
    Task.detached { await runToEnd(body) }
    while true { pause() }
}

/// Runs a reconcile on the main thread, child tasks and actors included (a task executor
/// preference), with its requests on their own threads as always: a reconcile waits on the
/// engine more than it computes. On the concurrency pool, the first of its threads could only
/// start once libcurl had loaded (glibc holds its loader locks meanwhile), then had to set the
/// pool up, and the command reached its first request ~1–2 ms after libcurl was ready; here it
/// gets there while libcurl loads, and its request threads start the moment the load ends.
/// Unstructured tasks it makes still run on the pool.
func launchOnThisThread(_ body: sending @escaping () async throws -> Void) -> Never {
    let executor = ThreadExecutor()
    Task(executorPreference: executor) { await runToEnd(body) }
    executor.run()
}

/// A task executor whose jobs run on the thread that calls `run()`, in the order they came.
final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = Condition()
    private var jobs: [UnownedJob] = []

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    func run() -> Never {
        while true { runOnce() }
    }

    /// Waits for jobs, then runs the ones that came (tests stop once their task is done).
    func runOnce() {
        condition.lock()
        while jobs.isEmpty { condition.wait() }
        let batch = jobs
        jobs.removeAll(keepingCapacity: true)
        condition.unlock()
        for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
    }
}

/// Runs an async command and ends the process on the thread it finishes on.
func runToEnd(_ body: () async throws -> Void) async -> Never {
    do {
        try await body()
        finish(status: 0)
    } catch {
        fail(error)
    }
}

/// What `Berth.exit(withError:)` prints (help and --version on stdout, errors on stderr), and
/// its exit status.
func fail(_ error: any Error) -> Never {
    let status = Berth.exitCode(for: error).rawValue
    let text = Berth.fullMessage(for: error)
    if !text.isEmpty {
        if status == 0 { print(text) } else { File.standardError.write(Data((text + "\n").utf8)) }
    }
    finish(status: status)
}

/// Ends the process without libc's exit handlers. Work started early (libcurl opening on
/// another thread, engine reads sent before the files were parsed) may still be running when
/// a command fails fast, and `exit` would tear down OpenSSL under it: `OPENSSL_cleanup` racing
/// `curl_global_init` crashed ~1 run in 15 of `reconcile -p x -f missing.yaml`. Nothing Berth
/// keeps needs those handlers: files and the state database are written through by then.
func finish(status: Int32) -> Never {
    fflush(nil)
    _exit(status)
}

