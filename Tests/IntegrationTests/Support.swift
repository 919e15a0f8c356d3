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
        let env = try String(contentsOfFile: "/var/lib/berth-ops/git-server.env", encoding: .utf8)
        func setting(_ key: String) -> String? {
            env.split(separator: "\n").first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
        }
        guard let base = setting("BASE"), let port = setting("PORT").flatMap(Int.init) else {
            throw Shell.Failure(description: "/var/lib/berth-ops/git-server.env has no BASE or PORT")
        }
        return (base, port)
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
