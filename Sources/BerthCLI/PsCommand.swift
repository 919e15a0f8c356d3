import ArgumentParser
import Engine
import FoundationEssentials
import Platform
import Glibc
import Logging
import Reconcile
import Compose

/// Which project a day-two command looks at: `-p NAME`, else the compose files of this folder.
extension ProjectArguments {
    func projectName(logger: Logger) throws -> String {
        if let projectName { return projectName }
        return try load(logger: logger).name
    }
}

struct PsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "List a project's containers: state, health, image, revision.",
        discussion: """
        Lists what runs for a project, as Berth (or docker compose) labelled it. The project \
        is -p NAME, or the one the compose files of this folder describe.

        Examples:
          berth ps                     the project of this folder
          berth ps -p web --output json | jq '.[] | select(.health == "unhealthy")'
        """)

    @OptionGroup var project: ProjectArguments

    @Option(help: "Output format: text or json.")
    var output: OutputFormat = .text

    @Argument(help: "Only these services.")
    var services: [String] = []

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    struct Row: Encodable {
        var name: String
        var service: String
        var number: Int?
        var state: String
        var status: String
        var health: String?
        var image: String
        var imageID: String
        var revision: String?
        var ports: [String]
    }

    func run() async throws {
        let logger = Logger(label: "berth.ps")
        do {
            let name = try project.projectName(logger: logger)
            let engine = EngineClient(logger: logger)
            let containers = try await engine.listContainers(all: true, filters: ["label": ["\(Labels.project)=\(name)"]])
            let rows = containers
                .filter { services.isEmpty || services.contains($0.labels?[Labels.service] ?? "") }
                .map(Self.row)
                .sorted { ($0.service, $0.number ?? 0, $0.name) < ($1.service, $1.number ?? 0, $1.name) }
            if output == .json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(rows), as: UTF8.self))
                return
            }
            if rows.isEmpty {
                print("No containers for project \(name).")
                return
            }
            let table = [["NAME", "SERVICE", "STATE", "HEALTH", "IMAGE", "REVISION", "PORTS"]] + rows.map {
                [$0.name, $0.service, $0.status, $0.health ?? "-", $0.image, $0.revision.map { String($0.prefix(12)) } ?? "-",
                 $0.ports.joined(separator: ", ")]
            }
            print(Self.format(table))
        } catch {
            Terminal.printError("\(error)")
            throw ExitCode.failure
        }
    }

    static func row(_ c: ContainerSummary) -> Row {
        let labels = c.labels ?? [:]
        let status = c.status ?? ""
        // The list call carries health only inside Status ("Up 5 seconds (healthy)").
        let health = ["unhealthy", "healthy", "health: starting"].first { status.contains("(\($0))") }
            .map { $0.replacing("health: ", with: "") }
        let ports = (c.ports ?? []).compactMap { p -> String? in
            guard let priv = p.privatePort else { return nil }
            if let pub = p.publicPort { return "\(p.ip ?? ""):\(pub)->\(priv)/\(p.type ?? "tcp")" }
            return "\(priv)/\(p.type ?? "tcp")"
        }
        return Row(name: c.name ?? c.id, service: labels[Labels.service] ?? "?",
                   number: labels[Labels.containerNumber].flatMap { Int($0) }, state: c.state ?? "?", status: status,
                   health: health, image: labels[Labels.image] ?? c.image ?? "?", imageID: c.imageID ?? "",
                   revision: labels[Labels.revision], ports: Array(Set(ports)).sorted())
    }

    static func format(_ table: [[String]]) -> String {
        let widths = (0..<(table.first?.count ?? 0)).map { col in table.map { $0[col].count }.max() ?? 0 }
        return table.map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.fitted(to: widths[i]) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
