import BerthYAML

/// Merges compose documents the way Compose does for several `-f` files and `extends`:
/// mappings merge key by key, sequences append, scalars are replaced, and a set of attributes
/// follow their own rule (environment and labels become `KEY=VALUE` sequences, `command` is
/// replaced, `depends_on` and service `networks` merge as mappings, ...).
enum ComposeMerge {
    typealias Merger = @Sendable (YAMLNode, YAMLNode, TreePath) throws(ComposeError) -> YAMLNode

    static let specials: [(String, Merger)] = [
        ("networks.*.ipam.config", mergeIPAMConfig),
        ("networks.*.labels", mergeToSequence),
        ("volumes.*.labels", mergeToSequence),
        ("services.*.annotations", mergeToSequence),
        ("services.*.build", mergeBuild),
        ("services.*.build.args", mergeToSequence),
        ("services.*.build.additional_contexts", mergeToSequence),
        ("services.*.build.extra_hosts", mergeExtraHosts),
        ("services.*.build.labels", mergeToSequence),
        ("services.*.command", replace),
        ("services.*.depends_on", mergeDependsOn),
        ("services.*.deploy.labels", mergeToSequence),
        ("services.*.dns", mergeToSequence),
        ("services.*.dns_opt", mergeToSequence),
        ("services.*.dns_search", mergeToSequence),
        ("services.*.entrypoint", replace),
        ("services.*.env_file", mergeToSequence),
        ("services.*.label_file", mergeToSequence),
        ("services.*.environment", mergeToSequence),
        ("services.*.extra_hosts", mergeExtraHosts),
        ("services.*.healthcheck.test", replace),
        ("services.*.labels", mergeToSequence),
        ("services.*.volumes.*.volume.labels", mergeToSequence),
        ("services.*.logging", mergeLogging),
        ("services.*.models", mergeNetworksLike),
        ("services.*.networks", mergeNetworksLike),
        ("services.*.sysctls", mergeToSequence),
        ("services.*.tmpfs", mergeToSequence),
        ("services.*.ulimits.*", replace),
    ]

    static let specialTable = PathTable(specials)

    /// Merges `override` on top of `base` (both whole documents).
    static func merge(_ base: YAMLNode, _ override: YAMLNode) throws(ComposeError) -> YAMLNode {
        try mergeNode(base, override, TreePath())
    }

    static func mergeNode(_ e: YAMLNode, _ o: YAMLNode, _ path: TreePath) throws(ComposeError) -> YAMLNode {
        if let merger = specialTable.first(matching: path) { return try merger(e, o, path) }
        if o.isNull { return e }
        switch (e.content, o.content) {
        case (.mapping, .mapping):
            return try mergeMappings(e, o, path)
        case (.sequence(let a), .sequence(let b)):
            var merged = e
            merged.content = .sequence(a + b)
            return merged
        case (.mapping, _), (.sequence, _):
            if e.isNull { return o }
            throw ComposeError("cannot override a \(e.kindName) with a \(o.kindName)", mark: o.mark, path: path.description)
        default:
            return o
        }
    }

    static func mergeMappings(_ e: YAMLNode, _ o: YAMLNode, _ path: TreePath) throws(ComposeError) -> YAMLNode {
        guard var pairs = e.pairs else { return o }
        for pair in o.pairs ?? [] {
            guard let key = pair.key.scalarText else { pairs.append(pair); continue }
            if let index = pairs.firstIndex(where: { $0.key.scalarText == key }), !key.hasPrefix("x-") {
                pairs[index].value = try mergeNode(pairs[index].value, pair.value, path.next(key))
            } else if let index = pairs.firstIndex(where: { $0.key.scalarText == key }) {
                pairs[index].value = pair.value
            } else {
                pairs.append(pair)
            }
        }
        var merged = e
        merged.content = .mapping(pairs)
        return merged
    }

    static func replace(_ e: YAMLNode, _ o: YAMLNode, _ path: TreePath) -> YAMLNode { o }

    /// `KEY=VALUE` list from a mapping (sorted like Compose), a list, or a single string.
    static func toSequence(_ node: YAMLNode) -> [YAMLNode] {
        switch node.content {
        case .mapping(let pairs):
            var items: [YAMLNode] = []
            for pair in pairs {
                let key = pair.key.scalarText ?? ""
                switch pair.value.content {
                case .sequence(let values):
                    for v in values { items.append(.string("\(key)=\(v.scalarText ?? "")", mark: v.mark)) }
                case .scalar(let text, _):
                    items.append(pair.value.isNull ? .string(key, mark: pair.key.mark)
                                 : .string("\(key)=\(text)", mark: pair.value.mark))
                case .mapping:
                    items.append(.string("\(key)=", mark: pair.value.mark))
                }
            }
            return items.sorted { ($0.scalarText ?? "") < ($1.scalarText ?? "") }
        case .sequence(let items):
            return items
        case .scalar:
            return node.isNull ? [] : [node]
        }
    }

    static func mergeToSequence(_ e: YAMLNode, _ o: YAMLNode, _ path: TreePath) -> YAMLNode {
        YAMLNode(.sequence(toSequence(e) + toSequence(o)), mark: e.mark)
    }

    static func mergeExtraHosts(_ e: YAMLNode, _ o: YAMLNode, _ path: TreePath) -> YAMLNode {
        let base = toSequence(e)
        let extra = toSequence(o).filter { item in !base.contains(item) }
        return YAMLNode(.sequence(base + extra), mark: e.mark)
    }

    static func mergeBuild(_ e: YAMLNode, _ o: YAMLNode, _ path: TreePath) throws(ComposeError) -> YAMLNode {
        func asMapping(_ n: YAMLNode) -> YAMLNode {
            if n.isScalar && !n.isNull { return .mapping([("context", n)], mark: n.mark) }
            return n
        }
        if o.isNull { return e }
        let base = asMapping(e)
        if base.isNull { return asMapping(o) }
        return try mergeMappings(base, asMapping(o), path)
    }

    /// Short-syntax list of names → mapping; `defaults` fills each entry (nil → null value).
    static func toMapping(_ node: YAMLNode, defaults: YAMLNode?) -> YAMLNode {
        guard case .sequence(let items) = node.content else { return node }
        var pairs: [YAMLPair] = []
        for item in items {
            guard let name = item.scalarText else { continue }
            if pairs.contains(where: { $0.key.scalarText == name }) { continue }
            pairs.append(YAMLPair(key: .string(name, mark: item.mark), value: defaults ?? .null(mark: item.mark)))
        }
        return YAMLNode(.mapping(pairs), mark: node.mark)
    }

    static let dependsOnDefault = YAMLNode.mapping([("condition", .string("service_started")), ("required", .bool(true))])

    static func mergeDependsOn(_ e: YAMLNode, _ o: YAMLNode, _ path: TreePath) throws(ComposeError) -> YAMLNode {
        try mergeMappings(toMapping(e, defaults: dependsOnDefault), toMapping(o, defaults: dependsOnDefault), path)
    }

    static func mergeNetworksLike(_ e: YAMLNode, _ o: YAMLNode, _ path: TreePath) throws(ComposeError) -> YAMLNode {
        let base = toMapping(e, defaults: nil)
        if base.isNull { return toMapping(o, defaults: nil) }
        return try mergeMappings(base, toMapping(o, defaults: nil), path)
    }

    static func mergeLogging(_ e: YAMLNode, _ o: YAMLNode, _ path: TreePath) throws(ComposeError) -> YAMLNode {
        guard e.isMapping, o.isMapping else { return o.isNull ? e : o }
        let baseDriver = e["driver"], overrideDriver = o["driver"]
        if baseDriver == nil || overrideDriver == nil || baseDriver?.scalarText == overrideDriver?.scalarText {
            return try mergeMappings(e, o, path)
        }
        return o
    }

    static func mergeIPAMConfig(_ e: YAMLNode, _ o: YAMLNode, _ path: TreePath) throws(ComposeError) -> YAMLNode {
        var configs = e.sequence ?? []
        for item in o.sequence ?? [] {
            let subnet = item["subnet"]?.scalarText
            if let index = configs.firstIndex(where: { $0["subnet"]?.scalarText == subnet }) {
                configs[index] = try mergeMappings(configs[index], item, path)
            } else {
                configs.append(item)
            }
        }
        return YAMLNode(.sequence(configs), mark: e.mark)
    }
}
