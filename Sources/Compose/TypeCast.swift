import BerthYAML

/// After interpolation a value is text; Compose turns it back into the number or boolean the
/// attribute needs (`replicas: "${N}"` is an integer), for a fixed set of attributes.
enum TypeCast {
    enum Kind { case int, float, bool }

    static let rules: [(String, Kind)] = [
        ("services.*.configs.*.mode", .int), ("services.*.cpu_count", .int), ("services.*.cpu_percent", .float),
        ("services.*.cpu_period", .int), ("services.*.cpu_quota", .int), ("services.*.cpu_rt_period", .int),
        ("services.*.cpu_rt_runtime", .int), ("services.*.cpus", .float), ("services.*.cpu_shares", .int),
        ("services.*.init", .bool), ("services.*.deploy.replicas", .int),
        ("services.*.deploy.update_config.parallelism", .int), ("services.*.deploy.update_config.max_failure_ratio", .float),
        ("services.*.deploy.rollback_config.parallelism", .int),
        ("services.*.deploy.rollback_config.max_failure_ratio", .float),
        ("services.*.deploy.restart_policy.max_attempts", .int),
        ("services.*.deploy.placement.max_replicas_per_node", .int), ("services.*.healthcheck.retries", .int),
        ("services.*.healthcheck.disable", .bool), ("services.*.oom_kill_disable", .bool),
        ("services.*.oom_score_adj", .int), ("services.*.pids_limit", .int), ("services.*.ports.*.target", .int),
        ("services.*.privileged", .bool), ("services.*.read_only", .bool), ("services.*.scale", .int),
        ("services.*.secrets.*.mode", .int), ("services.*.stdin_open", .bool), ("services.*.tty", .bool),
        ("services.*.ulimits.*", .int), ("services.*.ulimits.*.hard", .int), ("services.*.ulimits.*.soft", .int),
        ("services.*.volumes.*.read_only", .bool), ("services.*.volumes.*.volume.nocopy", .bool),
        ("services.*.volumes.*.tmpfs.mode", .int),
        ("networks.*.external", .bool), ("networks.*.internal", .bool), ("networks.*.attachable", .bool),
        ("networks.*.enable_ipv6", .bool), ("volumes.*.external", .bool), ("secrets.*.external", .bool),
        ("configs.*.external", .bool),
    ]

    static let table = PathTable(rules)

    static func kind(at path: TreePath) -> Kind? {
        switch path.parts.first {
        case "services", "networks", "volumes", "secrets", "configs": return table.first(matching: path)
        default: return nil
        }
    }

    static func cast(_ node: YAMLNode, _ path: TreePath) throws(ComposeError) -> YAMLNode {
        try castIfNeeded(node, path) ?? node
    }

    /// The cast node, or nil when this attribute is not cast or the value is already typed.
    static func castIfNeeded(_ node: YAMLNode, _ path: TreePath) throws(ComposeError) -> YAMLNode? {
        guard let kind = kind(at: path), case .string(let text)? = node.value else { return nil }
        var out = node
        switch kind {
        case .int:
            guard let i = Int(text) else {
                throw ComposeError("\"\(text)\" is not an integer", mark: node.mark, path: path.description)
            }
            out.content = .scalar(String(i), .plain)
        case .float:
            guard let d = Double(text) else {
                throw ComposeError("\"\(text)\" is not a number", mark: node.mark, path: path.description)
            }
            out.content = .scalar(text.contains(".") || text.contains("e") ? text : String(d), .plain)
        case .bool:
            switch text.lowercased() {
            case "y", "yes", "true", "on": out.content = .scalar("true", .plain)
            case "n", "no", "false", "off": out.content = .scalar("false", .plain)
            default:
                throw ComposeError("\"\(text)\" is not a boolean (use true or false)", mark: node.mark, path: path.description)
            }
        }
        return out
    }
}
