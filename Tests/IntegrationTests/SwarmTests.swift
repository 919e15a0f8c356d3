import Engine
import Foundation
import Reconcile
import TestSupport
import Testing

/// The swarm target against the single-node swarm of ops/setup, with berth.local/busybox
/// (a local image: on one node swarm runs it without a registry).
@Suite(.serialized) struct SwarmTests {
    init() async throws {
        let swarm = try await Host.engine.info().swarm
        try #require(swarm?.localNodeState == "active" && swarm?.controlAvailable == true,
                     "the engine is not a swarm manager; run ops/setup")
    }

    @Test func deployThenDryRunShowsNoChanges() async throws {
        try await withStack { f in
            try f.write("services:\n" + SwarmFixture.service("web", deploy: "replicas: 2")
                        + SwarmFixture.service("agent", deploy: "mode: global") + SwarmFixture.networks)
            let (plan, report) = try await f.deploy()
            #expect(plan.target == "swarm")
            #expect(plan.actions.map(\.kind) == [.createNetwork, .create, .create], "\(plan.actions)")
            #expect(plan.actions.map(\.target) == ["\(f.name)_default", "\(f.name)_agent", "\(f.name)_web"])
            #expect(report.ok, "\(report.failures)")

            let web = try await f.service("web")
            #expect(web.spec?.labels?[SwarmLabels.namespace] == f.name)
            #expect(web.spec?.labels?[SwarmLabels.specHash]?.count == 64)
            #expect(web.spec?.taskTemplate?.containerSpec?.labels?[SwarmLabels.namespace] == f.name)
            #expect(try await f.runningTasks("web").count == 2)
            #expect(try await f.runningTasks("agent").count == 1)
            let network = try await Host.engine.inspectNetwork("\(f.name)_default")
            #expect(network.driver == "overlay" && network.scope == "swarm")

            // Right after the deploy a plan has nothing to do, from labels alone.
            let (_, _, again) = try await f.plan()
            #expect(!again.hasChanges, "\(again.actions.filter { $0.kind != .unchanged })")
            #expect(again.count(.unchanged) == 2)
            #expect(PlanRenderer(colour: false).text(again).contains("No changes: 2 services up to date."))

            // docker's own stack commands see it as a stack.
            let services = try await Host.run("/usr/bin/docker", ["stack", "services", f.name, "--format", "{{.Name}}"])
            #expect(services.stdout.split(separator: "\n").sorted() == ["\(f.name)_agent", "\(f.name)_web"], "\(services.stderr)")
        }
    }

    @Test func rollingUpdateStartFirst() async throws {
        try await withStack { f in
            let deploy = """
            replicas: 2
            update_config:
              order: start-first
              parallelism: 1
              delay: 0s
              monitor: 1s
            """
            try f.write("services:\n" + SwarmFixture.service("web", env: "1", deploy: deploy) + SwarmFixture.networks)
            let (_, first) = try await f.deploy()
            #expect(first.ok, "\(first.failures)")
            let before = try await f.runningTasks("web")

            try f.write("services:\n" + SwarmFixture.service("web", env: "2", deploy: deploy) + SwarmFixture.networks)
            let (plan, report) = try await f.deploy()
            #expect(plan.actions.map(\.kind) == [.replace])
            #expect(plan.actions.first?.reasons == [#"TaskTemplate.ContainerSpec.Env[0]: "V=1" → "V=2""#])
            #expect(report.ok, "\(report.failures)")

            let service = try await f.service("web")
            #expect(service.updateStatus?.state == "completed")
            #expect(service.spec?.updateConfig?.order == "start-first")
            #expect(service.spec?.taskTemplate?.containerSpec?.env == ["V=2"])
            let after = try await f.runningTasks("web")
            #expect(after.count == 2)
            #expect(Set(after.map(\.id)).isDisjoint(with: before.map(\.id)))
            // start-first: in each slot the new task ran before the old one was shut down.
            let all = try await Host.engine.listTasks(filters: ["service": ["\(f.name)_web"]])
            for new in after {
                let old = try #require(all.first { $0.slot == new.slot && before.map(\.id).contains($0.id) })
                #expect(engineTime(new.status?.timestamp) <= engineTime(old.status?.timestamp),
                        "slot \(new.slot ?? 0): new running at \(new.status?.timestamp ?? "?"), old stopped at \(old.status?.timestamp ?? "?")")
            }
        }
    }

    @Test func failedUpdateIsRolledBackAndReportedAsFailure() async throws {
        try await withStack { f in
            let deploy = """
            replicas: 1
            restart_policy:
              condition: none
            update_config:
              failure_action: rollback
              monitor: 2s
              delay: 0s
            rollback_config:
              parallelism: 1
              monitor: 1s
            """
            try f.write("services:\n" + SwarmFixture.service("web", deploy: deploy) + SwarmFixture.networks)
            let (_, first) = try await f.deploy()
            #expect(first.ok, "\(first.failures)")
            let goodHash = try await f.service("web").spec?.labels?[SwarmLabels.specHash]

            // The new version exits 1 at once: swarm sees the task fail and rolls back.
            try f.write("services:\n" + SwarmFixture.service("web", deploy: deploy, extra: #"entrypoint: ["false"]"#)
                        + SwarmFixture.networks)
            let (plan, report) = try await f.deploy()
            #expect(plan.actions.map(\.kind) == [.replace])
            #expect(!report.ok)
            let failure = try #require(report.failures.first)
            #expect(failure.rolledBack)
            #expect(failure.error?.contains("rolled the update back") == true, "\(failure.error ?? "")")
            #expect(failure.error?.contains("non-zero exit (1)") == true, "error: \(failure.error ?? "")")

            // The previous version runs again, and the next plan still wants the update.
            let service = try await f.service("web")
            #expect(service.updateStatus?.state == "rollback_completed")
            #expect(service.spec?.labels?[SwarmLabels.specHash] == goodHash)
            #expect(service.spec?.taskTemplate?.containerSpec?.command == nil)
            #expect(try await f.runningTasks("web").count == 1)
            let (_, _, again) = try await f.plan()
            #expect(again.actions.map(\.kind) == [.replace])
        }
    }

    @Test func secretRotation() async throws {
        try await withStack { f in
            let yaml = "services:\n" + SwarmFixture.service("web", deploy: "update_config:\n  order: start-first\n  monitor: 1s",
                                                          extra: "secrets:\n  - token\nconfigs:\n  - source: conf\n    target: /etc/app.conf")
                + SwarmFixture.networks + """
                secrets:
                  token:
                    file: ./token.txt
                    labels:
                      dev.berth.test: "1"
                configs:
                  conf:
                    content: "level=info"
                    labels:
                      dev.berth.test: "1"

                """
            try f.write(yaml)
            try f.write(file: "token.txt", "one")
            let (plan1, report1) = try await f.deploy()
            #expect(plan1.actions.map(\.kind) == [.createNetwork, .createSecret, .createConfig, .create])
            #expect(report1.ok, "\(report1.failures)")
            let secrets1 = try await Host.engine.listSecrets(filters: ["label": ["\(SwarmLabels.namespace)=\(f.name)"]])
            #expect(secrets1.map(\.name) == ["\(f.name)_token_\(sha10("one"))"])
            let task1 = try #require(try await f.runningTasks("web").first?.status?.containerStatus?.containerID)
            #expect(try await f.exec(task1, ["cat", "/run/secrets/token"]).stdout == "one")
            #expect(try await f.exec(task1, ["cat", "/etc/app.conf"]).stdout == "level=info")

            try f.write(file: "token.txt", "two")
            let (plan2, report2) = try await f.deploy()
            #expect(plan2.actions.map(\.kind) == [.createSecret, .replace, .removeSecret], "\(plan2.actions)")
            #expect(plan2.actions.first?.target == "\(f.name)_token_\(sha10("two"))")
            #expect(plan2.actions.last?.target == "\(f.name)_token_\(sha10("one"))")
            #expect(report2.ok, "\(report2.failures)")
            let secrets2 = try await Host.engine.listSecrets(filters: ["label": ["\(SwarmLabels.namespace)=\(f.name)"]])
            #expect(secrets2.map(\.name) == ["\(f.name)_token_\(sha10("two"))"])
            let task2 = try #require(try await f.runningTasks("web").first?.status?.containerStatus?.containerID)
            #expect(try await f.exec(task2, ["cat", "/run/secrets/token"]).stdout == "two")
            let (_, _, again) = try await f.plan()
            #expect(!again.hasChanges)
        }
    }

    @Test func pruneRemovesServicesAndConfigsThatLeftTheFile() async throws {
        try await withStack { f in
            let configs = """
            configs:
              conf:
                content: "x"
                labels:
                  dev.berth.test: "1"

            """
            try f.write("services:\n" + SwarmFixture.service("web") + SwarmFixture.service("old", extra: "configs:\n  - conf")
                        + SwarmFixture.networks + configs)
            let (_, first) = try await f.deploy()
            #expect(first.ok, "\(first.failures)")

            try f.write("services:\n" + SwarmFixture.service("web") + SwarmFixture.networks)
            let (stack, actual, kept) = try await f.plan(prune: false)
            #expect(!kept.hasChanges)
            #expect(SwarmPlanner().keptOrphans(desired: stack, actual: actual) == ["\(f.name)_old"])

            let (plan, report) = try await f.deploy(prune: true)
            #expect(plan.actions.map(\.kind) == [.unchanged, .removeOrphan, .removeConfig], "\(plan.actions)")
            #expect(report.ok, "\(report.failures)")
            let services = try await Host.engine.listServices(filters: ["label": ["\(SwarmLabels.namespace)=\(f.name)"]])
            #expect(services.compactMap(\.spec?.name) == ["\(f.name)_web"])
            #expect(try await Host.engine.listConfigs(filters: ["label": ["\(SwarmLabels.namespace)=\(f.name)"]]).isEmpty)
        }
    }

    @Test func cliDeploysAStackAndDriftCheckIsClean() async throws {
        try await withStack { f in
            try f.write("services:\n" + SwarmFixture.service("web", deploy: "replicas: 2") + SwarmFixture.networks)
            let dry = try await Host.run(Host.berthBinary, ["reconcile", "--swarm", "-f", f.file, "-p", f.name, "--dry-run", "--exit-code"])
            #expect(dry.status == 2, "\(dry.stdout)\(dry.stderr)")
            #expect(dry.stdout.contains("+ create \(f.name)_web"))
            #expect(try await Host.engine.listServices(filters: ["label": ["\(SwarmLabels.namespace)=\(f.name)"]]).isEmpty)

            let apply = try await Host.run(Host.berthBinary, ["reconcile", "--swarm", "-f", f.file, "-p", f.name])
            #expect(apply.status == 0, "\(apply.stdout)\(apply.stderr)")
            #expect(apply.stderr.contains("has no registry digest"), "\(apply.stderr)")
            #expect(try await f.runningTasks("web").count == 2)

            let check = try await Host.run(Host.berthBinary, ["reconcile", "--swarm", "-f", f.file, "-p", f.name,
                                                              "--dry-run", "--exit-code", "--output", "json"])
            #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any])
            #expect(json["changes"] as? Bool == false)
        }
    }

    @Test func repoModeDeploysTargetSwarmApps() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(TestNames.unique("berth-srepo"))
        let app = TestNames.unique("sapp")
        // The folder carries the app's name: AppLoader currently names a project after its
        // folder rather than the app (the loaded document always has `name:`).
        let folder = root.appendingPathComponent("stacks/\(app)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try ("services:\n" + SwarmFixture.service("edge") + SwarmFixture.networks)
            .write(to: folder.appendingPathComponent("stack.yaml"), atomically: true, encoding: .utf8)
        try "apps:\n  \(app):\n    path: stacks/\(app)\n    files: [stack.yaml]\n    target: swarm\n"
            .write(to: root.appendingPathComponent("berth.yaml"), atomically: true, encoding: .utf8)
        let r = try await Host.run(Host.berthBinary, ["reconcile", "--repo", root.path, "--state-dir", root.appendingPathComponent(".state").path])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("Stack \(app):"))
        let service = try? await Host.engine.inspectService("\(app)_edge")
        #expect(service?.spec?.labels?[Labels.app] == app)
        #expect(service?.spec?.labels?[SwarmLabels.namespace] == app)
        await SwarmFixture.cleanUp(stack: app)
        try? FileManager.default.removeItem(at: root)
    }

    @Test func scaleOutsideBerthIsDriftAndRepaired() async throws {
        try await withStack { f in
            try f.write("services:\n" + SwarmFixture.service("web", deploy: "replicas: 2") + SwarmFixture.networks)
            let (_, first) = try await f.deploy()
            #expect(first.ok, "\(first.failures)")
            let scale = try await Host.run("/usr/bin/docker", ["service", "scale", "--detach", "\(f.name)_web=3"])
            #expect(scale.status == 0, "\(scale.stderr)")

            let (plan, report) = try await f.deploy()
            #expect(plan.actions.map(\.kind) == [.replace])
            #expect(plan.actions.first?.reasons == ["Mode.Replicated.Replicas: 3 → 2 (changed outside Berth)"])
            #expect(report.ok, "\(report.failures)")
            #expect(try await f.service("web").spec?.mode?.replicated?.replicas == 2)
            #expect(try await f.runningTasks("web").count == 2)
        }
    }

    @Test func imageWithRegistryDigestIsPinned() async throws {
        let tag = TestNames.unique("swarm")
        let reference = "127.0.0.1:5000/berth-test/busybox:\(tag)"
        try await Host.engine.tagImage(Host.busybox, repository: "127.0.0.1:5000/berth-test/busybox", tag: tag)
        let push = try await Host.run("/usr/bin/docker", ["push", reference])
        #expect(push.status == 0, "\(push.stderr)")
        try await withStack { f in
            try f.write("services:\n" + SwarmFixture.service("web").replacingOccurrences(of: Host.busybox, with: reference)
                        + SwarmFixture.networks)
            let stack = try await f.stack()
            let image = try #require(stack.services.first?.spec.taskTemplate?.containerSpec?.image)
            #expect(image.hasPrefix(reference + "@sha256:"), "\(image)")
            #expect(stack.services.first?.spec.taskTemplate?.containerSpec?.labels?[SwarmLabels.imageID] == nil)
            #expect(stack.warnings.isEmpty, "\(stack.warnings)")
            let (_, report) = try await f.deploy()
            #expect(report.ok, "\(report.failures)")
            #expect(try await f.service("web").spec?.taskTemplate?.containerSpec?.image == image)
        }
        _ = try? await Host.engine.removeImage(reference)
    }

    @Test func missingImageChangesNothing() async throws {
        try await withStack { f in
            try f.write("services:\n" + SwarmFixture.service("web") + """
              bad:
                image: 127.0.0.1:5000/berth-test/does-not-exist:nope
                labels:
                  dev.berth.test: "1"

            """ + SwarmFixture.networks)
            await #expect(throws: ReconcileError.self) { try await f.deploy() }
            #expect(try await Host.engine.listServices(filters: ["label": ["\(SwarmLabels.namespace)=\(f.name)"]]).isEmpty)
            #expect(try await Host.engine.listNetworks(filters: ["label": ["\(SwarmLabels.namespace)=\(f.name)"]]).isEmpty)
        }
    }

    @Test func deployKeysMapToTheServiceSpec() async throws {
        try await withStack { f in
            try f.write("""
            services:
              api:
                image: berth.local/busybox:latest
                entrypoint: ["/bin/sh", "-c"]
                command: ["exec sleep 1000"]
                environment: {B: "2", A: "1"}
                labels: {dev.berth.test: "1"}
                ports:
                  - "8080:80"
                  - target: 9000
                    published: 9001
                    protocol: udp
                    mode: host
                healthcheck:
                  test: ["CMD", "true"]
                  interval: 5s
                  retries: 2
                volumes:
                  - data:/data
                  - type: tmpfs
                    target: /scratch
                extra_hosts: ["db=10.0.0.5"]
                deploy:
                  mode: replicated
                  replicas: 3
                  endpoint_mode: vip
                  labels: {tier: api}
                  placement:
                    constraints: [node.role == manager]
                    preferences:
                      - spread: node.labels.zone
                    max_replicas_per_node: 2
                  resources:
                    limits: {cpus: "0.5", memory: 64M, pids: 100}
                    reservations: {cpus: "0.25", memory: 32M}
                  restart_policy: {condition: on-failure, delay: 2s, max_attempts: 3, window: 10s}
                  update_config: {parallelism: 2, delay: 1s, failure_action: rollback, monitor: 3s, max_failure_ratio: 0.5, order: start-first}
                  rollback_config: {parallelism: 1, order: stop-first}
              dns:
                image: berth.local/busybox:latest
                deploy:
                  mode: global
                  endpoint_mode: dnsrr
            volumes:
              data: {}
            """)
            let stack = try await f.stack()
            let api = try #require(stack.service("\(f.name)_api")?.spec)
            let c = try #require(api.taskTemplate?.containerSpec)
            #expect(c.image == "berth.local/busybox:latest")
            #expect(c.command == ["/bin/sh", "-c"] && c.args == ["exec sleep 1000"])
            #expect(c.env == ["A=1", "B=2"])
            #expect(c.labels?["dev.berth.test"] == "1" && c.labels?[SwarmLabels.namespace] == f.name)
            #expect(c.labels?[SwarmLabels.imageID]?.hasPrefix("sha256:") == true)
            #expect(c.hosts == ["10.0.0.5 db"])
            #expect(c.healthCheck?.test == ["CMD", "true"] && c.healthCheck?.interval == 5_000_000_000 && c.healthCheck?.retries == 2)
            #expect(c.mounts?.map(\.type) == ["volume", "tmpfs"])
            #expect(c.mounts?.first?.source == "\(f.name)_data")
            #expect(c.mounts?.first?.volumeOptions?.labels?[SwarmLabels.namespace] == f.name)
            #expect(api.labels?["tier"] == "api" && api.labels?[SwarmLabels.image] == "berth.local/busybox:latest")
            #expect(api.mode?.replicated?.replicas == 3)
            let t = try #require(api.taskTemplate)
            #expect(t.placement?.constraints == ["node.role == manager"])
            #expect(t.placement?.preferences?.first?.spread?.spreadDescriptor == "node.labels.zone")
            #expect(t.placement?.maxReplicas == 2)
            #expect(t.resources?.limits?.nanoCPUs == 500_000_000 && t.resources?.limits?.memoryBytes == 64 << 20)
            #expect(t.resources?.limits?.pids == 100)
            #expect(t.resources?.reservations?.nanoCPUs == 250_000_000 && t.resources?.reservations?.memoryBytes == 32 << 20)
            #expect(t.restartPolicy?.condition == "on-failure" && t.restartPolicy?.maxAttempts == 3)
            #expect(t.restartPolicy?.delay == 2_000_000_000 && t.restartPolicy?.window == 10_000_000_000)
            #expect(t.networks?.map(\.target) == ["\(f.name)_default"] && t.networks?.first?.aliases == ["api"])
            let u = try #require(api.updateConfig)
            #expect(u.parallelism == 2 && u.delay == 1_000_000_000 && u.failureAction == "rollback")
            #expect(u.monitor == 3_000_000_000 && u.maxFailureRatio == 0.5 && u.order == "start-first")
            #expect(api.rollbackConfig?.parallelism == 1 && api.rollbackConfig?.order == "stop-first")
            #expect(api.endpointSpec?.mode == "vip")
            #expect(api.endpointSpec?.ports == [
                EndpointPortConfig(protocol: "tcp", targetPort: 80, publishedPort: 8080, publishMode: "ingress"),
                EndpointPortConfig(protocol: "udp", targetPort: 9000, publishedPort: 9001, publishMode: "host"),
            ])
            let dns = try #require(stack.service("\(f.name)_dns")?.spec)
            #expect(dns.mode == .global)
            #expect(dns.endpointSpec?.mode == "dnsrr")
            #expect(stack.networks.map(\.name) == ["\(f.name)_default"] && stack.networks.first?.driver == "overlay")
            // The hash is stable across loads and moves with any change.
            #expect(try await f.stack().service("\(f.name)_api")?.specHash == stack.service("\(f.name)_api")?.specHash)
        }
    }
}

/// Runs a test with a fresh stack fixture and removes the stack afterwards, also on failure.
func withStack(_ body: (SwarmFixture) async throws -> Void) async throws {
    let f = try SwarmFixture()
    do {
        try await body(f)
    } catch {
        await f.cleanUp()
        throw error
    }
    await f.cleanUp()
}

func sha10(_ s: String) -> String {
    SwarmDesiredObject(name: "", key: "", content: Data(s.utf8)).contentHash.prefix(10).description
}
