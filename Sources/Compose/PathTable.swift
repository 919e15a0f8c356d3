/// Rules keyed by `services.*.ports`-style patterns, looked up for every node the loader walks.
/// Splitting and comparing each pattern per node was most of the time spent loading a large
/// project, so the patterns are split once and bucketed by their last part.
struct PathTable<Value: Sendable>: Sendable {
    private let index: PathIndex
    private let values: [Value]

    init(_ rules: [(String, Value)]) {
        index = PathIndex(rules.map(\.0))
        values = rules.map(\.1)
    }

    /// The value of the first rule (in the order given) whose pattern matches `path`.
    func first(matching path: TreePath) -> Value? {
        index.first(matching: path).map { values[$0] }
    }

    /// Whether some pattern could match a path strictly below `path`.
    func mayMatchBelow(_ path: TreePath) -> Bool { index.mayMatchBelow(path) }
}

/// A `PathTable`'s patterns, apart from its values. Not generic: the runtime builds the type
/// metadata of its dictionary and arrays once for all the tables, not once per value type,
/// which was most of the cost of each table's first use in a one-shot run.
struct PathIndex: Sendable {
    private struct Rule: Sendable {
        var order: Int
        /// nil stands for `*`: any key or index.
        var parts: [String?]
    }

    private var byLast: [String: [Rule]] = [:]
    private var anyLast: [Rule] = []
    /// The longest pattern, in parts.
    private var maxCount = 0
    /// First parts of the patterns; nil when some pattern starts with `*`.
    private var firstParts: Set<String>? = []

    init(_ patterns: [String]) {
        for (order, pattern) in patterns.enumerated() {
            let parts = pattern.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).map { part in
                let name = String(decoding: part, as: UTF8.self)
                return name == "*" ? nil : name
            }
            let rule = Rule(order: order, parts: parts)
            maxCount = max(maxCount, parts.count)
            if let first = parts.first, let key = first { firstParts?.insert(key) } else { firstParts = nil }
            if let last = parts.last, let key = last { byLast[key, default: []].append(rule) } else { anyLast.append(rule) }
        }
    }

    /// The position of the first pattern (in the order given) that matches `path`.
    func first(matching path: TreePath) -> Int? {
        guard let last = path.parts.last else { return nil }
        var best: Rule?
        for rule in byLast[last] ?? [] where Self.matches(rule.parts, path.parts) {
            best = rule
            break
        }
        for rule in anyLast where rule.order < (best?.order ?? .max) && Self.matches(rule.parts, path.parts) {
            best = rule
            break
        }
        return best?.order
    }

    /// Whether some pattern could match a path strictly below `path`.
    func mayMatchBelow(_ path: TreePath) -> Bool {
        guard path.parts.count + 1 <= maxCount else { return false }
        guard let first = path.parts.first, let firstParts else { return true }
        return firstParts.contains(first)
    }

    private static func matches(_ pattern: [String?], _ parts: [String]) -> Bool {
        guard pattern.count == parts.count else { return false }
        for i in pattern.indices {
            if let p = pattern[i], p != parts[i] { return false }
        }
        return true
    }
}
