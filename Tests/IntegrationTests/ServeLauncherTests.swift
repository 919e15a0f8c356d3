import Foundation
import Testing
import TestSupport

/// `berth serve` is the `berth-serve` executable: `berth` execs it with the arguments it got.
@Suite struct ServeLauncherTests {
    @Test func helpAndErrorsAreBerthServes() async throws {
        let help = try await Host.run(Host.berthBinary, ["serve", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: berth serve"), "\(help.stdout)")
        #expect(help.stdout.contains("--webhook-secret"))
        let viaHelp = try await Host.run(Host.berthBinary, ["help", "serve"])
        #expect(viaHelp.status == 0)
        #expect(viaHelp.stdout == help.stdout)

        // Arguments arrive unchanged, and berth-serve's own checks answer.
        let noRepo = try await Host.run(Host.berthBinary, ["serve", "--listen", "127.0.0.1:1"], environment: ["BERTH_REPO": ""])
        #expect(noRepo.status == 64)
        #expect(noRepo.stderr.contains("name the GitOps repo with --repo or BERTH_REPO"), "\(noRepo.stderr)")
        let badListen = try await Host.run(Host.berthBinary, ["serve", "--repo", "/nonexistent", "--listen", "nowhere"])
        #expect(badListen.status == 64)
        #expect(badListen.stderr.contains("listen address nowhere must be host:port"), "\(badListen.stderr)")

        let list = try await Host.run(Host.berthBinary, ["--help"])
        #expect(list.stdout.contains("serve") && list.stdout.contains("Keep this host converged to a GitOps repo"))
    }

    /// A `berth` installed without `berth-serve` says what is missing and how to get it.
    @Test func aMissingServerExecutableIsNamed() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("lonely"))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let lonely = dir.appendingPathComponent("berth").path
        try FileManager.default.copyItem(atPath: Host.berthBinary, toPath: lonely)
        let r = try await Host.run(lonely, ["serve", "--repo", "/nonexistent"], environment: ["PATH": dir.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("runs berth-serve, which is neither beside \(lonely) nor on PATH"), "\(r.stderr)")
        #expect(r.stderr.contains("swift build --product berth-serve"))
    }
}
