import BerthYAML

/// Any failure while loading a compose project: it says where (file:line:column when known),
/// which attribute (`services.web.ports[0]`) and what is wrong.
public struct ComposeError: Error, CustomStringConvertible, Sendable {
    public var mark: Mark?
    public var path: String?
    public var message: String

    public init(_ message: String, mark: Mark? = nil, path: String? = nil) {
        self.message = message
        self.mark = mark
        self.path = path
    }

    init(_ yaml: YAMLError) {
        self.init(yaml.message, mark: yaml.mark)
    }

    public var description: String {
        var text = ""
        if let mark, mark != .none { text += "\(mark): " }
        if let path, !path.isEmpty { text += "\(path): " }
        return text + message
    }
}

/// A location in the compose tree: `services`, `web`, `ports`, `0`.
struct TreePath: Sendable, Hashable, CustomStringConvertible {
    var parts: [String]

    init(_ parts: [String] = []) { self.parts = parts }

    func next(_ key: String) -> TreePath { TreePath(parts + [key]) }
    func next(_ index: Int) -> TreePath { TreePath(parts + [Self.indexPart(index)]) }

    static func indexPart(_ index: Int) -> String { "[" + String(index) + "]" }

    /// `services.*.ports` style patterns; `*` matches one key or index.
    func matches(_ pattern: String) -> Bool {
        let p = pattern.split(separator: ".", omittingEmptySubsequences: false)
        guard p.count == parts.count else { return false }
        for (a, b) in zip(parts, p) where b != "*" && a != b { return false }
        return true
    }

    var description: String {
        var text = ""
        for part in parts {
            if part.hasPrefix("[") { text += part } else { text += text.isEmpty ? part : "." + part }
        }
        return text
    }
}

extension YAMLNode {
    var kindName: String {
        switch content {
        case .scalar: return isNull ? "null" : "scalar"
        case .sequence: return "sequence"
        case .mapping: return "mapping"
        }
    }
}
