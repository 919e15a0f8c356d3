import Testing
@testable import Reconcile

private func spec(env: [String: String] = ["LOG_LEVEL": "info"], image: String = "sha256:aaa") -> ContainerSpec {
    var s = ContainerSpec(image: image, imageReference: "berth.local/busybox:latest")
    s.environment = env
    s.command = ["sleep", "1000"]
    return s
}

private func container(_ name: String, service: String, number: Int, spec: ContainerSpec, state: String = "running",
                       status: String = "Up 1 second", project: String = "p") -> ActualContainer {
    ActualContainer(id: "id-\(name)", name: name, labels: [
        Labels.project: project, Labels.service: service, Labels.containerNumber: String(number),
        Labels.oneoff: "False", Labels.configHash: spec.configHash,
        Labels.spec: String(decoding: spec.canonicalJSON(), as: UTF8.self),
    ], state: state, status: status, imageID: spec.image)
}

private func project(_ services: [DesiredService]) -> DesiredProject {
    DesiredProject(name: "p", services: services,
                   networks: [DesiredNetwork(name: "p_default", key: "default")],
                   volumes: [DesiredVolume(name: "p_data", key: "data")])
}

@Suite struct PlannerTests {
    @Test func emptyHostCreatesEverything() {
        let plan = Planner().plan(desired: project([DesiredService(name: "web", replicas: 2, spec: spec())]),
                                  actual: ActualState(containers: [], networks: [], volumes: []))
        #expect(plan.actions.map(\.kind) == [.createNetwork, .createVolume, .create, .create])
        #expect(plan.actions.map(\.target) == ["p_default", "p_data", "p-web-1", "p-web-2"])
        #expect(plan.hasChanges)
    }

    @Test func sameSpecIsUnchanged() {
        let s = spec()
        let plan = Planner().plan(desired: project([DesiredService(name: "web", spec: s)]),
                                  actual: ActualState(containers: [container("p-web-1", service: "web", number: 1, spec: s)],
                                                      networks: ["p_default"], volumes: [ActualVolume(name: "p_data", labels: [:])]))
        #expect(plan.actions.map(\.kind) == [.unchanged])
        #expect(!plan.hasChanges)
    }

    @Test func changedEnvironmentIsAReplaceWithFieldReasons() {
        let old = spec(env: ["LOG_LEVEL": "info"])
        let new = spec(env: ["LOG_LEVEL": "debug"])
        let plan = Planner().plan(desired: project([DesiredService(name: "web", spec: new)]),
                                  actual: ActualState(containers: [container("p-web-1", service: "web", number: 1, spec: old)],
                                                      networks: ["p_default"], volumes: [ActualVolume(name: "p_data", labels: [:])]))
        let replace = try? #require(plan.actions.first { $0.kind == .replace })
        #expect(replace?.reasons == [#"environment.LOG_LEVEL: "info" → "debug""#])
        #expect(replace?.containerID == "id-p-web-1")
    }

    @Test func stoppedContainerIsStartedAndScaleDownRemovesHighestFirst() {
        let s = spec()
        let actual = ActualState(containers: [
            container("p-web-1", service: "web", number: 1, spec: s, state: "exited", status: "Exited (137) 2 seconds ago"),
            container("p-web-2", service: "web", number: 2, spec: s),
            container("p-web-3", service: "web", number: 3, spec: s),
        ], networks: ["p_default"], volumes: [ActualVolume(name: "p_data", labels: [:])])
        let plan = Planner().plan(desired: project([DesiredService(name: "web", replicas: 1, spec: s)]), actual: actual)
        #expect(plan.actions.map(\.kind) == [.start, .scaleDown, .scaleDown])
        #expect(plan.actions.map(\.target) == ["p-web-1", "p-web-3", "p-web-2"])
    }

    @Test func orphansOnlyRemovedWithPrune() {
        let s = spec()
        let actual = ActualState(containers: [container("p-old-1", service: "old", number: 1, spec: s)],
                                 networks: ["p_default"], volumes: [ActualVolume(name: "p_data", labels: [:])])
        let desired = project([])
        #expect(Planner().plan(desired: desired, actual: actual).actions.isEmpty)
        #expect(Planner().keptOrphans(desired: desired, actual: actual) == ["p-old-1"])
        let pruned = Planner(options: .init(prune: true)).plan(desired: desired, actual: actual)
        #expect(pruned.actions.map(\.kind) == [.removeOrphan])
    }

    @Test func volumesAreNeverRemovedWithoutPruneVolumes() {
        let actual = ActualState(containers: [], networks: ["p_default"], volumes: [
            ActualVolume(name: "p_data", labels: [Labels.project: "p", Labels.volume: "data"]),
            ActualVolume(name: "p_gone", labels: [Labels.project: "p", Labels.volume: "gone"]),
        ])
        let desired = project([])
        #expect(Planner(options: .init(prune: true)).plan(desired: desired, actual: actual).actions.isEmpty)
        let plan = Planner(options: .init(prune: true, pruneVolumes: true)).plan(desired: desired, actual: actual)
        #expect(plan.actions.map(\.target) == ["p_gone"])
        #expect(plan.actions.map(\.kind) == [.removeVolume])
    }

    @Test func crashedStopFirstReplaceIsRolledBack() {
        let old = spec(env: ["V": "1"])
        let new = spec(env: ["V": "2"])
        // Old set aside and stopped; new created but never became ready (exited).
        let actual = ActualState(containers: [
            container("p-web-1-berth-old", service: "web", number: 1, spec: old, state: "exited", status: "Exited (0) now"),
            container("p-web-1", service: "web", number: 1, spec: new, state: "created", status: "Created"),
        ], networks: ["p_default"], volumes: [ActualVolume(name: "p_data", labels: [:])])
        let plan = Planner().plan(desired: project([DesiredService(name: "web", spec: new)]), actual: actual)
        #expect(plan.actions.map(\.kind) == [.recover, .replace])
        #expect(plan.actions[0].recovery == .restoreAside(asideID: "id-p-web-1-berth-old", halfStartedID: "id-p-web-1"))
        #expect(plan.actions[1].containerID == "id-p-web-1-berth-old")
    }

    @Test func crashedReplaceWhoseNewContainerRunsIsFinished() {
        let old = spec(env: ["V": "1"])
        let new = spec(env: ["V": "2"])
        let actual = ActualState(containers: [
            container("p-web-1-berth-old", service: "web", number: 1, spec: old, state: "exited", status: "Exited (0) now"),
            container("p-web-1", service: "web", number: 1, spec: new),
        ], networks: ["p_default"], volumes: [ActualVolume(name: "p_data", labels: [:])])
        let plan = Planner().plan(desired: project([DesiredService(name: "web", spec: new)]), actual: actual)
        #expect(plan.actions.map(\.kind) == [.recover, .unchanged])
        #expect(plan.actions[0].recovery == .removeAside(asideID: "id-p-web-1-berth-old"))
    }

    @Test func imageChangedBehindTheLabelIsDetected() {
        let s = spec()
        var c = container("p-web-1", service: "web", number: 1, spec: s)
        c.imageID = "sha256:bbb"
        let plan = Planner().plan(desired: project([DesiredService(name: "web", spec: s)]),
                                  actual: ActualState(containers: [c], networks: ["p_default"], volumes: [ActualVolume(name: "p_data", labels: [:])]))
        #expect(plan.actions.map(\.kind) == [.replace])
        #expect(plan.actions[0].reasons.first?.hasPrefix("image: sha256:bbb") == true)
    }

    @Test func startFirstFallsBackToStopFirstWithFixedHostPorts() {
        var s = spec()
        let free = DesiredService(name: "web", spec: s, updateOrder: .startFirst)
        #expect(free.effectiveUpdateOrder == .startFirst)
        s.ports = [.init(containerPort: 80, hostPort: "8080")]
        let fixed = DesiredService(name: "web", spec: s, updateOrder: .startFirst)
        #expect(fixed.effectiveUpdateOrder == .stopFirst)
    }

    @Test func configHashIsStableAndSensitive() {
        #expect(spec().configHash == spec().configHash)
        #expect(spec().configHash != spec(env: ["LOG_LEVEL": "debug"]).configHash)
        #expect(spec().configHash.count == 64)
    }
}
