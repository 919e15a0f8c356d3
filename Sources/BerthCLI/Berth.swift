import ArgumentParser
import Foundation
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
                      PsCommand.self, LogsCommand.self, ServeCommand.self, StatusCommand.self, HistoryCommand.self,
                      SyncCommand.self, RollbackCommand.self, SuspendCommand.self, ResumeCommand.self, Doctor.self,
                      FetchCommand.self]
    )

    public init() {}
}

public enum BerthVersion {
    public static let string = "0.1.0"
}

/// Entry point for the `berth` executable: bootstraps logging once, then runs the command.
public func run() async {
    let level = ProcessInfo.processInfo.environment["BERTH_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
    await Berth.main()
}
