import ArgumentParser
import Compose
import FoundationEssentials
import Glibc
import Logging

/// `berth config`: load compose files exactly as Docker Compose does and print the result.
struct ConfigCommand: ParsableCommand {
    static let commandName = "config"
    static let configuration = CommandConfiguration(
        commandName: commandName,
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

    @OptionGroup var project: ProjectArguments

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
        do {
            let loaded = try project.load(services: services, logger: logger)
            if quiet { return }
            if listServices {
                print(loaded.services.map(\.name).joined(separator: "\n"))
            } else if listVolumes {
                print(loaded.volumes.keys.sorted().joined(separator: "\n"))
            } else if format == .yaml {
                print(try loaded.yaml(), terminator: "")
            } else {
                print(loaded.json(), terminator: "")
            }
        } catch {
            Terminal.printError("\(error)")
            throw ExitCode.failure
        }
    }
}
