import Engine
import Foundation
import Logging
import Reconcile
import TestSupport

/// Shared pieces for tests that run against the real engine started by ops/setup.
enum Host {
    static let logger: Logger = {
        var l = Logger(label: "berth.tests")
        l.logLevel = .warning
        return l
    }()
    static let engine = EngineClient(logger: logger)
    static let busybox = "berth.local/busybox:latest"

    static func busyboxID() async throws -> String {
        try await engine.inspectImage(busybox).id
    }

    /// Removes every container, network and volume of a test project.
    static func cleanUp(project: String) async {
        let filter = ["label": ["\(Labels.project)=\(project)"]]
        if let containers = try? await engine.listContainers(all: true, filters: filter) {
            for c in containers { try? await engine.removeContainer(c.id, force: true, volumes: true) }
        }
        if let networks = try? await engine.listNetworks(filters: filter) {
            for n in networks { try? await engine.removeNetwork(n.id) }
        }
        if let volumes = try? await engine.listVolumes(filters: filter) {
            for v in volumes { try? await engine.removeVolume(v.name, force: true) }
        }
    }

    /// The git daemon of ops/git-server (started when it is not running): the folder it serves
    /// and its port.
    static func gitDaemon() async throws -> (base: String, port: Int) {
        let started = try await run(TestPaths.packageRoot.appendingPathComponent("ops/git-server").path, ["start"])
        guard started.status == 0 else { throw Shell.Failure(description: "ops/git-server start: \(started.stderr)") }
        let settings = OpsSettings.read("git-server") ?? [:]
        guard let base = settings["BASE"], let port = settings["PORT"].flatMap(Int.init) else {
            throw Shell.Failure(description: "\(OpsSettings.path("git-server")) has no BASE or PORT")
        }
        return (base, port)
    }

    /// A compose file with one busybox service `svc` that sleeps, labelled as a test object,
    /// with `VALUE` in its environment when given (a new value replaces the container).
    static func sleepCompose(value: String? = nil, stopGracePeriod: String? = nil) -> String {
        var lines = ["services:", "  svc:", "    image: \(busybox)", #"    command: ["sleep", "100000"]"#]
        if let stopGracePeriod { lines.append("    stop_grace_period: \(stopGracePeriod)") }
        if let value { lines += ["    environment:", "      VALUE: \"\(value)\""] }
        lines += ["    labels:", #"      dev.berth.test: "1""#]
        return lines.joined(separator: "\n") + "\n"
    }

    static func containers(project: String) async throws -> [ContainerSummary] {
        try await engine.listContainers(all: true, filters: ["label": ["\(Labels.project)=\(project)"]])
    }

    /// The built `berth` executable, for tests of the command line itself.
    static var berthBinary: String {
        TestPaths.packageRoot.appendingPathComponent(".build/debug/berth").path
    }

    typealias RunResult = Shell.Result

    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                    directory: String? = nil) async throws -> RunResult {
        try await Shell.run(executable, arguments, environment: environment, directory: directory)
    }
}
