import Engine
import Foundation
import Reconcile
import TestSupport
import Testing

/// The replace protocol against the real engine, with projects built by hand (no compose).
@Suite struct ApplyTests {
    func spec(_ imageID: String, env: [String: String] = [:], command: [String] = ["sleep", "100000"],
              network: String) -> ContainerSpec {
        var s = ContainerSpec(image: imageID, imageReference: Host.busybox)
        s.command = command
        s.environment = env
        s.labels = [TestNames.testLabel: "1"]
        s.stopTimeoutSeconds = 1
        s.networks = [.init(network: network, aliases: ["svc"])]
        return s
    }

    func desired(_ project: String, _ services: [DesiredService]) -> DesiredProject {
        DesiredProject(name: project, services: services,
                       networks: [DesiredNetwork(name: "\(project)_default", key: "default", labels: [TestNames.testLabel: "1"])],
                       volumes: [DesiredVolume(name: "\(project)_data", key: "data", labels: [TestNames.testLabel: "1"])])
    }

    func reconcile(_ d: DesiredProject, prune: Bool = false) async throws -> (Plan, Applier.Report) {
        let r = Reconciler(engine: Host.engine, logger: Host.logger)
        let actual = try await r.actualState(project: d.name)
        let plan = Planner(options: .init(prune: prune)).plan(desired: d, actual: actual)
        let report = await Applier(engine: Host.engine, options: .init(waitTimeout: .seconds(20), settle: .milliseconds(500)),
                                   logger: Host.logger).apply(plan, desired: d)
        return (plan, report)
    }

    @Test func createThenNoOpThenReplaceKeepsVolumeData() async throws {
        let project = TestNames.unique("apply")
        let image = try await Host.busyboxID()
        var s = spec(image, env: ["V": "1"], command: ["sh", "-c", "echo $V >> /data/log; cat /data/log; sleep 100000"], network: "\(project)_default")
        s.mounts = [.init(type: "volume", source: "\(project)_data", target: "/data")]
        let (plan1, report1) = try await reconcile(desired(project, [DesiredService(name: "app", replicas: 2, spec: s)]))
        #expect(plan1.actions.map(\.kind) == [.createNetwork, .createVolume, .create, .create])
        #expect(report1.ok, "\(report1.failures)")

        let (plan2, _) = try await reconcile(desired(project, [DesiredService(name: "app", replicas: 2, spec: s)]))
        #expect(!plan2.hasChanges)

        s.environment["V"] = "2"
        let (plan3, report3) = try await reconcile(desired(project, [DesiredService(name: "app", replicas: 2, spec: s)]))
        #expect(plan3.actions.map(\.kind) == [.replace, .replace])
        #expect(plan3.actions[0].reasons == [#"environment.V: "1" → "2""#])
        #expect(report3.ok, "\(report3.failures)")

        let after = try await Host.containers(project: project)
        #expect(after.count == 2)
        #expect(Set(after.compactMap(\.name)) == ["\(project)-app-1", "\(project)-app-2"])
        #expect(after.allSatisfy { $0.state == "running" })
        // The volume kept what both generations wrote.
        // Replicas roll one at a time, so the last one replaced saw every earlier write.
        let id = try #require(after.first { $0.name == "\(project)-app-2" }?.id)
        let log = try await Host.engine.logs(id).collect()
        #expect(log.stdout == "1\n1\n2\n2\n")
        let inspect = try await Host.engine.inspectContainer(id)
        #expect(inspect.config?.env?.contains("V=2") == true)
        await Host.cleanUp(project: project)
    }

    @Test func failingReplacementIsRolledBack() async throws {
        let project = TestNames.unique("rollback")
        let image = try await Host.busyboxID()
        let good = spec(image, env: ["V": "good"], network: "\(project)_default")
        let (_, r1) = try await reconcile(desired(project, [DesiredService(name: "app", spec: good)]))
        #expect(r1.ok)
        let oldID = try #require(try await Host.containers(project: project).first?.id)

        var bad = spec(image, env: ["V": "bad"], command: ["sh", "-c", "echo boom; exit 3"], network: "\(project)_default")
        bad.restartPolicy = .init(name: "no")
        let (plan, report) = try await reconcile(desired(project, [DesiredService(name: "app", spec: bad)]))
        #expect(plan.actions.map(\.kind) == [.replace])
        #expect(!report.ok)
        let failure = try #require(report.failures.first)
        #expect(failure.rolledBack)
        #expect(failure.error?.contains("exited with code 3") == true)
        #expect(failure.error?.contains("boom") == true)

        let after = try await Host.containers(project: project)
        #expect(after.map(\.id) == [oldID])
        #expect(after.first?.name == "\(project)-app-1")
        #expect(after.first?.state == "running")
        await Host.cleanUp(project: project)
    }

    @Test func startFirstKeepsOldRunningUntilNewIsReady() async throws {
        let project = TestNames.unique("startfirst")
        let image = try await Host.busyboxID()
        var s = spec(image, env: ["V": "1"], network: "\(project)_default")
        let (_, r1) = try await reconcile(desired(project, [DesiredService(name: "app", spec: s, updateOrder: .startFirst)]))
        #expect(r1.ok)
        s.environment["V"] = "2"
        let (_, r2) = try await reconcile(desired(project, [DesiredService(name: "app", spec: s, updateOrder: .startFirst)]))
        #expect(r2.ok, "\(r2.failures)")
        let after = try await Host.containers(project: project)
        #expect(after.compactMap(\.name) == ["\(project)-app-1"])
        await Host.cleanUp(project: project)
    }

    @Test func driftIsRepaired() async throws {
        let project = TestNames.unique("drift")
        let image = try await Host.busyboxID()
        let s = spec(image, network: "\(project)_default")
        let d = desired(project, [DesiredService(name: "app", replicas: 2, spec: s)])
        _ = try await reconcile(d)
        let cs = try await Host.containers(project: project).sorted { ($0.name ?? "") < ($1.name ?? "") }
        try await Host.engine.stopContainer(cs[0].id, timeout: 0)
        try await Host.engine.removeContainer(cs[1].id, force: true)
        let (plan, report) = try await reconcile(d)
        #expect(plan.actions.map(\.kind) == [.start, .create])
        #expect(report.ok)
        let after = try await Host.containers(project: project)
        #expect(after.count == 2 && after.allSatisfy { $0.state == "running" })
        await Host.cleanUp(project: project)
    }

    @Test func crashMidReplaceIsRecovered() async throws {
        let project = TestNames.unique("crash")
        let image = try await Host.busyboxID()
        var s = spec(image, env: ["V": "1"], network: "\(project)_default")
        _ = try await reconcile(desired(project, [DesiredService(name: "app", spec: s)]))
        // Simulate a kill -9 right after the old container was stopped and set aside.
        let old = try #require(try await Host.containers(project: project).first)
        try await Host.engine.stopContainer(old.id, timeout: 0)
        try await Host.engine.renameContainer(old.id, to: "\(project)-app-1-berth-old")

        s.environment["V"] = "2"
        let (plan, report) = try await reconcile(desired(project, [DesiredService(name: "app", spec: s)]))
        #expect(plan.actions.map(\.kind) == [.recover, .replace])
        #expect(report.ok, "\(report.failures)")
        let after = try await Host.containers(project: project)
        #expect(after.compactMap(\.name) == ["\(project)-app-1"])
        #expect(after.first?.state == "running")
        await Host.cleanUp(project: project)
    }
}
