import BerthYAML
import Logging

/// Where a loaded project is going to run: the attributes that matter differ.
public enum DeployTarget: String, Sendable, CaseIterable {
    /// Containers on this host, like `docker compose up`.
    case compose
    /// Swarm services, like `docker stack deploy`: some service attributes have no effect there.
    case swarm
}

/// A service attribute that swarm mode does not apply (or refuses), found in a stack file.
public struct SwarmWarning: Sendable, Equatable, CustomStringConvertible {
    public var service: String
    /// The attribute as written, e.g. `restart` or `depends_on`.
    public var attribute: String
    /// Where the attribute is written; nil when it was added by the loader.
    public var mark: Mark?
    /// What swarm does with it.
    public var effect: String
    /// What to write instead.
    public var advice: String

    public var description: String {
        let at = mark.map { "\($0): " } ?? ""
        return "\(at)services.\(service).\(attribute) \(effect): \(advice)"
    }
}

extension ProjectLoader {
    /// The attributes of `project`'s services that a swarm deployment ignores or rejects, in
    /// service order then source order. `apiVersion` is the engine's API version: swarm services
    /// learned `sysctls` in 1.40 and `cap_add`/`cap_drop`/`ulimits` in 1.41, so older engines
    /// ignore them too.
    ///
    /// The list follows the Docker CLI's stack loader (its unsupported, deprecated and forbidden
    /// properties) plus what the compose file reference notes for swarm mode (`depends_on`,
    /// `tmpfs`, `scale`).
    public static func swarmWarnings(_ project: Project, apiVersion: String = "1.41") -> [SwarmWarning] {
        var warnings: [SwarmWarning] = []
        let services = project.document["services"]?.pairs ?? []
        for entry in services {
            let name = entry.key.scalarText ?? ""
            guard let pairs = entry.value.pairs else { continue }
            let hasRestartPolicy = entry.value["deploy"]?["restart_policy"] != nil
            for pair in pairs {
                let key = pair.key.scalarText ?? ""
                guard var rule = SwarmRules.byAttribute[key] else { continue }
                if let minimum = rule.sinceAPI {
                    guard !apiAtLeast(apiVersion, minimum) else { continue }
                    rule.effect = "is ignored by swarm on engines older than API \(minimum)"
                    rule.advice = "upgrade the swarm's engines to Docker 20.10 or later, or drop the attribute"
                }
                // The loader adds depends_on for `network_mode: service:` and `volumes_from`;
                // those attributes get their own warning.
                let mark = pair.key.mark == .none ? nil : pair.key.mark
                if key == "depends_on", mark == nil { continue }
                if key == "restart", hasRestartPolicy {
                    rule.advice = "deploy.restart_policy is already set and is what swarm uses; remove `restart`"
                }
                warnings.append(SwarmWarning(service: name, attribute: key, mark: mark, effect: rule.effect, advice: rule.advice))
            }
        }
        return warnings
    }

    /// Logs each of `swarmWarnings(project)` as a warning, with its location in `at`.
    public static func logSwarmWarnings(_ project: Project, apiVersion: String = "1.41", logger: Logger) {
        for warning in swarmWarnings(project, apiVersion: apiVersion) {
            logger.warning("\(warning)", metadata: ["at": "\(warning.mark.map { "\($0)" } ?? "<generated>")"])
        }
    }

    /// Compares dotted API versions numerically ("1.9" < "1.41").
    static func apiAtLeast(_ version: String, _ minimum: String) -> Bool {
        let a = version.split(separator: ".").map { Int($0) ?? 0 }
        let b = minimum.split(separator: ".").map { Int($0) ?? 0 }
        for i in 0..<max(a.count, b.count) {
            let x = i < a.count ? a[i] : 0, y = i < b.count ? b[i] : 0
            if x != y { return x > y }
        }
        return true
    }
}

/// What swarm does with each attribute it does not honour, and what to write instead.
enum SwarmRules {
    struct Rule {
        var effect: String
        var advice: String
        /// Set for attributes swarm supports from this API version on.
        var sinceAPI: String?
    }

    static let ignored = "is ignored by swarm"
    static let rejected = "is rejected by `docker stack deploy`"
    static let useResources = "set deploy.resources.limits (cpus, memory) / deploy.resources.reservations instead"
    static let noEquivalent = "swarm services have no equivalent; run this service with target compose if it needs it"

    static let byAttribute: [String: Rule] = [
        "build": Rule(effect: ignored + " (swarm does not build images)",
                      advice: "build and push the image first (`berth build --push`) and deploy it through `image:`"),
        "container_name": Rule(effect: ignored + " (task names are <stack>_<service>.<slot>)",
                               advice: "remove it; other services reach this one by its service name"),
        "depends_on": Rule(effect: ignored + " (all services start together)",
                           advice: "make the service wait for what it needs (retry on start, healthcheck) and rely on deploy.restart_policy"),
        "restart": Rule(effect: ignored,
                        advice: "use deploy.restart_policy.condition (none, on-failure or any) instead"),
        "links": Rule(effect: ignored,
                      advice: "put both services on a shared network; they reach each other by service name"),
        "external_links": Rule(effect: ignored,
                               advice: "attach the service to the external container's network (an external overlay network)"),
        "network_mode": Rule(effect: ignored,
                             advice: "attach the service to networks instead (the external network `host` for host networking)"),
        "expose": Rule(effect: ignored,
                       advice: "remove it; services on the same network reach each other on any port"),
        "devices": Rule(effect: ignored, advice: noEquivalent),
        "cgroup_parent": Rule(effect: ignored, advice: noEquivalent),
        "domainname": Rule(effect: ignored, advice: "set a fully qualified `hostname` instead"),
        "ipc": Rule(effect: ignored, advice: noEquivalent),
        "pid": Rule(effect: ignored, advice: noEquivalent),
        "mac_address": Rule(effect: ignored, advice: noEquivalent),
        "privileged": Rule(effect: ignored,
                           advice: "grant only the needed capabilities with cap_add (Docker 20.10 or later)"),
        "security_opt": Rule(effect: ignored, advice: noEquivalent),
        "userns_mode": Rule(effect: ignored, advice: noEquivalent),
        "shm_size": Rule(effect: ignored,
                         advice: "mount a tmpfs volume at /dev/shm (volumes: - type: tmpfs, target: /dev/shm, tmpfs: {size: ...})"),
        "tmpfs": Rule(effect: ignored,
                      advice: "use a volumes entry with `type: tmpfs` and `target:` instead"),
        "scale": Rule(effect: ignored, advice: "use deploy.replicas instead"),
        "volumes_from": Rule(effect: rejected,
                             advice: "declare a top-level named volume and mount it in each service that shares it"),
        "volume_driver": Rule(effect: rejected,
                              advice: "declare a top-level named volume with that driver and mount it"),
        "cpu_quota": Rule(effect: rejected, advice: useResources),
        "cpu_shares": Rule(effect: rejected, advice: useResources),
        "cpuset": Rule(effect: rejected, advice: useResources),
        "cpus": Rule(effect: ignored, advice: useResources),
        "mem_limit": Rule(effect: rejected, advice: useResources),
        "mem_reservation": Rule(effect: ignored, advice: useResources),
        "memswap_limit": Rule(effect: rejected, advice: useResources),
        "sysctls": Rule(effect: ignored, advice: "", sinceAPI: "1.40"),
        "cap_add": Rule(effect: ignored, advice: "", sinceAPI: "1.41"),
        "cap_drop": Rule(effect: ignored, advice: "", sinceAPI: "1.41"),
        "ulimits": Rule(effect: ignored, advice: "", sinceAPI: "1.41"),
    ]
}
