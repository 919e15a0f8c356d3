import BerthYAML

/// `!reset` and `!override` tags of one file: the tagged paths are removed from what earlier
/// files built before this file merges in; `!reset` nodes are dropped from the file itself.
struct ResetPaths {
    var paths: [TreePath] = []

    /// Strips `!reset` nodes and the two tags from `node`, recording their paths.
    mutating func strip(_ node: YAMLNode, _ path: TreePath = TreePath()) -> YAMLNode? {
        // Rebuilding the whole tree costs more than looking: most files have neither tag.
        if !Self.hasTags(node) { return node }
        if node.tag == "!reset" {
            paths.append(path)
            return nil
        }
        var out = node
        if node.tag == "!override" {
            paths.append(path)
            out.tag = nil
        }
        switch node.content {
        case .scalar: break
        case .sequence(let items):
            var kept: [YAMLNode] = []
            for (i, item) in items.enumerated() {
                if let s = strip(item, path.next(i)) { kept.append(s) }
            }
            out.content = .sequence(kept)
        case .mapping(let pairs):
            var kept: [YAMLPair] = []
            for pair in pairs {
                if let s = strip(pair.value, path.next(pair.key.scalarText ?? "")) {
                    kept.append(YAMLPair(key: pair.key, value: s))
                }
            }
            out.content = .mapping(kept)
        }
        return out
    }

    static func hasTags(_ node: YAMLNode) -> Bool {
        if node.tag == "!reset" || node.tag == "!override" { return true }
        switch node.content {
        case .scalar: return false
        case .sequence(let items): return items.contains(where: hasTags)
        case .mapping(let pairs): return pairs.contains { hasTags($0.value) }
        }
    }

    /// Removes the recorded paths from `node`.
    func apply(_ node: YAMLNode, _ path: TreePath = TreePath()) -> YAMLNode {
        guard !paths.isEmpty else { return node }
        var out = node
        switch node.content {
        case .scalar: break
        case .sequence(let items):
            var kept: [YAMLNode] = []
            for (i, item) in items.enumerated() {
                let next = path.next(i)
                if paths.contains(next) { continue }
                kept.append(apply(item, next))
            }
            out.content = .sequence(kept)
        case .mapping(let pairs):
            var kept: [YAMLPair] = []
            for pair in pairs {
                let next = path.next(pair.key.scalarText ?? "")
                if paths.contains(next) { continue }
                kept.append(YAMLPair(key: pair.key, value: apply(pair.value, next)))
            }
            out.content = .mapping(kept)
        }
        return out
    }
}
