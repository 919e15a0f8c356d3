import ArgumentParser
import Compose
import FoundationEssentials
import Platform
import Glibc
import Logging

/// The compose flags every project command shares, spelled as `docker compose` spells them.
struct ProjectArguments: ParsableArguments {
    @Option(name: [.customShort("f"), .customLong("file")], help: "Compose file to load; repeat to merge several.")
    var files: [String] = []

    @Option(name: [.customShort("p"), .customLong("project-name")],
            help: "Project name (default: COMPOSE_PROJECT_NAME, `name:`, or the folder).")
    var projectName: String?

    @Option(name: .customLong("project-directory"),
            help: "Directory relative paths are resolved against (default: the first file's folder).")
    var projectDirectory: String?

    @Option(name: .customLong("env-file"), help: "Variables file used instead of the project's .env; repeatable.")
    var envFiles: [String] = []

    @Option(name: .customLong("profile"), help: "Profile to enable; repeatable (default: COMPOSE_PROFILES).")
    var profiles: [String] = []

    func options(services: [String] = []) -> ProjectOptions {
        ProjectOptions(files: files, projectDirectory: projectDirectory, projectName: projectName,
                       profiles: profiles, envFiles: envFiles, services: services)
    }

    /// Loads the project or prints the loader's file:line:column error and exits 1.
    func load(services: [String] = [], logger: Logger) throws -> Project {
        do {
            return try ProjectLoader.load(options(services: services), logger: logger)
        } catch {
            throw CLIError(error.description)
        }
    }
}

/// An error already worded for the user: printed as `error: …`, exit status 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

package enum Terminal {
    static var stdoutIsTTY: Bool { isatty(STDOUT_FILENO) == 1 }
    static var colour: Bool { stdoutIsTTY && ProcessInfo.processInfo.environment["NO_COLOR"] == nil }

    package static func printError(_ message: String) {
        File.standardError.write(Data("error: \(message)\n".utf8))
    }
}

/// Settings read from the environment (`BERTH_*`); an empty value counts as unset.
package enum BerthEnvironment {
    package static func value(_ key: String, in environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        environment[key].flatMap { $0.isEmpty ? nil : $0 }
    }
}
