import Compose
import Engine
import Foundation
import Logging
import Reconcile
import TestSupport
import Testing

/// A stack file in a temporary folder, deployed to the single-node swarm ops/setup made.
struct SwarmFixture {
    let name = TestNames.unique("stk")
    let dir: URL

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-stack"))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    var file: String { dir.appendingPathComponent("stack.yaml").path }

    func write(_ yaml: String) throws {
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
    }

    func write(file name: String, _ content: String) throws {
        try content.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    func load() throws -> Project {
        try ProjectLoader.load(ProjectOptions(files: [file], projectName: name), logger: Host.logger)
    }

    func stack() async throws -> SwarmStack {
        try await SwarmStackBuilder(engine: Host.engine, logger: Host.logger).build(try load())
    }

    func plan(prune: Bool = false) async throws -> (SwarmStack, SwarmActualState, Plan) {
        let reconciler = SwarmReconciler(engine: Host.engine, logger: Host.logger)
        let (stack, actual) = try await reconciler.read(try load(), prune: prune)
        try reconciler.validate(stack, actual: actual)
        return (stack, actual, SwarmPlanner(options: .init(prune: prune)).plan(desired: stack, actual: actual))
    }

    func deploy(prune: Bool = false, timeout: Duration = .seconds(90)) async throws -> (Plan, Applier.Report) {
        let (stack, actual, plan) = try await plan(prune: prune)
        let report = await SwarmApplier(engine: Host.engine, options: .init(waitTimeout: timeout), logger: Host.logger)
            .apply(plan, stack: stack, actual: actual)
        return (plan, report)
    }

    func service(_ key: String) async throws -> SwarmService {
        try await Host.engine.inspectService("\(name)_\(key)")
    }

    /// Tasks that should run, with their container IDs.
    func runningTasks(_ key: String) async throws -> [SwarmTask] {
        try await Host.engine.listTasks(filters: ["service": ["\(name)_\(key)"], "desired-state": ["running"]])
            .filter { $0.status?.state == "running" }
    }

    func exec(_ containerID: String, _ command: [String]) async throws -> Host.RunResult {
        try await Host.run("/usr/bin/docker", ["exec", containerID] + command)
    }

    /// Services first (their containers go with them), then networks, secrets and configs.
    func cleanUp() async {
        await SwarmFixture.cleanUp(stack: name)
        try? FileManager.default.removeItem(at: dir)
    }

    static func cleanUp(stack: String) async {
        let engine = Host.engine
        let filter = ["label": ["\(SwarmLabels.namespace)=\(stack)"]]
        for s in (try? await engine.listServices(filters: filter)) ?? [] { try? await engine.removeService(s.id) }
        // Swarm removes the task containers in its own time; do it now so the network can go.
        for c in (try? await engine.listContainers(all: true, filters: filter)) ?? [] {
            try? await engine.removeContainer(c.id, force: true)
        }
        for _ in 0..<20 {
            let networks = (try? await engine.listNetworks(filters: filter)) ?? []
            if networks.isEmpty { break }
            for n in networks { try? await engine.removeNetwork(n.id) }
            try? await Task.sleep(for: .milliseconds(500))
        }
        for s in (try? await engine.listSecrets(filters: filter)) ?? [] { try? await engine.removeSecret(s.id) }
        for c in (try? await engine.listConfigs(filters: filter)) ?? [] { try? await engine.removeConfig(c.id) }
    }

    /// A long-running busybox service that exits promptly on SIGTERM.
    static func service(_ key: String, env: String = "1", deploy: String = "", extra: String = "") -> String {
        var s = """
          \(key):
            image: berth.local/busybox:latest
            command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
            stop_grace_period: 1s
            environment:
              V: "\(env)"
            labels:
              dev.berth.test: "1"
            deploy:
              labels:
                dev.berth.test: "1"

        """
        if !deploy.isEmpty { s += deploy.split(separator: "\n", omittingEmptySubsequences: false).map { "      \($0)" }.joined(separator: "\n") + "\n" }
        if !extra.isEmpty { s += extra.split(separator: "\n", omittingEmptySubsequences: false).map { "    \($0)" }.joined(separator: "\n") + "\n" }
        return s
    }

    static let networks = """
    networks:
      default:
        labels:
          dev.berth.test: "1"

    """
}

/// Engine timestamps (`2026-01-02T03:04:05.123456789Z`) as seconds, nanosecond digits kept.
func engineTime(_ s: String?) -> Double {
    guard let s, let dot = s.firstIndex(of: ".") ?? s.firstIndex(of: "Z") else { return 0 }
    let base = ISO8601DateFormatter().date(from: String(s[..<dot]) + "Z")?.timeIntervalSince1970 ?? 0
    let fraction = s[dot...].dropFirst().prefix { $0.isNumber }
    return base + (Double("0." + fraction) ?? 0)
}
