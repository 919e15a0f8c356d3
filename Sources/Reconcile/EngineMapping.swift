import Engine

extension ContainerSpec {
    /// The Engine API body that creates this container. Labels are the user's plus identity
    /// (compose and Berth labels, the hash and the spec itself). Only the first network goes
    /// in the create call: API 1.41 accepts one endpoint there; the rest are connected before
    /// start.
    func createRequest(labels identity: [String: String]) -> ContainerCreateRequest {
        var config = ContainerConfig(image: image, cmd: command,
                                     env: environment.keys.sorted().map { "\($0)=\(environment[$0] ?? "")" },
                                     labels: labels.merging(identity) { _, new in new })
        config.entrypoint = entrypoint
        config.user = user
        config.workingDir = workingDir
        config.hostname = hostname
        config.domainname = domainname
        config.tty = tty
        config.openStdin = stdinOpen
        config.stopSignal = stopSignal
        config.stopTimeout = stopTimeoutSeconds
        let exposed = Set(exposedPorts + ports.map { "\($0.containerPort)/\($0.proto)" })
        if !exposed.isEmpty {
            config.exposedPorts = Dictionary(uniqueKeysWithValues: exposed.map { ($0, EmptyObject()) })
        }
        if let hc = healthcheck {
            config.healthcheck = HealthConfig(test: hc.test, interval: hc.intervalNs, timeout: hc.timeoutNs,
                                              retries: hc.retries, startPeriod: hc.startPeriodNs)
        }

        var host = HostConfig(networkMode: networkMode ?? networks.first?.network,
                              restartPolicy: restartPolicy.map { Engine.RestartPolicy(name: $0.name, maximumRetryCount: $0.maximumRetryCount) })
        if !ports.isEmpty {
            var bindings: [String: [Engine.PortBinding]?] = [:]
            for p in ports {
                let key = "\(p.containerPort)/\(p.proto)"
                var list = bindings[key].flatMap { $0 } ?? []
                list.append(Engine.PortBinding(hostIP: p.hostIP, hostPort: p.hostPort))
                bindings[key] = list
            }
            host.portBindings = bindings
        }
        host.mounts = mounts.isEmpty ? nil : mounts.map { m in
            var mount = Engine.Mount(type: m.type, source: m.source.isEmpty ? nil : m.source, target: m.target,
                                     readOnly: m.readOnly ? true : nil)
            mount.consistency = m.consistency
            if m.type == "bind", m.bindPropagation != nil {
                mount.bindOptions = .init(propagation: m.bindPropagation)
            }
            if m.type == "volume", m.volumeNoCopy == true {
                mount.volumeOptions = .init(noCopy: true)
            }
            if m.type == "tmpfs", m.tmpfsSizeBytes != nil || m.tmpfsMode != nil {
                mount.tmpfsOptions = .init(sizeBytes: m.tmpfsSizeBytes, mode: m.tmpfsMode)
            }
            return mount
        }
        host.memory = resources.memoryBytes
        host.memoryReservation = resources.memoryReservationBytes
        host.memorySwap = resources.memorySwapBytes
        host.nanoCpus = resources.nanoCPUs
        host.cpuShares = resources.cpuShares.map { Int($0) }
        host.cpusetCpus = resources.cpuset
        host.pidsLimit = resources.pidsLimit
        host.shmSize = resources.shmSizeBytes
        host.oomKillDisable = resources.oomKillDisable
        host.extraHosts = extraHosts.isEmpty ? nil : extraHosts
        host.dns = dns.isEmpty ? nil : dns
        host.dnsSearch = dnsSearch.isEmpty ? nil : dnsSearch
        host.dnsOptions = dnsOptions.isEmpty ? nil : dnsOptions
        host.capAdd = capAdd.isEmpty ? nil : capAdd
        host.capDrop = capDrop.isEmpty ? nil : capDrop
        host.ulimits = ulimits.isEmpty ? nil : ulimits.map { Engine.Ulimit(name: $0.name, soft: $0.soft, hard: $0.hard) }
        host.sysctls = sysctls.isEmpty ? nil : sysctls
        host.logConfig = logging.map { LogConfig(type: $0.driver, config: $0.options.isEmpty ? nil : $0.options) }
        host.initProcess = initProcess
        host.tmpfs = tmpfs.isEmpty ? nil : tmpfs
        host.devices = devices.isEmpty ? nil : devices.map {
            DeviceMapping(pathOnHost: $0.pathOnHost, pathInContainer: $0.pathInContainer, cgroupPermissions: $0.permissions)
        }
        host.pidMode = pid
        host.ipcMode = ipc
        host.volumesFrom = volumesFrom.isEmpty ? nil : volumesFrom
        host.readonlyRootfs = readOnly ? true : nil
        host.privileged = privileged ? true : nil
        host.securityOpt = securityOpt.isEmpty ? nil : securityOpt
        host.groupAdd = groupAdd.isEmpty ? nil : groupAdd
        host.utsMode = uts
        host.cgroup = cgroup
        host.usernsMode = usernsMode
        host.oomScoreAdj = oomScoreAdj
        config.macAddress = macAddress

        var networking: NetworkingConfig?
        if networkMode == nil, let first = networks.first {
            networking = NetworkingConfig(endpointsConfig: [first.network: first.endpointSettings])
        }
        return ContainerCreateRequest(config: config, hostConfig: host, networkingConfig: networking)
    }
}

extension ContainerSpec.NetworkAttachment {
    var endpointSettings: EndpointSettings {
        let ipam = (ipv4Address != nil || ipv6Address != nil)
            ? EndpointIPAMConfig(ipv4Address: ipv4Address, ipv6Address: ipv6Address) : nil
        return EndpointSettings(aliases: aliases.isEmpty ? nil : aliases, ipamConfig: ipam)
    }
}

extension ActualContainer {
    init(_ summary: ContainerSummary) {
        self.init(id: summary.id, name: summary.name ?? summary.id, labels: summary.labels ?? [:],
                  state: summary.state ?? "", status: summary.status ?? "", imageID: summary.imageID ?? "")
    }
}
