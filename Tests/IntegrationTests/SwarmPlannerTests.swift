import Engine
import Foundation
import Reconcile
import Testing

/// The swarm planner alone: desired stacks and swarm states built by hand, no engine.
@Suite struct SwarmPlannerTests {
    func spec(_ stack: String, _ key: String, env: [String] = ["V=1"], secrets: [String] = []) -> ServiceSpec {
        var c = SwarmContainerSpec()
        c.image = "berth.local/busybox:latest"
        c.env = env
        c.secrets = secrets.isEmpty ? nil : secrets.map { SecretReference(file: .init(name: "token"), secretName: $0) }
        var t = TaskSpec()
        t.containerSpec = c
        t.networks = [NetworkAttachmentConfig(target: "\(stack)_default", aliases: [key])]
        var s = ServiceSpec()
        s.name = "\(stack)_\(key)"
        s.labels = [SwarmLabels.namespace: stack]
        s.taskTemplate = t
        s.mode = .replicated(2)
        var u = ServiceUpdateConfig()
        u.delay = 0
        u.order = "start-first"
        s.updateConfig = u
        return s
    }

    /// What the engine returns for a spec Berth sent: hash label set, network by ID,
    /// secret IDs filled, zero values left out.
    func deployed(_ desired: SwarmDesiredService, id: String, replicas: UInt64? = nil) throws -> SwarmServiceSummary {
        var spec = desired.spec
        spec.labels?[SwarmLabels.specHash] = desired.specHash
        spec.labels?[Labels.revision] = "abc"
        let networks = spec.taskTemplate?.networks?.map { NetworkAttachmentConfig(target: "net-id", aliases: $0.aliases) }
        spec.taskTemplate?.networks = networks
        spec.updateConfig?.delay = nil
        if let replicas { spec.mode = .replicated(Int(replicas)) }
        let json = try JSONEncoder().encode(spec)
        let body = #"{"ID":"\#(id)","Version":{"Index":7},"Spec":"# + String(decoding: json, as: UTF8.self) + "}"
        return try SwarmServiceSummary(json: Data(body.utf8))
    }

    func object(_ name: String, id: String, stack: String, key: String) throws -> SwarmObject {
        let body = #"{"ID":"\#(id)","Spec":{"Name":"\#(name)","Labels":{"\#(SwarmLabels.namespace)":"\#(stack)","\#(SwarmLabels.key)":"\#(key)"}}}"#
        return try JSONDecoder().decode(SwarmObject.self, from: Data(body.utf8))
    }

    func network(_ name: String, id: String) throws -> NetworkSummary {
        NetworkSummary(id: id, name: name, driver: "overlay", scope: "swarm")
    }

    /// The networks a service runs with, per its hash label, exist: a no-op need not list
    /// them. A changed or missing service, or a network no service uses, proves nothing.
    @Test func servicesThatMatchProveTheirNetworks() throws {
        let web = SwarmDesiredService(name: "s_web", key: "web", spec: spec("s", "web"))
        let stack = SwarmStack(name: "s", services: [web], networks: [DesiredNetwork(name: "s_default", key: "default")])
        let running = [try deployed(web, id: "svc1")]
        let proven = try #require(SwarmReconciler.provenNetworks(stack, services: running))
        #expect(proven == [NetworkSummary(id: "", name: "s_default", driver: "overlay", scope: "swarm")])
        let plan = SwarmPlanner().plan(desired: stack, actual: SwarmActualState(services: running, networks: proven, secrets: [], configs: []))
        #expect(!plan.hasChanges)

        let changed = SwarmDesiredService(name: "s_web", key: "web", spec: spec("s", "web", env: ["V=2"]))
        #expect(SwarmReconciler.provenNetworks(SwarmStack(name: "s", services: [changed], networks: stack.networks), services: running) == nil)
        #expect(SwarmReconciler.provenNetworks(stack, services: []) == nil)
        let unused = SwarmStack(name: "s", services: [web], networks: stack.networks + [DesiredNetwork(name: "s_back", key: "back")])
        #expect(SwarmReconciler.provenNetworks(unused, services: running) == nil)
        var foreign = running
        foreign[0].labels?[SwarmLabels.namespace] = "other"
        #expect(SwarmReconciler.provenNetworks(stack, services: foreign) == nil)
    }

    @Test func sameHashIsUnchangedAndFieldsNameTheChange() throws {
        let web = SwarmDesiredService(name: "s_web", key: "web", spec: spec("s", "web"))
        let actual = SwarmActualState(services: [try deployed(web, id: "svc1")], networks: [try network("s_default", id: "net-id")],
                                      secrets: [], configs: [])
        let same = SwarmPlanner().plan(desired: SwarmStack(name: "s", services: [web], networks: [DesiredNetwork(name: "s_default", key: "default")]),
                                       actual: actual)
        #expect(same.actions.map(\.kind) == [.unchanged])
        #expect(same.actions.first?.containerID == "svc1")
        #expect(!same.hasChanges)

        // Only the changed field is reported: not the network ID, the omitted zero delay, or
        // the identity label.
        let changed = SwarmDesiredService(name: "s_web", key: "web", spec: spec("s", "web", env: ["V=2"]))
        let plan = SwarmPlanner().plan(desired: SwarmStack(name: "s", services: [changed]), actual: actual)
        #expect(plan.actions.map(\.kind) == [.replace])
        #expect(plan.actions.first?.reasons == [#"TaskTemplate.ContainerSpec.Env[0]: "V=1" → "V=2""#])
    }

    @Test func replicasChangedOutsideBerthIsDrift() throws {
        let web = SwarmDesiredService(name: "s_web", key: "web", spec: spec("s", "web"))
        let actual = SwarmActualState(services: [try deployed(web, id: "svc1", replicas: 5)], networks: [], secrets: [], configs: [])
        let plan = SwarmPlanner().plan(desired: SwarmStack(name: "s", services: [web]), actual: actual)
        #expect(plan.actions.first?.reasons == ["Mode.Replicated.Replicas: 5 → 2 (changed outside Berth)"])
    }

    @Test func rotatedSecretIsReplacedAndTheOldOneRemovedLast() throws {
        let new = SwarmDesiredObject(name: "s_token_new", key: "token", content: Data("two".utf8))
        let web = SwarmDesiredService(name: "s_web", key: "web", spec: spec("s", "web", secrets: ["s_token_new"]))
        let old = SwarmDesiredService(name: "s_web", key: "web", spec: spec("s", "web", secrets: ["s_token_old"]))
        let actual = SwarmActualState(services: [try deployed(old, id: "svc1")], networks: [try network("s_default", id: "net-id")],
                                      secrets: [try object("s_token_old", id: "sec1", stack: "s", key: "token"),
                                                try object("other_token_x", id: "sec2", stack: "other", key: "token")],
                                      configs: [])
        let plan = SwarmPlanner().plan(desired: SwarmStack(name: "s", services: [web], secrets: [new]), actual: actual)
        #expect(plan.actions.map(\.kind) == [.createSecret, .replace, .removeSecret])
        #expect(plan.actions[0].reasons.first?.contains("replaces s_token_old") == true)
        #expect(plan.actions[1].reasons == [#"TaskTemplate.ContainerSpec.Secrets[0].SecretName: "s_token_old" → "s_token_new""#])
        #expect(plan.actions[2].target == "s_token_old" && plan.actions[2].containerID == "sec1")
        // Rendered for people with the plan's own vocabulary.
        let text = PlanRenderer(colour: false).text(plan)
        #expect(text.hasPrefix("Stack s:\n"))
        #expect(text.contains("+ create-secret s_token_new"))
        #expect(text.contains("- remove-secret s_token_old"))
    }

    @Test func pruneDecidesAboutServicesAndObjectsThatLeftTheFile() throws {
        let web = SwarmDesiredService(name: "s_web", key: "web", spec: spec("s", "web"))
        let gone = SwarmDesiredService(name: "s_gone", key: "gone", spec: spec("s", "gone"))
        let actual = SwarmActualState(services: [try deployed(web, id: "svc1"), try deployed(gone, id: "svc2")], networks: [],
                                      secrets: [], configs: [try object("s_conf_abc", id: "cfg1", stack: "s", key: "conf")])
        let stack = SwarmStack(name: "s", services: [web])
        let keep = SwarmPlanner(options: .init(prune: false))
        #expect(keep.plan(desired: stack, actual: actual).actions.map(\.kind) == [.unchanged])
        #expect(keep.keptOrphans(desired: stack, actual: actual) == ["s_gone"])
        let prune = SwarmPlanner(options: .init(prune: true))
        let plan = prune.plan(desired: stack, actual: actual)
        #expect(plan.actions.map(\.kind) == [.unchanged, .removeOrphan, .removeConfig])
        #expect(plan.actions[1].containerID == "svc2")
        #expect(prune.keptOrphans(desired: stack, actual: actual).isEmpty)
    }

    @Test func contentNamesAndHashes() {
        let a = SwarmDesiredObject(name: "", key: "k", content: Data("one".utf8))
        #expect(a.contentHash == "7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed")
        #expect(SwarmNaming.rotated("web_token", contentHash: a.contentHash) == "web_token_7692c3ad35")
        // The spec hash is the same for equal specs and differs for any change.
        #expect(SwarmDesiredService.hash(spec("s", "web")) == SwarmDesiredService.hash(spec("s", "web")))
        #expect(SwarmDesiredService.hash(spec("s", "web")) != SwarmDesiredService.hash(spec("s", "web", env: ["V=2"])))
    }
}
