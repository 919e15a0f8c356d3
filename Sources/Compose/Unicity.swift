import BerthYAML

/// After a merge, entries of some sequences must be unique by a key (environment by variable,
/// volumes by target, ports by binding…). The last occurrence wins and takes the place where
/// the key first appeared — Compose's "EnforceUnicity".
enum ComposeUnicity {
    typealias Indexer = @Sendable (YAMLNode) -> String

    static let indexers: [(String, Indexer)] = [
        ("networks.*.labels", keyValue),
        ("networks.*.ipam.options", keyValue),
        ("services.*.annotations", keyValue),
        ("services.*.build.args", keyValue),
        ("services.*.build.additional_contexts", keyValue),
        ("services.*.build.platform", keyValue),
        ("services.*.build.tags", keyValue),
        ("services.*.build.labels", keyValue),
        ("services.*.cap_add", keyValue),
        ("services.*.cap_drop", keyValue),
        ("services.*.devices", device),
        ("services.*.configs", mount("")),
        ("services.*.deploy.labels", keyValue),
        ("services.*.dns", keyValue),
        ("services.*.dns_opt", keyValue),
        ("services.*.dns_search", keyValue),
        ("services.*.environment", keyValue),
        ("services.*.env_file", envFile),
        ("services.*.expose", text),
        ("services.*.labels", keyValue),
        ("services.*.links", keyValue),
        ("services.*.networks.*.aliases", keyValue),
        ("services.*.networks.*.link_local_ips", keyValue),
        ("services.*.ports", port),
        ("services.*.profiles", keyValue),
        ("services.*.secrets", mount("/run/secrets")),
        ("services.*.sysctls", keyValue),
        ("services.*.tmpfs", keyValue),
        ("services.*.volumes", volume),
    ]

    static let indexerTable = PathTable(indexers)

    static func enforce(_ node: YAMLNode) -> YAMLNode { enforce(node, TreePath()) }

    static func enforce(_ node: YAMLNode, _ path: TreePath) -> YAMLNode {
        var scratch = path
        return enforced(node, &scratch) ?? node
    }

    /// The node with duplicates removed, or nil when it has none: this runs over the whole
    /// document after every merge, and copying every mapping regardless was needless work.
    /// `path` is extended and restored while walking, not copied per child. Subtrees deeper
    /// than any rule, or outside the sections rules name, are not walked at all.
    static func enforced(_ node: YAMLNode, _ path: inout TreePath) -> YAMLNode? {
        switch node.content {
        case .mapping(let pairs):
            guard indexerTable.mayMatchBelow(path) else { return nil }
            var changed: [YAMLPair]?
            for (i, pair) in pairs.enumerated() {
                path.parts.append(pair.key.scalarText ?? "")
                let result = enforced(pair.value, &path)
                path.parts.removeLast()
                guard let new = result else { continue }
                var list = changed ?? pairs
                changed = nil  // keeps `list` the only reference, so the write below does not copy
                list[i].value = new
                changed = list
            }
            guard let changed else { return nil }
            var out = node
            out.content = .mapping(changed)
            return out
        case .sequence(let items):
            guard let indexer = indexerTable.first(matching: path) else { return nil }
            var result: [YAMLNode] = []
            var positions: [String: Int] = [:]
            var replaced = false
            for item in items {
                let key = indexer(item)
                if let at = positions[key] {
                    result[at] = item
                    replaced = true
                } else {
                    positions[key] = result.count
                    result.append(item)
                }
            }
            guard replaced else { return nil }
            var out = node
            out.content = .sequence(result)
            return out
        case .scalar:
            return nil
        }
    }

    static func text(_ n: YAMLNode) -> String { n.scalarText ?? "\(n)" }

    static func keyValue(_ n: YAMLNode) -> String {
        guard let s = n.scalarText else { return "\(n)" }
        if let eq = s.firstIndex(of: "=") { return String(s[..<eq]) }
        return s
    }

    static func envFile(_ n: YAMLNode) -> String {
        n["path"]?.scalarText ?? n.scalarText ?? ""
    }

    static func mount(_ defaultDir: String) -> Indexer {
        { n in
            if let s = n.scalarText { return joinPath(defaultDir, s) }
            if let target = n["target"]?.string { return target }
            return joinPath(defaultDir, n["source"]?.scalarText ?? "")
        }
    }

    static func joinPath(_ dir: String, _ name: String) -> String {
        if dir.isEmpty { return name }
        if name.hasPrefix("/") { return name }
        return dir + "/" + name
    }

    static func volume(_ n: YAMLNode) -> String {
        if let s = n.scalarText { return (try? VolumeSpec.parseShort(s).target) ?? s }
        return n["target"]?.scalarText ?? ""
    }

    static func device(_ n: YAMLNode) -> String {
        if let s = n.scalarText {
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            return parts.count > 1 ? String(parts[1]) : s
        }
        return n["target"]?.scalarText ?? ""
    }

    static func port(_ n: YAMLNode) -> String {
        if let s = n.scalarText { return s }
        let host = n["host_ip"]?.string ?? "0.0.0.0"
        let published = n["published"]?.string ?? ""
        let target = n["target"]?.string ?? ""
        let proto = n["protocol"]?.string ?? "tcp"
        return "\(host):\(published):\(target)/\(proto)"
    }
}
