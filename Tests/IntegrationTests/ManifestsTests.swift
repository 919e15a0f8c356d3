import Compose
import Foundation
import Logging
import TestSupport
import Testing

/// manifests/compose.yaml and manifests/stack.yaml, which run Berth itself, load cleanly and say
/// what the README promises: the project's image, the engine socket, a state volume, settings
/// as BERTH_* variables, a /healthz healthcheck, a restart policy.
@Suite struct ManifestsTests {
    static let manifests = TestPaths.packageRoot.appendingPathComponent("manifests")
    static let repo = "https://git.example/ops/gitops.git"

    private func load(_ file: String, environment: [String: String] = ["BERTH_REPO": repo],
                      target: DeployTarget = .compose, logger: Logger = Host.logger) throws -> Project {
        try ProjectLoader.load(ProjectOptions(files: [file], projectName: "berth", environment: environment,
                                              workingDirectory: Self.manifests.path, target: target), logger: logger)
    }

    private func checkCommon(_ berth: Service) throws {
        #expect(berth.environment["BERTH_REPO"] == .some(Self.repo))
        #expect(berth.environment["BERTH_STATE_DIR"] == .some("/var/lib/berth"))
        #expect(berth.environment["BERTH_LISTEN"] == .some("0.0.0.0:9420"))
        #expect(berth.environment["BERTH_POLL_INTERVAL"] == .some("60"))
        #expect(berth.volumes.contains { $0.type == "bind" && $0.source == "/var/run/docker.sock" && $0.target == "/var/run/docker.sock" })
        #expect(berth.volumes.contains { $0.type == "volume" && $0.source == "berth-state" && $0.target == "/var/lib/berth" })
        let probe = try #require(berth.healthcheck?.test)
        #expect(probe.first == "CMD")
        #expect(probe.joined(separator: " ").contains("GET /healthz"))
        #expect(berth.ports.contains { $0.target == 9420 })
    }

    @Test func composeFileRunsServeFromTheProjectImage() throws {
        let project = try load("compose.yaml")
        let berth = try #require(project.service(named: "berth"))
        try checkCommon(berth)
        #expect(berth.image == "berth:dev")
        let build = try #require(berth.build)
        #expect(build.context == TestPaths.packageRoot.standardizedFileURL.path)
        #expect(FileManager.default.fileExists(atPath: build.context + "/" + (build.dockerfile ?? "Dockerfile")))
        #expect(berth.command == ["serve"])
        #expect(berth.restart == "unless-stopped")
        #expect(berth.ports.contains { $0.target == 9420 && $0.hostIP == "127.0.0.1" && $0.published == "9420" })
        #expect(project.volumes["berth-state"] != nil)
        // Unset optional settings are empty, which serve reads as unset.
        #expect(berth.environment["BERTH_WEBHOOK_SECRET"] == .some(""))
    }

    @Test func composeFilePassesSettingsThrough() throws {
        let project = try load("compose.yaml", environment: [
            "BERTH_REPO": Self.repo, "BERTH_REF": "release", "BERTH_API_TOKEN": "tok", "BERTH_IMAGE": "127.0.0.1:5000/berth:1",
            "BERTH_PUBLISH": "0.0.0.0:19420",
        ])
        let berth = try #require(project.service(named: "berth"))
        #expect(berth.environment["BERTH_REF"] == .some("release"))
        #expect(berth.environment["BERTH_API_TOKEN"] == .some("tok"))
        #expect(berth.image == "127.0.0.1:5000/berth:1")
        #expect(berth.ports.contains { $0.target == 9420 && $0.hostIP == "0.0.0.0" && $0.published == "19420" })
    }

    @Test func withoutARepoTheErrorNamesTheVariable() throws {
        for file in ["compose.yaml", "stack.yaml"] {
            let error = #expect(throws: ComposeError.self) { try load(file, environment: [:]) }
            #expect(error?.description.contains("set BERTH_REPO to the GitOps repo URL") == true, "\(file): \(String(describing: error))")
            #expect(error?.description.contains(file) == true)
        }
    }

    @Test func stackFileRunsOneBerthOnAManagerWithSecrets() throws {
        let log = CapturedLog()
        let project = try load("stack.yaml", target: .swarm, logger: log.logger())
        let berth = try #require(project.service(named: "berth"))
        try checkCommon(berth)
        #expect(berth.build == nil)
        #expect(berth.image == "berth:dev")
        let deploy = try #require(berth.deploy)
        #expect(deploy.replicas == 1)
        #expect(deploy.placement?.constraints == ["node.role == manager"])
        #expect(deploy.restartPolicy?.condition == "any")
        #expect(deploy.updateConfig?.order == "stop-first")
        #expect(berth.ports.contains { $0.target == 9420 && $0.mode == "host" })
        #expect(Set(berth.secrets.map(\.source)) == ["berth_webhook_secret", "berth_api_token"])
        #expect(project.secrets["berth_webhook_secret"]?.external == true)
        #expect(project.secrets["berth_api_token"]?.external == true)
        // The wrapper reads the secrets' files: `$$` must reach the shell as `$`.
        let script = try #require(berth.entrypoint?.last)
        #expect(script.contains("export \"$name=$(cat \"$file\")\""))
        #expect(script.contains("exec /usr/local/bin/berth serve"))
        // Nothing in the file is something `docker stack deploy` would ignore; `version` stays
        // for docker 20.10, which refuses a stack file without it.
        let warnings = log.warnings.filter { !$0.contains("`version` is obsolete") }
        #expect(warnings.isEmpty, "\(warnings)")
    }

    /// Every BERTH_* variable the manifests set is one Berth reads: a typo would be silently
    /// ignored by the container.
    @Test func everyVariableIsOneBerthReads() throws {
        let sources = try String(contentsOf: TestPaths.packageRoot.appendingPathComponent("Sources/BerthServe/ServeCommand.swift"), encoding: .utf8)
            + String(contentsOf: TestPaths.packageRoot.appendingPathComponent("Sources/BerthCLI/RepoArguments.swift"), encoding: .utf8)
            + String(contentsOf: TestPaths.packageRoot.appendingPathComponent("Sources/BerthCLI/Berth.swift"), encoding: .utf8)
            + allSwift(under: "Sources")
        for (file, target) in [("compose.yaml", DeployTarget.compose), ("stack.yaml", .swarm)] {
            let berth = try #require(try load(file, target: target).service(named: "berth"))
            var names = Array(berth.environment.keys)
            names += (berth.entrypoint?.last ?? "").split(whereSeparator: { !$0.isLetter && $0 != "_" }).map(String.init)
                .filter { $0.hasPrefix("BERTH_") }
            #expect(!names.isEmpty)
            for name in names {
                #expect(sources.contains("\"\(name)\""), "\(file): \(name) is not read by Berth")
            }
        }
    }

    private func allSwift(under relative: String) -> String {
        let root = TestPaths.packageRoot.appendingPathComponent(relative)
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return "" }
        var text = ""
        for case let path as String in walker where path.hasSuffix(".swift") {
            text += (try? String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)) ?? ""
        }
        return text
    }

    @Test func berthConfigAcceptsBoth() async throws {
        for file in ["manifests/compose.yaml", "manifests/stack.yaml"] {
            let result = try await Host.run(Host.berthBinary, ["config", "-q", "-f", file],
                                            environment: ["BERTH_REPO": Self.repo], directory: TestPaths.packageRoot.path)
            #expect(result.status == 0, "\(file): \(result.stderr)")
        }
    }
}
