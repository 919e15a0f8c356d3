import Foundation
import Reconcile
import TestSupport
import Testing
import Engine

/// The CI flow end to end: `berth build --push --release-out` then `berth reconcile --release`
/// runs exactly the pushed digest.
@Suite struct ReleaseFlowTests {
    @Test func buildPushThenReconcileTheReleaseLock() async throws {
        let p = try ReconcileCLITests.Project()
        let context = p.dir.appendingPathComponent("app")
        try FileManager.default.createDirectory(at: context, withIntermediateDirectories: true)
        try "FROM berth.local/busybox:latest\nRUN echo \(p.name) > /marker\n"
            .write(to: context.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
        try p.write("""
        services:
          app:
            build:
              context: ./app
              labels:
                dev.berth.test: "1"
            command: ["sleep", "100000"]
            labels:
              dev.berth.test: "1"
        """)
        let lock = p.dir.appendingPathComponent("release.json")
        let build = try await p.berth(["build", "--registry", "127.0.0.1:5000/berth-test", "--revision", "0123456789abcdef",
                                       "--push", "--release-out", lock.path])
        #expect(build.status == 0, "\(build.stdout)\(build.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: lock)) as? [String: Any])
        let image = try #require(((json["services"] as? [String: Any])?["app"] as? [String: Any])?["image"] as? String)
        #expect(image.hasPrefix("127.0.0.1:5000/berth-test/\(p.name)-app@sha256:"))
        #expect(json["commit"] as? String == "0123456789abcdef")

        let deploy = try await p.berth(["reconcile", "--release", lock.path])
        #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
        let container = try await Host.engine.inspectContainer("\(p.name)-app-1")
        let pinned = try await Host.engine.inspectImage(image)
        #expect(container.image == pinned.id)
        #expect(container.config?.labels?[Labels.revision] == "0123456789abcdef")

        await p.cleanUp()
        for tag in ["127.0.0.1:5000/berth-test/\(p.name)-app:0123456789ab", image] {
            _ = try? await Host.engine.removeImage(tag, force: true)
        }
    }
}
