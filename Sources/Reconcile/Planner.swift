/// Desired vs actual → plan. Pure: no engine calls, so `--dry-run` and tests share it.
public struct Planner: Sendable {
    public struct Options: Sendable {
        /// Remove containers of services that left the project (`--remove-orphans`).
        public var prune: Bool
        /// Remove the project's named volumes that left the project. Never implied.
        public var pruneVolumes: Bool
        public init(prune: Bool = false, pruneVolumes: Bool = false) {
            self.prune = prune
            self.pruneVolumes = pruneVolumes
        }
    }

    public var options: Options
    public init(options: Options = Options()) { self.options = options }

    public func plan(desired: DesiredProject, actual: ActualState) -> Plan {
        var actions: [Action] = []
        for network in desired.networks where !network.external && !actual.networks.contains(network.name) {
            actions.append(Action(kind: .createNetwork, target: network.name, reasons: ["network does not exist"]))
        }
        for volume in desired.volumes where !volume.external && !actual.volumes.contains(where: { $0.name == volume.name }) {
            actions.append(Action(kind: .createVolume, target: volume.name, reasons: ["volume does not exist"]))
        }

        let mine = actual.containers.filter { $0.labels[Labels.project] == desired.name && $0.labels[Labels.oneoff] != "True" }
        for service in desired.services {
            let containers = mine.filter { $0.service == service.name }
            actions += planService(service, project: desired.name, containers: containers)
        }

        let known = Set(desired.services.map(\.name))
        let orphans = mine.filter { !known.contains($0.service ?? "") }.sorted { $0.name < $1.name }
        for orphan in orphans {
            if options.prune {
                actions.append(Action(kind: .removeOrphan, target: orphan.name, service: orphan.service,
                                      number: orphan.number, reasons: ["service \(orphan.service ?? "?") is no longer in the project"],
                                      containerID: orphan.id))
            }
        }

        if options.pruneVolumes {
            let wanted = Set(desired.volumes.map(\.name))
            for volume in actual.volumes.sorted(by: { $0.name < $1.name })
            where volume.labels[Labels.project] == desired.name && !wanted.contains(volume.name) {
                actions.append(Action(kind: .removeVolume, target: volume.name,
                                      reasons: ["volume \(volume.labels[Labels.volume] ?? volume.name) is no longer in the project (--prune-volumes)"]))
            }
        }
        return Plan(project: desired.name, actions: actions)
    }

    /// Orphans present but kept because pruning is off: reported so a user knows they exist.
    public func keptOrphans(desired: DesiredProject, actual: ActualState) -> [String] {
        guard !options.prune else { return [] }
        let known = Set(desired.services.map(\.name))
        return actual.containers
            .filter { $0.labels[Labels.project] == desired.name && $0.labels[Labels.oneoff] != "True" && !known.contains($0.service ?? "") }
            .map(\.name).sorted()
    }

    private func planService(_ service: DesiredService, project: String, containers: [ActualContainer]) -> [Action] {
        var actions: [Action] = []
        let hash = service.spec.configHash
        var byNumber: [Int: ActualContainer] = [:]
        var numbers = Set<Int>()
        for c in containers { if let n = c.number { numbers.insert(n) } }

        // First settle what a crashed run left: per number at most one container remains.
        for n in numbers.sorted() {
            let canonicalName = service.containerName(project: project, number: n)
            let group = containers.filter { $0.number == n }
            let canonical = group.first { $0.name == canonicalName }
            let aside = group.first { $0.name == canonicalName + Naming.asideSuffix }
            let fresh = group.first { $0.name == canonicalName + Naming.newSuffix }
            var effective = canonical

            if let aside {
                if let canonical, canonical.configHash == hash, canonical.isRunning {
                    actions.append(Action(kind: .recover, target: aside.name, service: service.name, number: n,
                                          reasons: ["its replacement \(canonicalName) runs: remove the set-aside container"],
                                          containerID: aside.id, recovery: .removeAside(asideID: aside.id)))
                } else {
                    actions.append(Action(kind: .recover, target: canonicalName, service: service.name, number: n,
                                          reasons: ["an interrupted replace left \(aside.name): put it back" +
                                                    (canonical == nil ? "" : " and remove the half-started \(canonicalName)")],
                                          containerID: aside.id, recovery: .restoreAside(asideID: aside.id, halfStartedID: canonical?.id)))
                    var restored = aside
                    restored.name = canonicalName
                    effective = restored
                }
            }
            if let fresh {
                if effective != nil {
                    actions.append(Action(kind: .recover, target: fresh.name, service: service.name, number: n,
                                          reasons: ["an interrupted start-first replace left \(fresh.name): remove it"],
                                          containerID: fresh.id, recovery: .removeNew(newID: fresh.id)))
                } else {
                    actions.append(Action(kind: .recover, target: canonicalName, service: service.name, number: n,
                                          reasons: ["an interrupted start-first replace removed the old container: rename \(fresh.name)"],
                                          containerID: fresh.id, recovery: .promoteNew(newID: fresh.id)))
                    var promoted = fresh
                    promoted.name = canonicalName
                    effective = promoted
                }
            }
            // Any other name with this number (made by hand, or by another tool) is left alone
            // unless it is the only one: then it stands for the number.
            if effective == nil, let other = group.first(where: { $0.id != aside?.id && $0.id != fresh?.id }) {
                effective = other
            }
            byNumber[n] = effective
        }

        for n in stride(from: 1, through: service.replicas, by: 1) {
            let name = service.containerName(project: project, number: n)
            guard let current = byNumber[n] else {
                actions.append(Action(kind: .create, target: name, service: service.name, number: n,
                                      reasons: ["container does not exist"]))
                continue
            }
            let reasons = replaceReasons(current: current, desired: service.spec, desiredHash: hash)
            if !reasons.isEmpty {
                actions.append(Action(kind: .replace, target: name, service: service.name, number: n,
                                      reasons: reasons, containerID: current.id))
            } else if !current.isRunning && !(current.exitedCleanly && service.spec.restartPolicy.map { $0.name == "no" } ?? true) {
                actions.append(Action(kind: .start, target: name, service: service.name, number: n,
                                      reasons: ["state: \(current.state) (\(current.status))"], containerID: current.id))
            } else {
                actions.append(Action(kind: .unchanged, target: name, service: service.name, number: n, containerID: current.id))
            }
        }

        for n in byNumber.keys.sorted(by: >) where n > service.replicas {
            guard let c = byNumber[n] else { continue }
            actions.append(Action(kind: .scaleDown, target: c.name, service: service.name, number: n,
                                  reasons: ["replicas: \(service.replicas)"], containerID: c.id))
        }
        return actions
    }

    private func replaceReasons(current: ActualContainer, desired: ContainerSpec, desiredHash: String) -> [String] {
        if current.configHash == desiredHash {
            // Same spec by label; the image under it must still be the one we resolved.
            if !current.imageID.isEmpty && current.imageID != desired.image {
                return ["image: \(short(current.imageID)) → \(short(desired.image)) (changed outside Berth)"]
            }
            return []
        }
        if let old = current.spec {
            let diff = desired.differences(from: old)
            if !diff.isEmpty { return diff }
        }
        return ["config hash: \(short(current.configHash ?? "(none)")) → \(short(desiredHash))"]
    }

    private func short(_ s: String) -> String {
        let hex = s.hasPrefix("sha256:") ? String(s.dropFirst(7)) : s
        return (s.hasPrefix("sha256:") ? "sha256:" : "") + String(hex.prefix(12))
    }
}
