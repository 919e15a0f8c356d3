import BerthYAML
import FoundationEssentials
import Platform
import Glibc

/// Builds the typed model from the canonical document, checking values the schema cannot
/// (durations, byte sizes, numbers given as strings).
/// A mapping's values by key (the first of duplicate keys wins, as with `YAMLNode`'s subscript).
struct FieldIndex {
    let node: YAMLNode
    private let values: [String: YAMLNode]

    init(_ node: YAMLNode) {
        self.node = node
        var values: [String: YAMLNode] = [:]
        for pair in node.pairs ?? [] {
            guard let key = pair.key.scalarText, values[key] == nil else { continue }
            values[key] = pair.value
        }
        self.values = values
    }

    subscript(key: String) -> YAMLNode? { values[key] }
    var pairs: [YAMLPair]? { node.pairs }
}

struct ModelDecoder {
    static func project(_ doc: YAMLNode, workingDirectory: String, profiles: [String],
                        environment: [String: String], configFiles: [String] = []) throws(ComposeError) -> Project {
        var services: [Service] = []
        for pair in doc["services"]?.pairs ?? [] {
            let name = pair.key.scalarText ?? ""
            services.append(try service(name, pair.value, TreePath(["services", name])))
        }
        services.sort { $0.name < $1.name }
        var networks: [String: Network] = [:]
        for pair in doc["networks"]?.pairs ?? [] {
            let key = pair.key.scalarText ?? ""
            networks[key] = network(key, pair.value)
        }
        var volumes: [String: Volume] = [:]
        for pair in doc["volumes"]?.pairs ?? [] {
            let key = pair.key.scalarText ?? "", v = pair.value
            volumes[key] = Volume(name: v["name"]?.string ?? key, driver: v["driver"]?.string,
                                  driverOpts: stringMap(v["driver_opts"]), external: v["external"]?.bool ?? false,
                                  labels: stringMap(v["labels"]))
        }
        func files(_ kind: String) -> [String: FileObject] {
            var result: [String: FileObject] = [:]
            for pair in doc[kind]?.pairs ?? [] {
                let key = pair.key.scalarText ?? "", v = pair.value
                result[key] = FileObject(name: v["name"]?.string ?? key, file: v["file"]?.string,
                                         environment: v["environment"]?.string, content: v["content"]?.string,
                                         external: v["external"]?.bool ?? false, labels: stringMap(v["labels"]),
                                         driver: v["driver"]?.string)
            }
            return result
        }
        var extensions: [String: YAMLNode] = [:]
        for pair in doc.pairs ?? [] where (pair.key.scalarText ?? "").hasPrefix("x-") {
            extensions[pair.key.scalarText ?? ""] = pair.value
        }
        return Project(name: doc["name"]?.string ?? "", workingDirectory: workingDirectory, services: services,
                       networks: networks, volumes: volumes, secrets: files("secrets"), configs: files("configs"),
                       extensions: extensions, profiles: profiles, environment: environment,
                       configFiles: configFiles, document: doc)
    }

    static func stringList(_ node: YAMLNode?) -> [String] {
        guard let node else { return [] }
        if let items = node.sequence { return items.compactMap(\.string) }
        return node.string.map { [$0] } ?? []
    }

    static func stringMap(_ node: YAMLNode?) -> [String: String] {
        var result: [String: String] = [:]
        for pair in node?.pairs ?? [] { result[pair.key.scalarText ?? ""] = pair.value.string ?? "" }
        return result
    }

    static func optionalMap(_ node: YAMLNode?) -> [String: String?] {
        var result: [String: String?] = [:]
        for pair in node?.pairs ?? [] { result[pair.key.scalarText ?? ""] = .some(pair.value.string) }
        return result
    }

    static func bool(_ node: YAMLNode?) -> Bool? {
        guard let node else { return nil }
        if let b = node.bool { return b }
        switch node.string?.lowercased() {
        case "true": return true
        case "false": return false
        default: return nil
        }
    }

    // The paths are only for errors: built on demand, not for each of the dozens of optional
    // attributes a service is decoded for (two array allocations each).
    static func int(_ node: YAMLNode?, _ path: @autoclosure () -> TreePath) throws(ComposeError) -> Int? {
        guard let node, !node.isNull else { return nil }
        if let i = node.int { return i }
        if let text = node.string, let i = Int(text) { return i }
        throw ComposeError("\"\(node.scalarText ?? "")\" is not an integer", mark: node.mark, path: path().description)
    }

    static func double(_ node: YAMLNode?, _ path: @autoclosure () -> TreePath) throws(ComposeError) -> Double? {
        guard let node, !node.isNull else { return nil }
        if let d = node.double { return d }
        if let text = node.string, let d = Double(text) { return d }
        throw ComposeError("\"\(node.scalarText ?? "")\" is not a number", mark: node.mark, path: path().description)
    }

    static func duration(_ node: YAMLNode?, _ path: @autoclosure () -> TreePath) throws(ComposeError) -> Duration? {
        guard let node, !node.isNull else { return nil }
        if let i = node.int { return .seconds(i) }
        guard let text = node.string, let d = Units.parseDuration(text) else {
            throw ComposeError("\"\(node.scalarText ?? "")\" is not a valid duration (use e.g. 1m30s, 10s, 500ms)",
                               mark: node.mark, path: path().description)
        }
        return d
    }

    static func bytes(_ node: YAMLNode?, _ path: @autoclosure () -> TreePath) throws(ComposeError) -> Int64? {
        guard let node, !node.isNull else { return nil }
        if let i = node.int { return Int64(i) }
        guard let text = node.string, let b = Units.parseBytes(text) else {
            throw ComposeError("\"\(node.scalarText ?? "")\" is not a valid byte size (use e.g. 512m, 1g, 1048576)",
                               mark: node.mark, path: path().description)
        }
        return b
    }

    static func service(_ name: String, _ node: YAMLNode, _ path: TreePath) throws(ComposeError) -> Service {
        // About forty attributes are read per service; one index beats forty scans of its keys.
        let s = FieldIndex(node)
        var build: Build?
        if let b = s["build"] {
            let p = path.next("build")
            build = Build(context: b["context"]?.string ?? ".", dockerfile: b["dockerfile"]?.string,
                          dockerfileInline: b["dockerfile_inline"]?.string, args: optionalMap(b["args"]),
                          target: b["target"]?.string, labels: stringMap(b["labels"]),
                          cacheFrom: stringList(b["cache_from"]), tags: stringList(b["tags"]),
                          network: b["network"]?.string, platforms: stringList(b["platforms"]),
                          additionalContexts: stringMap(b["additional_contexts"]),
                          extraHosts: stringList(b["extra_hosts"]), shmSize: try bytes(b["shm_size"], p.next("shm_size")),
                          noCache: bool(b["no_cache"]) ?? false, pull: bool(b["pull"]) ?? false)
        }
        var volumes: [ServiceVolume] = []
        for (i, v) in (s["volumes"]?.sequence ?? []).enumerated() {
            let p = path.next("volumes").next(i)
            guard let target = v["target"]?.string else {
                throw ComposeError("a volume needs a target", mark: v.mark, path: p.description)
            }
            volumes.append(ServiceVolume(
                type: v["type"]?.string ?? "volume", source: v["source"]?.string, target: target,
                readOnly: bool(v["read_only"]) ?? false, consistency: v["consistency"]?.string,
                bindPropagation: v["bind"]?["propagation"]?.string,
                bindCreateHostPath: bool(v["bind"]?["create_host_path"]) ?? false,
                bindSELinux: v["bind"]?["selinux"]?.string, volumeNoCopy: bool(v["volume"]?["nocopy"]) ?? false,
                volumeSubpath: v["volume"]?["subpath"]?.string,
                tmpfsSize: try bytes(v["tmpfs"]?["size"], p.next("tmpfs").next("size")),
                tmpfsMode: try int(v["tmpfs"]?["mode"], p.next("tmpfs").next("mode"))))
        }
        var ports: [PortConfig] = []
        for (i, p) in (s["ports"]?.sequence ?? []).enumerated() {
            let pp = path.next("ports").next(i)
            guard let target = try int(p["target"], pp.next("target")) else {
                throw ComposeError("a port needs a target", mark: p.mark, path: pp.description)
            }
            if let published = p["published"]?.string, PortConfig.portRange(published) == nil {
                throw ComposeError("\"\(published)\" is not a valid published port", mark: p["published"]?.mark, path: pp.description)
            }
            ports.append(PortConfig(name: p["name"]?.string, mode: p["mode"]?.string, hostIP: p["host_ip"]?.string,
                                    target: target, published: p["published"]?.string,
                                    protocol: p["protocol"]?.string ?? "tcp", appProtocol: p["app_protocol"]?.string))
        }
        var networks: [String: ServiceNetwork] = [:]
        for pair in s["networks"]?.pairs ?? [] {
            let n = pair.value
            networks[pair.key.scalarText ?? ""] = ServiceNetwork(
                aliases: stringList(n["aliases"]), ipv4Address: n["ipv4_address"]?.string,
                ipv6Address: n["ipv6_address"]?.string, linkLocalIPs: stringList(n["link_local_ips"]),
                macAddress: n["mac_address"]?.string,
                priority: try int(n["priority"], path.next("networks").next(pair.key.scalarText ?? "").next("priority")),
                driverOpts: stringMap(n["driver_opts"]))
        }
        var dependsOn: [String: Dependency] = [:]
        for pair in s["depends_on"]?.pairs ?? [] {
            let d = pair.value
            dependsOn[pair.key.scalarText ?? ""] = Dependency(
                condition: d["condition"]?.string ?? "service_started", restart: bool(d["restart"]) ?? false,
                required: bool(d["required"]) ?? true)
        }
        var healthcheck: Healthcheck?
        if let h = s["healthcheck"] {
            let p = path.next("healthcheck")
            healthcheck = Healthcheck(
                test: h["test"].map { stringList($0) }, interval: try duration(h["interval"], p.next("interval")),
                timeout: try duration(h["timeout"], p.next("timeout")),
                startPeriod: try duration(h["start_period"], p.next("start_period")),
                startInterval: try duration(h["start_interval"], p.next("start_interval")),
                retries: try int(h["retries"], p.next("retries")), disable: bool(h["disable"]) ?? false)
        }
        var ulimits: [String: Ulimit] = [:]
        for pair in s["ulimits"]?.pairs ?? [] {
            let p = path.next("ulimits").next(pair.key.scalarText ?? "")
            if let single = try int(pair.value.isScalar ? pair.value : nil, p) {
                ulimits[pair.key.scalarText ?? ""] = Ulimit(soft: single, hard: single)
            } else {
                let soft = try int(pair.value["soft"], p.next("soft")) ?? 0
                let hard = try int(pair.value["hard"], p.next("hard")) ?? soft
                ulimits[pair.key.scalarText ?? ""] = Ulimit(soft: soft, hard: hard)
            }
        }
        func refs(_ key: String) throws(ComposeError) -> [FileReference] {
            var result: [FileReference] = []
            for (i, r) in (s[key]?.sequence ?? []).enumerated() {
                result.append(FileReference(source: r["source"]?.string ?? "", target: r["target"]?.string,
                                            uid: r["uid"]?.string, gid: r["gid"]?.string,
                                            mode: try int(r["mode"], path.next(key).next(i).next("mode"))))
            }
            return result
        }
        var deploy: Deploy?
        if let d = s["deploy"] {
            let p = path.next("deploy")
            func resource(_ r: YAMLNode?, _ rp: TreePath) throws(ComposeError) -> Deploy.Resource? {
                guard let r, r.isMapping else { return nil }
                return Deploy.Resource(cpus: try double(r["cpus"], rp.next("cpus")),
                                       memory: try bytes(r["memory"], rp.next("memory")),
                                       pids: try int(r["pids"], rp.next("pids")))
            }
            func update(_ u: YAMLNode?, _ up: TreePath) throws(ComposeError) -> Deploy.UpdateConfig? {
                guard let u, u.isMapping else { return nil }
                return Deploy.UpdateConfig(
                    parallelism: try int(u["parallelism"], up.next("parallelism")),
                    delay: try duration(u["delay"], up.next("delay")), failureAction: u["failure_action"]?.string,
                    monitor: try duration(u["monitor"], up.next("monitor")),
                    maxFailureRatio: try double(u["max_failure_ratio"], up.next("max_failure_ratio")),
                    order: u["order"]?.string)
            }
            var restartPolicy: Deploy.RestartPolicy?
            if let r = d["restart_policy"] {
                let rp = p.next("restart_policy")
                restartPolicy = Deploy.RestartPolicy(condition: r["condition"]?.string,
                                                     delay: try duration(r["delay"], rp.next("delay")),
                                                     maxAttempts: try int(r["max_attempts"], rp.next("max_attempts")),
                                                     window: try duration(r["window"], rp.next("window")))
            }
            var placement: Deploy.Placement?
            if let pl = d["placement"] {
                placement = Deploy.Placement(
                    constraints: stringList(pl["constraints"]),
                    preferences: (pl["preferences"]?.sequence ?? []).compactMap { $0["spread"]?.string },
                    maxReplicasPerNode: try int(pl["max_replicas_per_node"], p.next("placement").next("max_replicas_per_node")))
            }
            deploy = Deploy(
                mode: d["mode"]?.string, replicas: try int(d["replicas"], p.next("replicas")),
                labels: stringMap(d["labels"]), endpointMode: d["endpoint_mode"]?.string,
                resources: Deploy.Resources(
                    limits: try resource(d["resources"]?["limits"], p.next("resources").next("limits")),
                    reservations: try resource(d["resources"]?["reservations"], p.next("resources").next("reservations"))),
                restartPolicy: restartPolicy,
                updateConfig: try update(d["update_config"], p.next("update_config")),
                rollbackConfig: try update(d["rollback_config"], p.next("rollback_config")),
                placement: placement)
        }
        var extensions: [String: YAMLNode] = [:]
        for pair in s.pairs ?? [] where (pair.key.scalarText ?? "").hasPrefix("x-") {
            extensions[pair.key.scalarText ?? ""] = pair.value
        }
        let logging = s["logging"].map { Logging(driver: $0["driver"]?.string, options: stringMap($0["options"])) }
        return Service(
            name: name, image: s["image"]?.string, build: build,
            command: s["command"].flatMap { $0.isNull ? nil : stringList($0) },
            entrypoint: s["entrypoint"].flatMap { $0.isNull ? nil : stringList($0) },
            environment: optionalMap(s["environment"]),
            envFiles: (s["env_file"]?.sequence ?? []).map {
                EnvFile(path: $0["path"]?.string ?? "", required: bool($0["required"]) ?? true)
            },
            ports: ports, expose: stringList(s["expose"]), volumes: volumes, networks: networks,
            dependsOn: dependsOn, healthcheck: healthcheck, restart: s["restart"]?.string,
            labels: stringMap(s["labels"]), annotations: stringMap(s["annotations"]), user: s["user"]?.string,
            workingDir: s["working_dir"]?.string, hostname: s["hostname"]?.string,
            domainname: s["domainname"]?.string, extraHosts: stringList(s["extra_hosts"]),
            dns: stringList(s["dns"]), dnsSearch: stringList(s["dns_search"]), dnsOpt: stringList(s["dns_opt"]),
            capAdd: stringList(s["cap_add"]), capDrop: stringList(s["cap_drop"]), groupAdd: stringList(s["group_add"]),
            privileged: bool(s["privileged"]) ?? false, readOnly: bool(s["read_only"]) ?? false,
            initProcess: bool(s["init"]), stopSignal: s["stop_signal"]?.string,
            stopGracePeriod: try duration(s["stop_grace_period"], path.next("stop_grace_period")),
            ulimits: ulimits, sysctls: stringMap(s["sysctls"]), logging: logging,
            secrets: try refs("secrets"), configs: try refs("configs"), profiles: stringList(s["profiles"]),
            deploy: deploy, networkMode: s["network_mode"]?.string, pid: s["pid"]?.string, ipc: s["ipc"]?.string,
            volumesFrom: stringList(s["volumes_from"]), tmpfs: stringList(s["tmpfs"]),
            devices: (s["devices"]?.sequence ?? []).map {
                Device(source: $0["source"]?.string ?? "", target: $0["target"]?.string ?? "",
                       permissions: $0["permissions"]?.string ?? "rwm")
            },
            platform: s["platform"]?.string, pullPolicy: s["pull_policy"]?.string,
            scale: try int(s["scale"], path.next("scale")), containerName: s["container_name"]?.string,
            shmSize: try bytes(s["shm_size"], path.next("shm_size")),
            memLimit: try bytes(s["mem_limit"], path.next("mem_limit")),
            memReservation: try bytes(s["mem_reservation"], path.next("mem_reservation")),
            cpus: try double(s["cpus"], path.next("cpus")), tty: bool(s["tty"]) ?? false,
            stdinOpen: bool(s["stdin_open"]) ?? false, links: stringList(s["links"]),
            securityOpt: stringList(s["security_opt"]), macAddress: s["mac_address"]?.string, uts: s["uts"]?.string,
            cgroup: s["cgroup"]?.string, usernsMode: s["userns_mode"]?.string,
            oomScoreAdj: try int(s["oom_score_adj"], path.next("oom_score_adj")),
            memSwapLimit: try bytes(s["memswap_limit"], path.next("memswap_limit")),
            cpuShares: try int(s["cpu_shares"], path.next("cpu_shares")), cpuset: s["cpuset"]?.string,
            pidsLimit: try int(s["pids_limit"], path.next("pids_limit")), extensions: extensions)
    }

    static func network(_ key: String, _ n: YAMLNode) -> Network {
        var ipam: Network.IPAM?
        if let i = n["ipam"] {
            ipam = Network.IPAM(driver: i["driver"]?.string, config: (i["config"]?.sequence ?? []).map { c in
                Network.Pool(subnet: c["subnet"]?.string, ipRange: c["ip_range"]?.string, gateway: c["gateway"]?.string,
                             auxAddresses: stringMap(c["aux_addresses"]))
            }, options: stringMap(i["options"]))
        }
        return Network(name: n["name"]?.string ?? key, driver: n["driver"]?.string, driverOpts: stringMap(n["driver_opts"]),
                       external: bool(n["external"]) ?? false, internal: bool(n["internal"]) ?? false,
                       attachable: bool(n["attachable"]) ?? false, enableIPv6: bool(n["enable_ipv6"]),
                       labels: stringMap(n["labels"]), ipam: ipam)
    }
}

extension Project {
    /// The project as YAML, like `docker compose config`.
    public func yaml() throws(ComposeError) -> String {
        do {
            return try YAML.emit(document)
        } catch {
            throw ComposeError(error)
        }
    }

    /// The project as JSON, like `docker compose config --format json`.
    public func json(pretty: Bool = true) -> String {
        var out = ""
        Self.writeJSON(document, into: &out, indent: pretty ? "" : nil)
        return out + (pretty ? "\n" : "")
    }

    static func writeJSON(_ node: YAMLNode, into out: inout String, indent: String?) {
        let inner = indent.map { $0 + "  " }
        let newline = indent == nil ? "" : "\n"
        switch node.content {
        case .scalar(let text, _):
            switch node.value ?? .null {
            case .null: out += "null"
            case .bool(let b): out += b ? "true" : "false"
            case .int(let i): out += String(i)
            case .float(let d): out += d.isFinite ? String(d) : quote(text)
            case .string(let s): out += quote(s)
            }
        case .sequence(let items):
            if items.isEmpty { out += "[]"; return }
            out += "[" + newline
            for (i, item) in items.enumerated() {
                out += inner ?? ""
                writeJSON(item, into: &out, indent: inner)
                out += (i + 1 < items.count ? "," : "") + newline
            }
            out += (indent ?? "") + "]"
        case .mapping(let pairs):
            if pairs.isEmpty { out += "{}"; return }
            out += "{" + newline
            for (i, pair) in pairs.enumerated() {
                out += (inner ?? "") + quote(pair.key.scalarText ?? "") + (indent == nil ? ":" : ": ")
                writeJSON(pair.value, into: &out, indent: inner)
                out += (i + 1 < pairs.count ? "," : "") + newline
            }
            out += (indent ?? "") + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 { out += "\\u" + Hex.padded(c.value, width: 4) } else { out.unicodeScalars.append(c) }
            }
        }
        return out + "\""
    }
}
