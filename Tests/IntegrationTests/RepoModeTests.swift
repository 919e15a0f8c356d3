import Foundation
import Reconcile
import TestSupport
import Testing
import Engine

/// `berth reconcile --repo`: a real git repo (file path), snapshots per commit, berth.yaml apps.
@Suite struct RepoModeTests {
    @Test func deploysACommitThenTheNextThenRollsBackByRef() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-repo"))
        let repo = base.appendingPathComponent("repo")
        let state = base.appendingPathComponent("state")
        let app = TestNames.unique("rapp")
        // The folder is not named after the app: the project must still be the app's name.
        try FileManager.default.createDirectory(at: repo.appendingPathComponent("apps/folder"), withIntermediateDirectories: true)
        func git(_ args: String...) async throws -> String {
            try await Shell.git(args, in: repo.path)
        }
        func commit(_ value: String) async throws -> String {
            try Host.sleepCompose(value: value).write(to: repo.appendingPathComponent("apps/folder/compose.yaml"), atomically: true, encoding: .utf8)
            _ = try await git("add", "-A")
            _ = try await git("commit", "-qm", "value \(value)")
            return try await git("rev-parse", "HEAD")
        }
        try "apps:\n  \(app):\n    path: apps/folder\n".write(to: repo.appendingPathComponent("berth.yaml"), atomically: true, encoding: .utf8)
        _ = try await git("init", "-q", "-b", "main")
        let first = try await commit("one")
        let second = try await commit("two")

        func reconcile(_ extra: [String] = []) async throws -> Host.RunResult {
            try await Host.run(Host.berthBinary, ["reconcile", "--repo", repo.path, "--state-dir", state.path, "--settle", "0.2"] + extra)
        }
        func deployed() async throws -> (revision: String?, value: String?) {
            let c = try await Host.engine.inspectContainer("\(app)-svc-1")
            return (c.config?.labels?[Labels.revision], c.config?.env?.first { $0.hasPrefix("VALUE=") })
        }

        let r1 = try await reconcile()
        #expect(r1.status == 0, "\(r1.stdout)\(r1.stderr)")
        #expect(try await deployed().revision == second)
        #expect(try await deployed().value == "VALUE=two")

        let rollback = try await reconcile(["--ref", String(first.prefix(10))])
        #expect(rollback.status == 0, "\(rollback.stderr)")
        #expect(rollback.stdout.contains(#"environment.VALUE: "two" → "one""#))
        #expect(try await deployed().revision == first)

        let bad = try await reconcile(["--ref", "no-such-branch"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("no-such-branch"))
        #expect(try await deployed().revision == first)

        await Host.cleanUp(project: app)
        // Snapshots are read-only by design; make them writable to delete them.
        _ = try? await Host.run("/bin/chmod", ["-R", "u+w", base.path])
        try? FileManager.default.removeItem(at: base)
    }
}
