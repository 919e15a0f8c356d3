/// A position in a YAML source: file name plus 1-based line and column.
public struct Mark: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// A mark for nodes built in code rather than parsed.
    public static let none = Mark(file: "", line: 0, column: 0)

    public var description: String {
        if file.isEmpty && line == 0 { return "<generated>" }
        return "\(file):\(line):\(column)"
    }
}

/// How a scalar was written in the source; decides how typed access resolves it.
public enum ScalarStyle: Sendable, Hashable {
    case plain, singleQuoted, doubleQuoted, literal, folded
}

/// One key/value entry of a mapping, in document order.
public struct YAMLPair: Sendable, Equatable {
    public var key: YAMLNode
    public var value: YAMLNode

    public init(key: YAMLNode, value: YAMLNode) {
        self.key = key
        self.value = value
    }
}

/// A YAML node: scalar, sequence or ordered mapping, carrying its tag, anchor and source mark.
/// Aliases are resolved to the anchored node; merge keys (`<<`) are applied.
public struct YAMLNode: Sendable, Equatable {
    public indirect enum Content: Sendable, Equatable {
        case scalar(String, ScalarStyle)
        case sequence([YAMLNode])
        case mapping([YAMLPair])
    }

    public var content: Content
    /// The tag as written (`!reset`, `!override`, `tag:yaml.org,2002:str`), nil when implicit.
    public var tag: String?
    public var anchor: String?
    public var mark: Mark

    public init(_ content: Content, tag: String? = nil, anchor: String? = nil, mark: Mark = .none) {
        self.content = content
        self.tag = tag
        self.anchor = anchor
        self.mark = mark
    }

    /// Equality ignores marks and anchors: two nodes are equal when they hold the same data.
    public static func == (lhs: YAMLNode, rhs: YAMLNode) -> Bool {
        lhs.content == rhs.content && lhs.tag == rhs.tag
    }

    // MARK: constructors

    public static func string(_ s: String, mark: Mark = .none) -> YAMLNode {
        YAMLNode(.scalar(s, Self.plainResolves(s) == .string(s) ? .plain : .doubleQuoted), mark: mark)
    }
    public static func int(_ i: Int, mark: Mark = .none) -> YAMLNode { YAMLNode(.scalar(String(i), .plain), mark: mark) }
    public static func bool(_ b: Bool, mark: Mark = .none) -> YAMLNode { YAMLNode(.scalar(b ? "true" : "false", .plain), mark: mark) }
    public static func float(_ d: Double, mark: Mark = .none) -> YAMLNode {
        YAMLNode(.scalar(ScalarValue.formatDouble(d), .plain), mark: mark)
    }
    public static func null(mark: Mark = .none) -> YAMLNode { YAMLNode(.scalar("null", .plain), mark: mark) }
    public static func sequence(_ items: [YAMLNode], mark: Mark = .none) -> YAMLNode { YAMLNode(.sequence(items), mark: mark) }
    public static func mapping(_ pairs: [YAMLPair], mark: Mark = .none) -> YAMLNode { YAMLNode(.mapping(pairs), mark: mark) }
    public static func mapping(_ pairs: [(String, YAMLNode)], mark: Mark = .none) -> YAMLNode {
        YAMLNode(.mapping(pairs.map { YAMLPair(key: .string($0.0), value: $0.1) }), mark: mark)
    }

    // MARK: access

    public var isScalar: Bool { if case .scalar = content { return true } else { return false } }
    public var isMapping: Bool { if case .mapping = content { return true } else { return false } }
    public var isSequence: Bool { if case .sequence = content { return true } else { return false } }
    public var isNull: Bool { if case .null = value { return true } else { return false } }

    /// The raw text of a scalar, nil for collections.
    public var scalarText: String? {
        if case .scalar(let s, _) = content { return s }
        return nil
    }

    public var sequence: [YAMLNode]? {
        if case .sequence(let items) = content { return items }
        return nil
    }

    public var pairs: [YAMLPair]? {
        if case .mapping(let p) = content { return p }
        return nil
    }

    /// The value of the first entry whose key is the scalar `key`.
    public subscript(key: String) -> YAMLNode? {
        get {
            guard case .mapping(let pairs) = content else { return nil }
            return pairs.first { $0.key.scalarText == key }?.value
        }
        set {
            guard case .mapping(var pairs) = content else { return }
            // Drop this node's hold on the array first, so the edit below happens in place
            // instead of copying every pair on each assignment.
            content = .sequence([])
            if let index = pairs.firstIndex(where: { $0.key.scalarText == key }) {
                if let newValue { pairs[index].value = newValue } else { pairs.remove(at: index) }
            } else if let newValue {
                pairs.append(YAMLPair(key: .string(key), value: newValue))
            }
            content = .mapping(pairs)
        }
    }

    /// Mapping keys as strings, in order.
    public var keys: [String] { pairs?.compactMap { $0.key.scalarText } ?? [] }

    /// Number of nodes in this tree (used to bound alias expansion).
    public var nodeCount: Int {
        switch content {
        case .scalar: return 1
        case .sequence(let items): return items.reduce(1) { $0 + $1.nodeCount }
        case .mapping(let pairs): return pairs.reduce(1) { $0 + $1.key.nodeCount + $1.value.nodeCount }
        }
    }
}
