import ArgumentParser
import Compose
import Foundation
import Logging

/// `berth config`: load compose files exactly as Docker Compose does and print the result.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Validate compose files and print the normalized project, like `docker compose config`.",
        discussion: """
        The files are read the way Docker Compose reads them: variables are interpolated from \
        the environment and the project's .env (or --env-file), `extends` and `include` are \
        applied, several -f files are merged in order (with !reset and !override), profiles \
        select services, and short syntax is turned into long syntax. Any problem is reported \
        as file:line:column with the attribute path, and the command exits with status 1.

        Without -f, compose.yaml (or docker-compose.yml) is searched for in the current \
        directory and its parents, and compose.override.yaml next to it is merged on top.

        Examples:
          berth config                          print the project of this folder
          berth config -q                       only validate; exit status tells
          berth config -f compose.yaml -f prod.yaml --profile debug
          berth config --services               list service names, one per line
          berth config --format json -p shop    JSON, with project name "shop"
          berth config --env-file ci.env --project-directory apps/web
        """)

    @Option(name: [.customShort("f"), .customLong("file")], help: "Compose file to load; repeat to merge several.")
    var files: [String] = []

    @Option(name: [.customShort("p"), .customLong("project-name")], help: "Project name (default: COMPOSE_PROJECT_NAME, `name:`, or the folder).")
    var projectName: String?

    @Option(name: .customLong("project-directory"), help: "Directory relative paths are resolved against (default: the first file's folder).")
    var projectDirectory: String?

    @Option(name: .customLong("env-file"), help: "Variables file used instead of the project's .env; repeatable.")
    var envFiles: [String] = []

    @Option(name: .customLong("profile"), help: "Profile to enable; repeatable (default: COMPOSE_PROFILES).")
    var profiles: [String] = []

    @Flag(name: .customLong("services"), help: "Print the service names, one per line.")
    var listServices = false

    @Flag(name: .customLong("volumes"), help: "Print the volume names, one per line.")
    var listVolumes = false

    @Option(name: .customLong("format"), help: "Output format: yaml or json.")
    var format: OutputFormat = .yaml

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "Only validate; print nothing.")
    var quiet = false

    @Argument(help: "Only these services (and what they depend on).")
    var services: [String] = []

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case yaml, json
    }

    func run() throws {
        let logger = Logger(label: "berth.config")
        let options = ProjectOptions(files: files, projectDirectory: projectDirectory, projectName: projectName,
                                     profiles: profiles, envFiles: envFiles, services: services)
        let project: Project
        do {
            project = try ProjectLoader.load(options, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode.failure
        }
        if quiet { return }
        if listServices {
            print(project.services.map(\.name).joined(separator: "\n"))
            return
        }
        if listVolumes {
            print(project.volumes.keys.sorted().joined(separator: "\n"))
            return
        }
        switch format {
        case .yaml:
            do {
                print(try project.yaml(), terminator: "")
            } catch {
                FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
                throw ExitCode.failure
            }
        case .json:
            print(project.json(), terminator: "")
        }
    }
}
