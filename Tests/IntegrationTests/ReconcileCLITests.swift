import Foundation
import Reconcile
import TestSupport
import Testing
import Engine

/// `berth reconcile` end to end: the built binary, compose files on disk, the real engine.
@Suite struct ReconcileCLITests {
    struct Project {
        let name = TestNames.unique("cli")
        let dir: URL

        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-cli"))
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        }

        func write(_ yaml: String, file: String = "compose.yaml") throws {
            try yaml.write(to: dir.appendingPathComponent(file), atomically: true, encoding: .utf8)
        }

        func berth(_ args: [String]) async throws -> Host.RunResult {
            try await Host.run(Host.berthBinary, args + ["-p", name], directory: dir.path)
        }

        func cleanUp() async {
            await Host.cleanUp(project: name)
            try? FileManager.default.removeItem(at: dir)
        }
    }

    static func service(_ name: String, env: String = "1", extra: String = "") -> String {
        """
          \(name):
            image: berth.local/busybox:latest
            command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
            environment:
              V: "\(env)"
            labels:
              dev.berth.test: "1"
        \(extra)
        """ + "\n"
    }

    /// The files load on the main thread while libcurl loads and runs its global init on
    /// another; a missing file ends the process in the middle of that. libc's exit handlers
    /// tore OpenSSL down under the init: a segfault in ~1 run of 15.
    @Test func failingFastWhileEngineReadsAreInFlightExitsCleanly() async throws {
        for swarm in [true, false] {
            var statuses: [Int32] = []
            for _ in 0..<30 {
                let run = try await Host.run(Host.berthBinary, ["reconcile", "-p", TestNames.unique("early"), "-f", "/nonexistent/compose.yaml"]
                                             + (swarm ? ["--swarm"] : []))
                statuses.append(run.status)
                #expect(run.stderr.contains("/nonexistent/compose.yaml"), "\(run.stderr)")
            }
            #expect(statuses.allSatisfy { $0 == 1 }, "swarm \(swarm): exit statuses \(statuses)")
        }
    }

    /// `reconcile --prune a` loads only `a`: `b` is still in the file, so its container is
    /// neither an orphan to remove nor one to report.
    @Test func pruneWithSelectedServicesLeavesTheOthers() async throws {
        let p = try Project()
        try p.write("services:\n" + Self.service("a") + Self.service("b"))
        let apply = try await p.berth(["reconcile"])
        #expect(apply.status == 0, "\(apply.stdout)\(apply.stderr)")
        let selected = try await p.berth(["reconcile", "--prune", "--dry-run", "a"])
        #expect(selected.status == 0, "\(selected.stderr)")
        #expect(!selected.stdout.contains("orphan"), "\(selected.stdout)")
        let again = try await p.berth(["reconcile", "--prune", "a"])
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        #expect(try await Host.containers(project: p.name).count == 2)
        await p.cleanUp()
    }

    @Test func dryRunExitCodeThenApplyThenNoChanges() async throws {
        let p = try Project()
        try p.write("services:\n" + Self.service("a") + Self.service("b"))
        let dry = try await p.berth(["reconcile", "--dry-run", "--exit-code"])
        #expect(dry.status == 2, "\(dry.stderr)")
        #expect(dry.stdout.contains("+ create \(p.name)-a-1"))
        #expect(try await Host.containers(project: p.name).isEmpty)

        let apply = try await p.berth(["reconcile"])
        #expect(apply.status == 0, "\(apply.stdout)\(apply.stderr)")
        #expect(try await Host.containers(project: p.name).count == 2)

        let again = try await p.berth(["reconcile", "--dry-run", "--exit-code", "--output", "json"])
        #expect(again.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        #expect(json["changes"] as? Bool == false)
        await p.cleanUp()
    }

    @Test func invalidYAMLChangesNothingAndSaysWhere() async throws {
        let p = try Project()
        try p.write("services:\n  a:\n    image: berth.local/busybox:latest\n    ports: [\"80:80:80\"]\n")
        let r = try await p.berth(["reconcile"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("compose.yaml:4:"), "\(r.stderr)")
        #expect(r.stderr.contains("ports"))
        #expect(try await Host.containers(project: p.name).isEmpty)
        let networks = try await Host.engine.listNetworks(filters: ["label": ["\(Labels.project)=\(p.name)"]])
        #expect(networks.isEmpty)
        await p.cleanUp()
    }

    @Test func missingImageFailsBeforeAnythingChanges() async throws {
        let p = try Project()
        try p.write("services:\n" + Self.service("a") + """
          b:
            image: 127.0.0.1:5000/berth-test/does-not-exist:nope
            pull_policy: missing
        """)
        let r = try await p.berth(["reconcile"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("does-not-exist"), "\(r.stderr)")
        #expect(r.stderr.contains("nothing was changed"))
        #expect(try await Host.containers(project: p.name).isEmpty)
        await p.cleanUp()
    }

    @Test func healthyDependencyStartsFirstAndOrphansNeedPrune() async throws {
        let p = try Project()
        let db = Self.service("db", extra: """
            healthcheck:
              test: ["CMD", "true"]
              interval: 1s
              retries: 3
        """)
        let web = Self.service("web", extra: """
            depends_on:
              db:
                condition: service_healthy
        """)
        try p.write("services:\n" + db + web)
        let r = try await p.berth(["reconcile"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let db1 = try await Host.engine.inspectContainer("\(p.name)-db-1")
        let web1 = try await Host.engine.inspectContainer("\(p.name)-web-1")
        #expect(db1.state?.health?.status == "healthy")
        // web was created only after db was healthy.
        #expect((web1.state?.startedAt ?? "") > (db1.state?.startedAt ?? ""))

        try p.write("services:\n" + db)
        let kept = try await p.berth(["reconcile"])
        #expect(kept.stdout.contains("orphan \(p.name)-web-1"))
        #expect(try await Host.containers(project: p.name).count == 2)
        let pruned = try await p.berth(["reconcile", "--prune"])
        #expect(pruned.status == 0)
        #expect(try await Host.containers(project: p.name).compactMap(\.name) == ["\(p.name)-db-1"])
        await p.cleanUp()
    }

    @Test func releaseLockMustBeDigestPinned() async throws {
        let p = try Project()
        try p.write("services:\n" + Self.service("a"))
        let lock = p.dir.appendingPathComponent("release.json")
        try #"{"app": "x", "commit": "abc", "services": {"a": {"image": "berth.local/busybox:latest"}}}"#
            .write(to: lock, atomically: true, encoding: .utf8)
        let r = try await p.berth(["reconcile", "--release", lock.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("not pinned by digest"))
        #expect(try await Host.containers(project: p.name).isEmpty)
        await p.cleanUp()
    }

    /// kill -9 at random moments of a replace-heavy rollout, then reconcile: always converged,
    /// never a duplicate, never a lost volume file.
    @Test func killNineDuringRolloutAlwaysConverges() async throws {
        let p = try Project()
        defer { try? FileManager.default.removeItem(at: p.dir) }
        func write(_ generation: Int) throws {
            try p.write("""
            services:
              app:
                image: berth.local/busybox:latest
                command: ["sh", "-c", "trap 'exit 0' TERM; echo \(generation) >> /data/gens; while true; do sleep 1; done"]
                environment:
                  GEN: "\(generation)"
                labels:
                  dev.berth.test: "1"
                volumes:
                  - data:/data
                deploy:
                  replicas: 3
            volumes:
              data:
                labels:
                  dev.berth.test: "1"
            """)
        }
        try write(0)
        #expect(try await p.berth(["reconcile", "--settle", "0.3"]).status == 0)
        var generator = SystemRandomNumberGenerator()
        for round in 1...6 {
            try write(round)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Host.berthBinary)
            process.arguments = ["reconcile", "-p", p.name, "--settle", "0.3"]
            process.currentDirectoryURL = p.dir
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            try await Task.sleep(for: .milliseconds(Int.random(in: 50...1500, using: &generator)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()

            let r = try await p.berth(["reconcile", "--settle", "0.3"])
            #expect(r.status == 0, "round \(round): \(r.stdout)\(r.stderr)")
            let containers = try await Host.containers(project: p.name)
            #expect(containers.compactMap(\.name).sorted() == (1...3).map { "\(p.name)-app-\($0)" }, "round \(round)")
            #expect(containers.allSatisfy { $0.state == "running" })
            let check = try await p.berth(["reconcile", "--dry-run", "--exit-code"])
            #expect(check.status == 0, "round \(round) not converged: \(check.stdout)")
        }
        // Every generation that started wrote to the volume; generation 0 must still be there.
        let id = try #require(try await Host.containers(project: p.name).first?.id)
        let inspect = try await Host.engine.inspectContainer(id)
        let volume = try #require(inspect.mounts?.first { $0.destination == "/data" }?.source)
        let gens = try String(contentsOfFile: volume + "/gens", encoding: .utf8)
        #expect(gens.hasPrefix("0\n0\n0\n"))
        #expect(gens.contains("6\n"))
        await p.cleanUp()
    }
}

@Suite struct ReconcilePullTests {
    /// An `image:` missing on the host is pulled from the local registry before anything changes.
    @Test func missingImageIsPulledFromTheLocalRegistry() async throws {
        let repo = "127.0.0.1:5000/berth-test/\(TestNames.unique("pull"))"
        let tagged = try await Host.run("/usr/bin/env", ["docker", "tag", Host.busybox, "\(repo):v1"])
        #expect(tagged.status == 0)
        let pushed = try await Host.run("/usr/bin/env", ["docker", "push", "\(repo):v1"])
        #expect(pushed.status == 0, "\(pushed.stderr)")
        _ = try await Host.engine.removeImage("\(repo):v1")

        let p = try ReconcileCLITests.Project()
        try p.write("""
        services:
          app:
            image: \(repo):v1
            command: ["sleep", "100000"]
            labels:
              dev.berth.test: "1"
        """)
        let r = try await p.berth(["reconcile"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let image = try await Host.engine.inspectImage("\(repo):v1")
        let container = try await Host.engine.inspectContainer("\(p.name)-app-1")
        #expect(container.image == image.id)
        await p.cleanUp()
        _ = try? await Host.engine.removeImage("\(repo):v1", force: true)
    }

    @Test func networkModeServiceSharesTheNetworkNamespace() async throws {
        let p = try ReconcileCLITests.Project()
        try p.write("services:\n" + ReconcileCLITests.service("main") + ReconcileCLITests.service("sidecar", extra: """
            network_mode: "service:main"
        """))
        let r = try await p.berth(["reconcile"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let main = try await Host.engine.inspectContainer("\(p.name)-main-1")
        let sidecar = try await Host.engine.inspectContainer("\(p.name)-sidecar-1")
        #expect(sidecar.hostConfig?.networkMode == "container:\(p.name)-main-1" || sidecar.hostConfig?.networkMode == "container:\(main.id)")
        await p.cleanUp()
    }
}

@Suite struct ReconcileRolloutTests {
    @Test func failingHealthcheckRollsBackAndTheOldContainerServes() async throws {
        let p = try ReconcileCLITests.Project()
        try p.write("services:\n" + ReconcileCLITests.service("app", env: "good", extra: """
            healthcheck:
              test: ["CMD", "true"]
              interval: 1s
              retries: 2
        """))
        #expect(try await p.berth(["reconcile"]).status == 0)
        let old = try await Host.engine.inspectContainer("\(p.name)-app-1")

        try p.write("services:\n" + ReconcileCLITests.service("app", env: "bad", extra: """
            healthcheck:
              test: ["CMD", "false"]
              interval: 1s
              retries: 2
        """))
        let r = try await p.berth(["reconcile", "--output", "json", "--timeout", "30"])
        #expect(r.status == 1)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let projects = try #require(json["projects"] as? [[String: Any]])
        let actions = try #require(projects.first?["actions"] as? [[String: Any]])
        #expect(projects.first?["name"] as? String == p.name)
        #expect(projects.first?["inSync"] as? Bool == false)
        #expect(actions.first?["action"] as? String == "replace")
        #expect(actions.first?["container"] as? String == "\(p.name)-app-1")
        #expect(actions.first?["status"] as? String == "rolled-back")
        #expect((actions.first?["error"] as? String)?.contains("unhealthy") == true)

        let after = try await Host.containers(project: p.name)
        #expect(after.map(\.id) == [old.id])
        #expect(after.first?.state == "running")
        #expect(after.first?.name == "\(p.name)-app-1")
        await p.cleanUp()
    }

    @Test func scaleUpAndDownAndPruneKeepsVolumes() async throws {
        let p = try ReconcileCLITests.Project()
        func write(replicas: Int, withWorker: Bool) throws {
            var yaml = "services:\n" + ReconcileCLITests.service("app", extra: "    deploy:\n      replicas: \(replicas)\n")
            if withWorker {
                yaml += ReconcileCLITests.service("worker", extra: "    volumes:\n      - data:/data\n")
            }
            yaml += "volumes:\n  data:\n    labels:\n      dev.berth.test: \"1\"\n"
            try p.write(yaml)
        }
        try write(replicas: 1, withWorker: true)
        #expect(try await p.berth(["reconcile"]).status == 0)
        try write(replicas: 3, withWorker: true)
        let up = try await p.berth(["reconcile"])
        #expect(up.stdout.contains("+ create \(p.name)-app-2") && up.stdout.contains("+ create \(p.name)-app-3"))
        #expect(try await Host.containers(project: p.name).count == 4)

        try write(replicas: 1, withWorker: false)
        let down = try await p.berth(["reconcile", "--prune"])
        #expect(down.status == 0, "\(down.stdout)\(down.stderr)")
        #expect(down.stdout.contains("- scale-down \(p.name)-app-3"))
        #expect(down.stdout.contains("- remove-orphan \(p.name)-worker-1"))
        #expect(try await Host.containers(project: p.name).compactMap(\.name) == ["\(p.name)-app-1"])
        // The orphan's named volume is still there.
        let volumes = try await Host.engine.listVolumes(filters: ["name": ["\(p.name)_data"]])
        #expect(volumes.count == 1)

        // Only --prune-volumes removes a named volume, and says so in the plan.
        let dropVolume = try await p.berth(["reconcile", "--prune", "--prune-volumes", "--dry-run"])
        #expect(dropVolume.stdout.contains("- remove-volume \(p.name)_data"))
        #expect(try await p.berth(["reconcile", "--prune", "--prune-volumes"]).status == 0)
        #expect(try await Host.engine.listVolumes(filters: ["name": ["\(p.name)_data"]]).isEmpty)

        let ps = try await p.berth(["ps", "--output", "json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(ps.stdout.utf8)) as? [[String: Any]])
        #expect(rows.map { $0["name"] as? String } == ["\(p.name)-app-1"])
        await p.cleanUp()
    }

    @Test func logsArePrefixedByContainer() async throws {
        let p = try ReconcileCLITests.Project()
        try p.write("""
        services:
          talker:
            image: berth.local/busybox:latest
            command: ["sh", "-c", "echo hello-from-talker; sleep 100000"]
            labels:
              dev.berth.test: "1"
        """)
        #expect(try await p.berth(["reconcile"]).status == 0)
        try await Task.sleep(for: .milliseconds(500))
        let logs = try await p.berth(["logs"])
        #expect(logs.status == 0)
        #expect(logs.stdout.contains("\(p.name)-talker-1 | hello-from-talker"))
        await p.cleanUp()
    }
}
