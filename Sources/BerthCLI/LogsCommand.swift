import ArgumentParser
import Engine
import FoundationEssentials
import Platform
import Glibc
import Logging
import Reconcile

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Show the logs of a project's containers, interleaved and prefixed by container.",
        discussion: """
        Streams each container's log over the engine API and prints lines as they come, \
        prefixed by the container name (coloured on a terminal). Stop --follow with Ctrl-C.

        Examples:
          berth logs -p web
          berth logs -p web web --tail 20 --follow
        """)

    @OptionGroup var project: ProjectArguments

    @Flag(name: .customLong("follow"), help: "Keep streaming new lines (-f is --file here, as in every berth command).")
    var follow = false

    @Option(help: "Lines from the end of each log (default: all).")
    var tail: Int?

    @Flag(name: [.customShort("t"), .customLong("timestamps")], help: "Show the engine's timestamps.")
    var timestamps = false

    @Argument(help: "Only these services.")
    var services: [String] = []

    func run() async throws {
        let logger = Logger(label: "berth.logs")
        do {
            let name = try project.projectName(logger: logger)
            let engine = EngineClient(logger: logger)
            let containers = try await engine.listContainers(all: true, filters: ["label": ["\(Labels.project)=\(name)"]])
                .filter { services.isEmpty || services.contains($0.labels?[Labels.service] ?? "") }
                .sorted { ($0.name ?? "") < ($1.name ?? "") }
            guard !containers.isEmpty else {
                Terminal.printError("no containers for project \(name)\(services.isEmpty ? "" : " and services \(services.joined(separator: ", "))")")
                throw ExitCode.failure
            }
            let width = containers.map { ($0.name ?? "").count }.max() ?? 0
            let colour = Terminal.colour
            let options = LogOptions(follow: follow, timestamps: timestamps, tail: tail.map(String.init))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, container) in containers.enumerated() {
                    let label = (container.name ?? container.id).fitted(to: width)
                    let prefix = colour ? "\u{1B}[\(31 + index % 6)m\(label) |\u{1B}[0m " : "\(label) | "
                    group.addTask {
                        let tty = try await engine.inspectContainer(container.id).config?.tty ?? false
                        var pending = ""
                        for try await frame in try await engine.logs(container.id, options: options, tty: tty) {
                            pending += frame.text
                            while let newline = pending.firstIndex(of: "\n") {
                                Output.line(prefix + pending[..<newline])
                                pending.removeSubrange(...newline)
                            }
                        }
                        if !pending.isEmpty { Output.line(prefix + pending) }
                    }
                }
                try await group.waitForAll()
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            Terminal.printError("\(error)")
            throw ExitCode.failure
        }
    }
}

/// Whole lines to stdout, one write each, so concurrent streams never interleave mid-line.
enum Output {
    static let lock = Lock()
    static func line(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        File.standardOutput.write(Data((text + "\n").utf8))
    }
}
