import Engine
import FoundationEssentials
import Glibc

/// Desired stack vs the swarm → plan, with the compose target's action kinds: `create`,
/// `replace` (a service update: swarm replaces its tasks per update_config), `unchanged`,
/// `remove-orphan`, `create-network`, and the secret/config kinds. Pure, like `Planner`.
public struct SwarmPlanner: Sendable {
    public struct Options: Sendable {
        /// Remove services, secrets and configs that left the file. Older versions of a
        /// secret or config that is still in the file are always removed after the update.
        public var prune: Bool
        public init(prune: Bool = false) { self.prune = prune }
    }

    public var options: Options
    public init(options: Options = Options()) { self.options = options }

    public func plan(desired: SwarmStack, actual: SwarmActualState) -> Plan {
        var actions: [Action] = []
        let networkNames = Set(actual.networks.map(\.name))
        for network in desired.networks where !network.external && !networkNames.contains(network.name) {
            actions.append(Action(kind: .createNetwork, target: network.name, reasons: ["overlay network does not exist"]))
        }
        // Removals of secrets and configs come last, as they are applied: after the services
        // that used them have moved on.
        let secrets = planObjects(desired.secrets, actual: actual.secrets, stack: desired.name, kind: "secret",
                                  create: .createSecret, remove: .removeSecret)
        let configs = planObjects(desired.configs, actual: actual.configs, stack: desired.name, kind: "config",
                                  create: .createConfig, remove: .removeConfig)
        actions += secrets.creates + configs.creates

        let mine = actual.services.filter { $0.labels?[SwarmLabels.namespace] == desired.name }
        let networkNamesByID = Dictionary(actual.networks.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        for service in desired.services {
            guard let current = mine.first(where: { $0.name == service.name }) else {
                actions.append(Action(kind: .create, target: service.name, service: service.key, reasons: ["service does not exist"]))
                continue
            }
            let reasons = updateReasons(current: current, desired: service, networkNames: networkNamesByID)
            actions.append(Action(kind: reasons.isEmpty ? .unchanged : .replace, target: service.name, service: service.key,
                                  reasons: reasons, containerID: current.id))
        }
        if options.prune {
            let known = Set(desired.services.map(\.name))
            for orphan in mine.filter({ !known.contains($0.name ?? "") }).sorted(by: { ($0.name ?? "") < ($1.name ?? "") }) {
                let name = orphan.name ?? orphan.id
                actions.append(Action(kind: .removeOrphan, target: name, reasons: ["service is no longer in the stack"],
                                      containerID: orphan.id))
            }
        }
        actions += secrets.removes + configs.removes
        return Plan(project: desired.name, actions: actions, target: "swarm")
    }

    /// Services of the stack that left the file but stay because pruning is off.
    public func keptOrphans(desired: SwarmStack, actual: SwarmActualState) -> [String] {
        guard !options.prune else { return [] }
        let known = Set(desired.services.map(\.name))
        return actual.services.filter { $0.labels?[SwarmLabels.namespace] == desired.name }
            .compactMap { $0.name }.filter { !known.contains($0) }.sorted()
    }

    private func planObjects(_ desired: [SwarmDesiredObject], actual: [SwarmObject], stack: String, kind: String,
                             create: Action.Kind, remove: Action.Kind) -> (creates: [Action], removes: [Action]) {
        var actions: [Action] = []
        var removes: [Action] = []
        let names = Set(actual.map(\.name))
        let mine = actual.filter { $0.labels[SwarmLabels.namespace] == stack }
        for object in desired where !object.external && !names.contains(object.name) {
            let previous = mine.filter { $0.labels[SwarmLabels.key] == object.key }.map(\.name).sorted()
            let reason = previous.isEmpty
                ? "\(kind) \(object.key) (content sha256:\(object.contentHash.prefix(12)))"
                : "content of \(kind) \(object.key) changed (sha256:\(object.contentHash.prefix(12))): replaces \(previous.joined(separator: ", "))"
            actions.append(Action(kind: create, target: object.name, reasons: [reason]))
        }
        let wanted = Set(desired.map(\.name))
        let keys = Set(desired.map(\.key))
        for object in mine.sorted(by: { $0.name < $1.name }) where !wanted.contains(object.name) {
            let key = object.labels[SwarmLabels.key] ?? object.name
            if keys.contains(key) {
                let current = desired.first { $0.key == key }?.name ?? "?"
                removes.append(Action(kind: remove, target: object.name, reasons: ["older content of \(kind) \(key), replaced by \(current); removed once the services run with it"],
                                      containerID: object.id))
            } else if options.prune {
                removes.append(Action(kind: remove, target: object.name, reasons: ["\(kind) \(key) is no longer in the stack"],
                                      containerID: object.id))
            }
        }
        return (actions, removes)
    }

    /// Empty when the service is as desired. The hash label decides; the replica count and
    /// image are checked too because `docker service scale/update` change them without it.
    /// Only a differing hash decodes the whole current spec, to name the fields that changed.
    func updateReasons(current: SwarmServiceSummary, desired: SwarmDesiredService, networkNames: [String: String]) -> [String] {
        guard current.hasSpec else { return ["the engine returned no spec"] }
        let actualHash = current.labels?[SwarmLabels.specHash]
        if actualHash == desired.specHash {
            var reasons: [String] = []
            if let want = desired.replicas, let have = current.replicas, Int(have) != want {
                reasons.append("Mode.Replicated.Replicas: \(have) → \(want) (changed outside Berth)")
            }
            let want = desired.spec.taskTemplate?.containerSpec?.image
            let have = current.image
            if want != have {
                reasons.append("TaskTemplate.ContainerSpec.Image: \(have ?? "(unset)") → \(want ?? "(unset)") (changed outside Berth)")
            }
            if let state = current.updateState, state == "paused" || state == "rollback_paused" {
                reasons.append("the last update is \(state)\(current.updateMessage.map { ": \($0)" } ?? ""); updating again resumes it")
            }
            return reasons
        }
        // A spec the full model cannot read still differs by its hash (the reason below).
        let diff = (try? current.full().spec).map { Self.differences(from: $0, to: desired.spec, networkNames: networkNames) } ?? []
        if !diff.isEmpty { return diff }
        return ["spec hash: \(actualHash.map { String($0.prefix(12)) } ?? "(none)") → \(desired.specHash.prefix(12))"]
    }

    /// Field-level differences, as `path: old → new`. The engine fills in defaults the file
    /// never set, so fields only the engine has count only where a list or map shrank.
    static func differences(from actual: ServiceSpec, to desired: ServiceSpec, networkNames: [String: String]) -> [String] {
        var old = actual
        old.labels = old.labels?.filter { !Self.ignoredLabels.contains($0.key) && $0.key != SwarmLabels.specHash }
        if var task = old.taskTemplate {
            task.networks = task.networks?.map {
                var n = $0
                n.target = n.target.map { networkNames[$0] ?? $0 }
                return n
            }
            if var c = task.containerSpec {
                c.secrets = c.secrets?.map {
                    var s = $0
                    s.secretID = nil
                    return s
                }
                c.configs = c.configs?.map {
                    var s = $0
                    s.configID = nil
                    return s
                }
                task.containerSpec = c
            }
            old.taskTemplate = task
        }
        let before = ContainerSpec.flatten(SwarmDesiredService.canonicalJSON(old))
        let after = ContainerSpec.flatten(SwarmDesiredService.canonicalJSON(desired))
        let shrinkable = ["Labels.", "TaskTemplate.ContainerSpec.Labels.", "TaskTemplate.ContainerSpec.Env[",
                          "TaskTemplate.ContainerSpec.Args[", "TaskTemplate.ContainerSpec.Command[",
                          "TaskTemplate.ContainerSpec.Mounts[", "TaskTemplate.ContainerSpec.Secrets[",
                          "TaskTemplate.ContainerSpec.Configs[", "EndpointSpec.Ports[", "TaskTemplate.Networks[",
                          "TaskTemplate.Placement.Constraints["]
        var lines: [String] = []
        for key in Set(before.keys).union(after.keys).sorted() {
            let a = before[key], b = after[key]
            if a == b { continue }
            if b == nil && !shrinkable.contains(where: { key.hasPrefix($0) }) { continue }
            // The engine leaves zero values out of what it returns.
            if a == nil, let b, b == "0" || b == "false" { continue }
            lines.append(SecretRedaction.line(key, a, b))
        }
        return lines
    }

    static let ignoredLabels: Set<String> = [Labels.app, Labels.revision, Labels.release]
}
