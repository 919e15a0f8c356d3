import ArgumentParser
import Curl
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

/// A subcommand that makes HTTP requests (to the engine, a registry or a `berth serve`), all
/// of which go through libcurl.
protocol RequestingCommand {}

extension ReconcileCommand: RequestingCommand {}
extension BuildCommand: RequestingCommand {}
extension PushCommand: RequestingCommand {}
extension AuditCommand: RequestingCommand {}
extension PsCommand: RequestingCommand {}
extension LogsCommand: RequestingCommand {}
extension ServeCommand: RequestingCommand {}
extension StatusCommand: RequestingCommand {}
extension HistoryCommand: RequestingCommand {}
extension SyncCommand: RequestingCommand {}
extension RollbackCommand: RequestingCommand {}
extension SuspendCommand: RequestingCommand {}
extension ResumeCommand: RequestingCommand {}
extension Doctor: RequestingCommand {}

/// Entry point for the `berth` executable: bootstraps logging once, then runs the command.
public func run() async {
    // libcurl is opened on first use; for a command that will need it, start that now on the
    // other core, while the arguments and compose files are parsed.
    if let word = CommandLine.arguments.dropFirst().first(where: { !$0.hasPrefix("-") }),
       let command = Berth.configuration.subcommands.first(where: { $0.configuration.commandName == word }),
       command is any RequestingCommand.Type {
        CurlLibrary.preload()
    }
    let level = ProcessInfo.processInfo.environment["BERTH_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
    do {
        var command = try await Berth.asyncParseAsRoot()
        if var asyncCommand = command as? any AsyncParsableCommand {
            try await asyncCommand.run()
        } else {
            try command.run()
        }
        finish(status: 0)
    } catch {
        // What `Berth.exit(withError:)` prints: help and --version on stdout, errors on stderr.
        let status = Berth.exitCode(for: error).rawValue
        let text = Berth.fullMessage(for: error)
        if !text.isEmpty {
            if status == 0 { print(text) } else { FileHandle.standardError.write(Data((text + "\n").utf8)) }
        }
        finish(status: status)
    }
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
