import Foundation
import Reconcile
import TestSupport
import Testing
import Engine

/// Drills from issue #9: Berth between faults and the real registry, engine and git server.
/// Expected every time: a clear error, nothing half done, the last good state kept, and
/// recovery once the fault ends.
@Suite struct ReliabilityTests {
    static let opsDir = TestPaths.packageRoot.appendingPathComponent("ops").path

    /// A compose project in a temp folder whose services each own a named volume holding a
    /// marker file, so a drill can check that no data was lost.
    struct VolumeProject {
        let name: String
        let dir: URL
        let services: [String]

        init(_ prefix: String, services: Int = 3) throws {
            name = TestNames.unique(prefix)
            dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-rel"))
            self.services = (1...services).map { "s\($0)" }
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        }

        func write(round: Int) throws {
            var yaml = "services:\n"
            for s in services {
                yaml += """
                  \(s):
                    image: berth.local/busybox:latest
                    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
                    environment:
                      ROUND: "\(round)"
                    volumes: ["\(s)-data:/data"]
                    labels:
                      dev.berth.test: "1"

                """
            }
            yaml += "volumes:\n" + services.map { "  \($0)-data:\n    labels:\n      dev.berth.test: \"1\"\n" }.joined()
            try yaml.write(to: dir.appendingPathComponent("compose.yaml"), atomically: true, encoding: .utf8)
        }

        func reconcile(_ extra: [String] = [], environment: [String: String] = [:]) async throws -> Host.RunResult {
            try await Host.run(Host.berthBinary, ["reconcile", "-p", name, "--settle", "0.3"] + extra,
                               environment: environment, directory: dir.path)
        }

        func writeMarkers() async throws {
            for s in services {
                let r = try await Host.run("/usr/bin/docker", ["exec", "\(name)-\(s)-1", "sh", "-c", "echo marker-\(s) > /data/marker"])
                #expect(r.status == 0, "\(r.stderr)")
            }
        }

        /// Per service: how many containers, their states, the env round and the marker.
        func check(round: Int, running: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let all = try await Host.containers(project: name)
            let names = all.compactMap { $0.names?.first }
            #expect(!names.contains { $0.contains("-berth-") }, "leftovers: \(names)", sourceLocation: sourceLocation)
            for s in services {
                let mine = all.filter { $0.labels?[Labels.service] == s }
                let mineNames = mine.compactMap { $0.names?.first }
                #expect(mine.count == 1, "\(s): \(mineNames)", sourceLocation: sourceLocation)
                let c = try await Host.engine.inspectContainer("\(name)-\(s)-1")
                #expect(c.state?.running == running, "\(s): \(c.state?.status ?? "?")", sourceLocation: sourceLocation)
                #expect(c.config?.env?.contains("ROUND=\(round)") == true, "\(s): \(c.config?.env ?? [])", sourceLocation: sourceLocation)
                if running {
                    let marker = try await Host.run("/usr/bin/docker", ["exec", "\(name)-\(s)-1", "cat", "/data/marker"])
                    #expect(marker.stdout == "marker-\(s)\n", "\(s) lost its volume file", sourceLocation: sourceLocation)
                }
            }
        }

        func cleanUp() async {
            await Host.cleanUp(project: name)
            try? FileManager.default.removeItem(at: dir)
        }
    }

    // MARK: crash loop

    /// The short form of ops/crash-loop: SIGKILL during replace-heavy rollouts, then reconcile.
    @Test func crashLoopFiveRounds() async throws {
        let project = TestNames.unique("crash")
        let r = try await Host.run(Self.opsDir + "/crash-loop",
                                   ["--rounds", "5", "--services", "4", "--max-delay", "2", "--berth", Host.berthBinary, "--project", project])
        let summary = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(summary.contains("rounds=5"), "\(summary)")
        for zero in ["duplicates=0", "leftovers=0", "lost_files=0", "stale_env=0", "not_converged=0", "reconcile_failures=0"] {
            #expect(summary.contains(zero), "\(summary)")
        }
        #expect(try await Host.containers(project: project).isEmpty, "the script cleans up")
    }

    // MARK: engine socket

    /// Deploys round 0 with a marker file in each volume, then reconciles round 1 through a
    /// proxy to the engine's socket that dies on the first request containing `dieOn`.
    /// The caller stops the proxy.
    static func rolloutThroughDyingEngine(_ name: String, dieOn: String) async throws
        -> (VolumeProject, StreamFaultProxy, socket: String, Host.RunResult)
    {
        let p = try VolumeProject(name)
        try p.write(round: 0)
        let first = try await p.reconcile()
        try #require(first.status == 0, "\(first.stderr)")
        try await p.writeMarkers()

        try p.write(round: 1)
        let socket = "/tmp/\(TestNames.unique("eng")).sock"
        let proxy = try StreamFaultProxy(upstream: .unix(path: "/var/run/docker.sock"), unixPath: socket)
        proxy.set { $0.dieOn = dieOn }
        do {
            return (p, proxy, socket, try await p.reconcile(environment: ["DOCKER_HOST": "unix://\(socket)"]))
        } catch {
            proxy.stop()
            throw error
        }
    }

    /// The engine's socket dies before anything was stopped: the error says so and names the
    /// socket, the old containers keep running untouched.
    @Test func engineDiesBeforeTheRolloutStopsAnything() async throws {
        let (p, proxy, socket, r) = try await Self.rolloutThroughDyingEngine("engdown", dieOn: "/stop")
        defer { proxy.stop() }
        #expect(proxy.died)
        #expect(r.status == 1)
        #expect(r.stdout.contains(socket) || r.stderr.contains(socket), "the error names the engine socket: \(r.stdout)\(r.stderr)")
        try await p.check(round: 0)

        let again = try await p.reconcile()
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        try await p.check(round: 1)
        await p.cleanUp()
    }

    /// The engine's socket dies after the old containers were stopped and set aside: the run
    /// fails and says to run reconcile again; the next run puts everything in place, one
    /// container per service, volumes intact.
    @Test func engineDiesMidRolloutAndTheNextReconcileConverges() async throws {
        let (p, proxy, _, r) = try await Self.rolloutThroughDyingEngine("engmid", dieOn: "/containers/create")
        defer { proxy.stop() }
        #expect(proxy.died)
        #expect(r.status == 1)
        #expect((r.stdout + r.stderr).contains("reconcile again"), "\(r.stdout)\(r.stderr)")

        // What is left is recognised: the plan recovers, not duplicates.
        let plan = try await p.reconcile(["--dry-run", "--output", "json"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("\"recover\""), "\(plan.stdout)")

        let again = try await p.reconcile()
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        try await p.check(round: 1)
        let converged = try await p.reconcile(["--dry-run", "--exit-code"])
        #expect(converged.status == 0, "\(converged.stdout)")
        await p.cleanUp()
    }

    // MARK: registry

    /// Builds a local image of `layers` layers of `size` random bytes each.
    static func randomImage(layers: Int, size: Int) async throws -> String {
        let tag = "berth.local/\(TestNames.unique("rel-blob")):1"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-img"))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var dockerfile = "FROM \(Host.busybox)\nLABEL dev.berth.test=1\n"
        for i in 0..<layers {
            var bytes = [UInt8](repeating: 0, count: size)
            for j in bytes.indices { bytes[j] = UInt8.random(in: 0...255) }
            try Data(bytes).write(to: dir.appendingPathComponent("l\(i)"))
            dockerfile += "COPY l\(i) /l\(i)\n"
        }
        try dockerfile.write(to: dir.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        let r = try await Host.run("/usr/bin/docker", ["build", "-q", "-t", tag, dir.path], environment: ["DOCKER_BUILDKIT": "0"])
        try #require(r.status == 0, "docker build: \(r.stderr)")
        return tag
    }

    static func registryDigest(_ repository: String, tag: String) async throws -> String? {
        let r = try await Host.run("/usr/bin/curl", [
            "-fsSI", "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json",
            "http://127.0.0.1:5000/v2/\(repository)/manifests/\(tag)",
        ])
        return r.stdout.split(separator: "\r\n").first { $0.lowercased().hasPrefix("docker-content-digest:") }
            .map { $0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces) }
    }

    /// Every 3 MB sent, the connection carrying the byte is reset mid-body: the push retries
    /// each cut blob and the manifest the registry ends up with is the one Berth reports.
    @Test func pushSurvivesAResetEveryThreeMegabytes() async throws {
        let image = try await Self.randomImage(layers: 3, size: 2 << 20)
        defer { _ = try? Shell.runBlocking("/usr/bin/docker", ["rmi", "-f", image]) }
        let proxy = try StreamFaultProxy(upstream: .tcp(port: 5000))
        defer { proxy.stop() }
        proxy.set { $0.resetEveryBytes = 3 << 20 }
        let repo = "berth-test/\(TestNames.unique("reset"))"
        let r = try await Host.run(Host.berthBinary, ["push", image, "--to", "\(proxy.address)/\(repo):1", "--no-cache", "--output", "json"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(proxy.resets >= 1, "no reset happened: the drill did not drill")
        let out = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let digest = try #require(out["digest"] as? String)
        #expect(try await Self.registryDigest(repo, tag: "1") == digest)
    }

    /// Registry down: the push fails with an error naming the registry, then works once it is
    /// back.
    @Test func registryDownThenBack() async throws {
        let proxy = try StreamFaultProxy(upstream: .tcp(port: 5000))
        defer { proxy.stop() }
        proxy.set { $0.down = true }
        let repo = "berth-test/\(TestNames.unique("down"))"
        let start = ContinuousClock.now
        let r = try await Host.run(Host.berthBinary, ["push", Host.busybox, "--to", "\(proxy.address)/\(repo):1", "--no-cache"])
        #expect(r.status == 1)
        #expect(r.stderr.contains(proxy.address), "the error names the registry: \(r.stderr)")
        #expect(ContinuousClock.now - start < .seconds(60), "gave up in reasonable time")
        proxy.set { $0.down = false }
        let ok = try await Host.run(Host.berthBinary, ["push", Host.busybox, "--to", "\(proxy.address)/\(repo):1", "--no-cache", "--output", "json"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try await Self.registryDigest(repo, tag: "1") != nil)
    }

    // MARK: git server

    /// The git server goes down: reconcile fails naming the URL and the running release is
    /// kept; once it is back, the next commit deploys.
    @Test func gitServerDownKeepsTheLastGoodRelease() async throws {
        let (base, port) = try await Host.gitDaemon()

        let app = TestNames.unique("gapp")
        let bare = "\(base)/\(app).git"
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-gitdown"))
        let state = work.appendingPathComponent("state")
        let clone = work.appendingPathComponent("src")
        try FileManager.default.createDirectory(at: clone.appendingPathComponent("apps/\(app)"), withIntermediateDirectories: true)
        try await Shell.git(["init", "-q", "--bare", "-b", "main", bare], in: base)
        try await Shell.git(["init", "-q", "-b", "main"], in: clone.path)
        func commit(_ value: String) async throws {
            try Host.sleepCompose(value: value).write(to: clone.appendingPathComponent("apps/\(app)/compose.yaml"), atomically: true, encoding: .utf8)
            try await Shell.git(["add", "-A"], in: clone.path)
            try await Shell.git(["commit", "-qm", value], in: clone.path)
            try await Shell.git(["push", "-q", bare, "main"], in: clone.path)
        }
        try await commit("one")

        let proxy = try StreamFaultProxy(upstream: .tcp(port: port))
        defer { proxy.stop() }
        let url = "git://\(proxy.address)/\(app).git"
        func reconcile() async throws -> Host.RunResult {
            try await Host.run(Host.berthBinary, ["reconcile", "--repo", url, "--state-dir", state.path, "--settle", "0.2"])
        }
        func value() async throws -> String? {
            try await Host.engine.inspectContainer("\(app)-svc-1").config?.env?.first { $0.hasPrefix("VALUE=") }
        }
        let r1 = try await reconcile()
        #expect(r1.status == 0, "\(r1.stdout)\(r1.stderr)")
        #expect(try await value() == "VALUE=one")

        try await commit("two")
        proxy.set { $0.down = true }
        let down = try await reconcile()
        #expect(down.status == 1)
        #expect(down.stderr.contains(url), "the error names the repo: \(down.stderr)")
        #expect(try await value() == "VALUE=one", "the last good release keeps running")
        #expect(try await Host.containers(project: app).count == 1)

        proxy.set { $0.down = false }
        let back = try await reconcile()
        #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
        #expect(try await value() == "VALUE=two")

        await Host.cleanUp(project: app)
        _ = try? await Host.run("/bin/chmod", ["-R", "u+w", work.path])
        try? FileManager.default.removeItem(at: work)
        try? FileManager.default.removeItem(atPath: bare)
    }

    // MARK: disk full

    /// The state dir on a 4 MB tmpfs, filled up: the repo fetch fails with an error that says
    /// the disk is full, the running release stays, and once space is freed the same command
    /// succeeds (the git mirror was not left corrupt).
    @Test func stateDirDiskFull() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-full"))
        let mount = work.appendingPathComponent("state")
        let repo = work.appendingPathComponent("repo")
        let app = TestNames.unique("fapp")
        try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: repo.appendingPathComponent("apps/\(app)"), withIntermediateDirectories: true)
        let mounted = try await Host.run("/bin/mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mount.path])
        try #require(mounted.status == 0, "mount: \(mounted.stderr)")
        defer {
            _ = try? Shell.runBlocking("/bin/umount", [mount.path])
            try? FileManager.default.removeItem(at: work)
        }
        func git(_ args: String...) async throws {
            _ = try await Shell.git(args, in: repo.path)
        }
        func commit(_ value: String) async throws {
            try Host.sleepCompose(value: value).write(to: repo.appendingPathComponent("apps/\(app)/compose.yaml"), atomically: true, encoding: .utf8)
            // Incompressible bulk, so the second commit does not fit in what is left.
            var bytes = [UInt8](repeating: 0, count: 300 << 10)
            for j in bytes.indices { bytes[j] = UInt8.random(in: 0...255) }
            try Data(bytes).write(to: repo.appendingPathComponent("apps/\(app)/blob-\(value)"))
            try await git("add", "-A")
            try await git("commit", "-qm", value)
        }
        try await git("init", "-q", "-b", "main")
        try await commit("one")
        func reconcile() async throws -> Host.RunResult {
            try await Host.run(Host.berthBinary, ["reconcile", "--repo", "file://" + repo.path, "--state-dir", mount.path, "--settle", "0.2"])
        }
        let r1 = try await reconcile()
        #expect(r1.status == 0, "\(r1.stdout)\(r1.stderr)")

        try await commit("two")
        let filler = mount.appendingPathComponent("filler")
        _ = try await Host.run("/bin/dd", ["if=/dev/zero", "of=\(filler.path)", "bs=64k"])
        let full = try await reconcile()
        #expect(full.status == 1)
        #expect(full.stderr.lowercased().contains("space"), "the error says the disk is full: \(full.stderr)")
        #expect(try await Host.engine.inspectContainer("\(app)-svc-1").config?.env?.contains("VALUE=one") == true)

        try FileManager.default.removeItem(at: filler)
        let back = try await reconcile()
        #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
        #expect(try await Host.engine.inspectContainer("\(app)-svc-1").config?.env?.contains("VALUE=two") == true)
        await Host.cleanUp(project: app)
        _ = try? await Host.run("/bin/chmod", ["-R", "u+w", mount.path])
    }
}
