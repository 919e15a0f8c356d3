import Engine
import Foundation
import Reconcile
import TestSupport
import Testing
import Curl

/// `berth serve` with an app of `target: swarm`: synced as a stack on the single-node swarm.
@Suite(.serialized) struct ServeSwarmTests {
    @Test func syncsASwarmAppThroughTheStackPath() async throws {
        let h = try ServeHarness()
        let app = TestNames.unique("swapp")
        defer { if h.process.isRunning { h.process.terminate() } }
        func stack(_ value: String) -> String {
            "services:\n" + SwarmFixture.service("svc", env: value) + SwarmFixture.networks
        }
        let berthYAML = "apps:\n  \(app):\n    path: stacks/\(app)\n    target: swarm\n"
        let first = try await h.commit(["berth.yaml": berthYAML, "stacks/\(app)/compose.yaml": stack("one")])
        try h.start(["--poll-interval", "300", "--wait-timeout", "90"])

        func service() async throws -> (env: [String], revision: String?, running: Int) {
            let s = try await Host.engine.inspectService("\(app)_svc")
            let tasks = try await Host.engine.listTasks(filters: ["service": ["\(app)_svc"], "desired-state": ["running"]])
            return (s.spec?.taskTemplate?.containerSpec?.env ?? [], s.spec?.labels?[Labels.revision],
                    tasks.filter { $0.status?.state == "running" }.count)
        }

        #expect(await h.waitFor(app, health: "Synced", revision: first), "first sync: \(h.serveLog)")
        let one = try await service()
        #expect(one.env == ["V=one"])
        #expect(one.revision == first)
        #expect(one.running == 1)
        let stackLabel = try await Host.engine.inspectService("\(app)_svc").spec?.labels?[SwarmLabels.namespace]
        #expect(stackLabel == app)

        // A change reaches the stack through the webhook; a resync of the same commit changes nothing.
        let second = try await h.commit(["stacks/\(app)/compose.yaml": stack("two")])
        #expect(try await h.hook().status == 202)
        #expect(await h.waitFor(app, health: "Synced", revision: second), "second sync: \(h.serveLog)")
        let two = try await service()
        #expect(two.env == ["V=two"])
        let version = try await Host.engine.inspectService("\(app)_svc").version?.index
        let resync = try await h.request(.post, "/api/v1/apps/\(app)/sync", headers: ["Authorization": "Bearer \(h.token)"])
        #expect(resync.status == 200)
        #expect(try await Host.engine.inspectService("\(app)_svc").version?.index == version, "no update for an unchanged stack")
        let history = String(decoding: try await h.request(.get, "/api/v1/apps/\(app)/history").body, as: UTF8.self)
        #expect(history.contains("\"unchanged\"") && history.contains(second))

        // A stack swarm cannot run (a service to build, and serve runs without --build) fails the
        // sync before anything changes; the running service stays.
        let broken = try await h.commit(["stacks/\(app)/compose.yaml": stack("three").replacingOccurrences(
            of: "image: berth.local/busybox:latest", with: "build: .")])
        #expect(try await h.hook().status == 202)
        #expect(await h.waitFor(app, health: "Degraded"), "broken stack: \(h.serveLog)")
        let failure = try await h.status(app).lastError ?? ""
        #expect(failure.contains("needs `image:`"), "\(failure)")
        #expect(try await service().env == ["V=two"])
        _ = broken

        #expect(await h.stop() == 0, "\(h.serveLog)")
        await SwarmFixture.cleanUp(stack: app)
        await h.remove()
    }
}
