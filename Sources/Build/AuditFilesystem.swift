import ELF
import FoundationEssentials
import Glibc

/// The final filesystem of an image, as the union of its layers: a tree of names that never
/// touches the host. Paths are resolved the way the kernel would inside the container: absolute
/// symlinks start at the image root and `..` stops there.
final class ImageFilesystem {
    final class Node {
        enum Kind {
            case directory
            case file(LayerFile)
            case symlink(String)
            case other
        }

        var kind: Kind
        var children: [String: Node] = [:]
        /// Index of the layer that last wrote this entry.
        var layer: Int

        init(_ kind: Kind, layer: Int) {
            self.kind = kind
            self.layer = layer
        }

        var isDirectory: Bool {
            if case .directory = kind { return true }
            return false
        }

        var file: LayerFile? {
            if case .file(let f) = kind { return f }
            return nil
        }
    }

    let root = Node(.directory, layer: 0)

    init(layers: [LayerIndex]) {
        for (i, layer) in layers.enumerated() { apply(layer, index: i) }
    }

    /// Whiteouts only hide what lower layers made, so they go first; then the layer's entries.
    private func apply(_ layer: LayerIndex, index: Int) {
        for e in layer.entries {
            switch e.kind {
            case .whiteout:
                let (parent, name) = split(e.path)
                lookupLiteral(parent)?.children[name] = nil
            case .opaque:
                if let dir = lookupLiteral(e.path), dir.isDirectory { dir.children = [:] }
            default:
                continue
            }
        }
        for e in layer.entries {
            switch e.kind {
            case .whiteout, .opaque: continue
            case .directory: place(e.path, .directory, layer: index)
            case .file(let f): place(e.path, .file(f), layer: index)
            case .symlink(let t): place(e.path, .symlink(t), layer: index)
            case .other: place(e.path, .other, layer: index)
            case .hardlink(let target):
                // A link to a file of a lower layer (or one later in this layer's order).
                if let f = lookupLiteral(target)?.file {
                    place(e.path, .file(f), layer: index)
                } else {
                    place(e.path, .other, layer: index)
                }
            }
        }
    }

    private func split(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[..<slash]), String(path[path.index(after: slash)...]))
    }

    /// The node at a layer path, taking each name literally (no symlinks).
    private func lookupLiteral(_ path: String) -> Node? {
        var node = root
        for part in path.split(separator: "/") {
            guard let next = node.children[String(part)] else { return nil }
            node = next
        }
        return node
    }

    /// Puts an entry in place, creating missing parent directories; a directory over a
    /// directory keeps its children (layers merge), anything else replaces what was there.
    private func place(_ path: String, _ kind: Node.Kind, layer: Int) {
        let parts = path.split(separator: "/").map(String.init)
        guard let last = parts.last else { return }
        var node = root
        for part in parts.dropLast() {
            if let next = node.children[part], next.isDirectory {
                node = next
            } else {
                let dir = Node(.directory, layer: layer)
                node.children[part] = dir
                node = dir
            }
        }
        if case .directory = kind, let existing = node.children[last], existing.isDirectory {
            existing.layer = layer
            return
        }
        node.children[last] = Node(kind, layer: layer)
    }

    // MARK: resolution

    /// Follows `path` (absolute inside the image) through symlinks; nil when it does not
    /// exist, loops, or runs through something that is not a directory.
    func resolve(_ path: String, followLast: Bool = true) -> (path: String, node: Node)? {
        var stack: [(String, Node)] = []
        var pending = Array(path.split(separator: "/").map(String.init).reversed())
        var budget = 40
        while let part = pending.popLast() {
            if part == "." || part.isEmpty { continue }
            if part == ".." {
                if !stack.isEmpty { stack.removeLast() }
                continue
            }
            let dir = stack.last?.1 ?? root
            guard dir.isDirectory, let next = dir.children[part] else { return nil }
            if case .symlink(let target) = next.kind, followLast || !pending.isEmpty {
                budget -= 1
                if budget < 0 { return nil }
                if target.hasPrefix("/") { stack = [] }
                pending.append(contentsOf: target.split(separator: "/").map(String.init).reversed())
                continue
            }
            stack.append((part, next))
        }
        let resolved = "/" + stack.map(\.0).joined(separator: "/")
        return (resolved, stack.last?.1 ?? root)
    }

    /// A regular file at `path` after following symlinks.
    func regularFile(_ path: String) -> (path: String, node: Node, file: LayerFile)? {
        guard let r = resolve(path), let f = r.node.file else { return nil }
        return (r.path, r.node, f)
    }

    func exists(_ path: String) -> Bool { resolve(path) != nil }

    /// Text of a small file when its content was kept. The index keeps no content, so this
    /// is only for configuration files read separately (see `ImageTextFiles`).
    func visitFiles(_ body: (String, Node, LayerFile) -> Void) {
        var stack: [(String, Node)] = [("", root)]
        while let (path, node) = stack.popLast() {
            for (name, child) in node.children {
                let p = path + "/" + name
                switch child.kind {
                case .directory: stack.append((p, child))
                case .file(let f): body(p, child, f)
                default: break
                }
            }
        }
    }

    /// Names in a directory (after following symlinks), for glob expansion.
    func list(_ directory: String) -> [String] {
        guard let r = resolve(directory), r.node.isDirectory else { return [] }
        return r.node.children.keys.sorted()
    }
}
