import BerthYAML

/// Compose's normalization of a merged document: default network, implicit dependencies,
/// build defaults, environment resolution and resource names.
enum ComposeNormalize {
    static let implicitDependency = YAMLNode.mapping([
        ("condition", .string("service_started")), ("restart", .bool(true)), ("required", .bool(true)),
    ])

    static func normalize(_ document: YAMLNode, lookup: (String) -> String?) -> YAMLNode {
        var dict = normalizeNetworks(document)
        if var services = dict["services"], let pairs = services.pairs {
            var newPairs = pairs
            for i in newPairs.indices {
                newPairs[i].value = normalizeService(newPairs[i].value, lookup: lookup)
            }
            services.content = .mapping(newPairs)
            dict["services"] = services
        }
        return setNames(dict)
    }

    static func normalizeService(_ node: YAMLNode, lookup: (String) -> String?) -> YAMLNode {
        guard node.isMapping || node.isNull else { return node }
        var service = node.isNull ? YAMLNode.mapping([YAMLPair](), mark: node.mark) : node
        if service["pull_policy"]?.scalarText == "if_not_present" {
            service["pull_policy"] = .string("missing")
        }
        if var build = service["build"], build.isMapping {
            if build["context"] == nil || build["context"]?.isNull == true { build["context"] = .string(".") }
            if (build["dockerfile"] == nil || build["dockerfile"]?.isNull == true) && build["dockerfile_inline"] == nil {
                build["dockerfile"] = .string("Dockerfile")
            }
            if let args = build["args"] { build["args"] = resolve(args, lookup: lookup, keepEmpty: false) }
            service["build"] = build
        }
        if let env = service["environment"] {
            service["environment"] = resolve(env, lookup: lookup, keepEmpty: true)
        }
        var dependsOn = service["depends_on"].map { ComposeMerge.toMapping($0, defaults: ComposeMerge.dependsOnDefault) }
            ?? YAMLNode.mapping([YAMLPair]())
        func add(_ name: String, restart: Bool) {
            guard dependsOn[name] == nil else { return }
            var entry = implicitDependency
            entry["restart"] = .bool(restart)
            dependsOn[name] = entry
        }
        for link in service["links"]?.sequence ?? [] {
            guard let text = link.string else { continue }
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            add(parts.count == 2 ? String(parts[0]) : text, restart: true)
        }
        for namespace in ["network_mode", "ipc", "pid", "uts", "cgroup"] {
            if let ref = service[namespace]?.string, ref.hasPrefix("service:") {
                add(String(ref.dropFirst("service:".count)), restart: true)
            }
        }
        for entry in service["volumes_from"]?.sequence ?? [] {
            guard let text = entry.string, !text.hasPrefix("container:") else { continue }
            add(String(text.split(separator: ":").first ?? ""), restart: false)
        }
        if !(dependsOn.pairs ?? []).isEmpty { service["depends_on"] = dependsOn }
        if let image = service["image"] {
            for hook in ["pre_start", "post_start", "pre_stop"] {
                guard var list = service[hook]?.sequence else { continue }
                for i in list.indices where list[i].isMapping && list[i]["image"] == nil {
                    list[i]["image"] = image
                }
                service[hook] = .sequence(list)
            }
        }
        return service
    }

    /// Resolves bare variables from the environment: `FOO` becomes `FOO=value` (list form) or
    /// `FOO: value` (mapping form); unresolved ones stay when `keepEmpty`, else are dropped.
    static func resolve(_ node: YAMLNode, lookup: (String) -> String?, keepEmpty: Bool) -> YAMLNode {
        var out = node
        switch node.content {
        case .sequence(let items):
            var resolved: [YAMLNode] = []
            for item in items {
                guard let text = item.scalarText, !item.isNull else { continue }
                if text.contains("=") { resolved.append(item); continue }
                if let value = lookup(text) {
                    resolved.append(.string("\(text)=\(value)", mark: item.mark))
                } else if keepEmpty {
                    resolved.append(item)
                }
            }
            out.content = .sequence(resolved)
        case .mapping(let pairs):
            var resolved: [YAMLPair] = []
            for pair in pairs {
                if !pair.value.isNull { resolved.append(pair); continue }
                if let value = lookup(pair.key.scalarText ?? "") {
                    resolved.append(YAMLPair(key: pair.key, value: .string(value, mark: pair.value.mark)))
                } else if keepEmpty {
                    resolved.append(pair)
                }
            }
            out.content = .mapping(resolved)
        case .scalar:
            break
        }
        return out
    }

    static func normalizeNetworks(_ document: YAMLNode) -> YAMLNode {
        var dict = document
        var networks = dict["networks"] ?? .mapping([YAMLPair]())
        if networks.isNull { networks = .mapping([YAMLPair](), mark: networks.mark) }
        var usesDefault = false
        if var services = dict["services"], var pairs = services.pairs {
            for i in pairs.indices {
                var service = pairs[i].value
                if service.isNull { service = .mapping([YAMLPair](), mark: service.mark) }
                guard service.isMapping else { continue }
                if service["provider"] != nil || service["network_mode"] != nil { pairs[i].value = service; continue }
                if let n = service["networks"], !n.isNull, !(n.pairs?.isEmpty ?? n.sequence?.isEmpty ?? true) {
                    let mapping = ComposeMerge.toMapping(n, defaults: nil)
                    service["networks"] = mapping
                    if mapping["default"] != nil { usesDefault = true }
                } else {
                    service["networks"] = .mapping([("default", .null())])
                    usesDefault = true
                }
                pairs[i].value = service
            }
            services.content = .mapping(pairs)
            dict["services"] = services
        }
        if usesDefault && networks["default"] == nil {
            networks["default"] = .null()
        }
        if !(networks.pairs ?? []).isEmpty { dict["networks"] = networks }
        return dict
    }

    static func setNames(_ document: YAMLNode) -> YAMLNode {
        var dict = document
        let project = dict["name"]?.string ?? ""
        for kind in ["networks", "volumes", "configs", "secrets"] {
            guard var top = dict[kind], var pairs = top.pairs else { continue }
            for i in pairs.indices {
                var resource = pairs[i].value
                if resource.isNull { resource = .mapping([YAMLPair](), mark: resource.mark) }
                guard resource.isMapping else { continue }
                if resource["name"] == nil || resource["name"]?.isNull == true {
                    let key = pairs[i].key.scalarText ?? ""
                    let external = resource["external"]
                    let isExternal = external?.bool == true || (external?.isMapping ?? false)
                    resource["name"] = .string(isExternal ? key : "\(project)_\(key)")
                }
                pairs[i].value = resource
            }
            top.content = .mapping(pairs)
            dict[kind] = top
        }
        return dict
    }
}
