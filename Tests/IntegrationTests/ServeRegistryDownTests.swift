import Engine
import Foundation
import Reconcile
import TestSupport
import Testing
import Curl

/// The registry goes down while `berth serve --build` runs: the sync that needs it fails with
/// an error naming the registry, the last good release keeps running, and once the registry is
/// back the retries deploy the new commit without anyone touching serve.
@Suite(.serialized) struct ServeRegistryDownTests {
    @Test func registryDownKeepsTheLastGoodReleaseAndRecovers() async throws {
        let proxy = try StreamFaultProxy(upstream: .tcp(port: 5000))
        defer { proxy.stop() }
        let h = try ServeHarness()
        let app = TestNames.unique("rdapp")
        let container = "\(app)-web-1"
        func marker() async throws -> String {
            try await Host.run("/usr/bin/docker", ["exec", container, "cat", "/marker"]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let registry = "\(proxy.address)/berth-test"
        let first = try await h.commitBuildApp(app, marker: "one")
        try h.start(["--build", "--poll-interval", "300"], environment: ["BERTH_REGISTRY": registry])
        defer { if h.process.isRunning { h.process.terminate() } }
        #expect(await h.waitFor(app, health: "Synced", revision: first), "first sync: \(h.serveLog)")
        #expect(try await marker() == "one")
        let good = try await Host.engine.inspectContainer(container).image

        proxy.set { $0.down = true }
        let second = try await h.commit(["apps/\(app)/Dockerfile": ServeHarness.markerDockerfile("two")])
        #expect(try await h.hook().status == 202)
        #expect(await h.waitFor(app, health: "Degraded", timeout: .seconds(240)), "registry down: \(h.serveLog)")
        let down = try await h.status(app)
        #expect(down.lastError?.contains(proxy.address) == true, "the error names the registry: \(down.lastError ?? "")")
        #expect(try await Host.engine.inspectContainer(container).image == good, "the last good release keeps running")
        #expect(try await marker() == "one")

        // Back up: the backed-off retries deploy the new commit by themselves.
        proxy.set { $0.down = false }
        #expect(await h.waitFor(app, health: "Synced", revision: second, timeout: .seconds(240)), "recovery: \(h.serveLog)")
        #expect(try await marker() == "two")

        #expect(await h.stop() == 0, "\(h.serveLog)")
        await Host.cleanUp(project: app)
        for tag in [first, second] {
            _ = try? await Host.engine.removeImage("\(registry)/\(app)-web:\(tag.prefix(12))", force: true)
        }
        await h.remove()
    }
}
