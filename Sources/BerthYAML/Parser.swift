import CYAML

/// A YAML syntax or structure error, located at `file:line:column`.
public struct YAMLError: Error, CustomStringConvertible, Sendable {
    public var mark: Mark
    public var message: String

    public init(mark: Mark, message: String) {
        self.mark = mark
        self.message = message
    }

    public var description: String { "\(mark): \(message)" }
}

/// Parsing and emitting YAML through libyaml.
public enum YAML {
    /// Limit on nodes produced by alias expansion, so "billion laughs" documents fail fast.
    public static let defaultAliasNodeLimit = 1_000_000

    /// Parses every document of a stream. An empty stream gives no documents.
    public static func parseAll(_ text: String, file: String = "<input>",
                                aliasNodeLimit: Int = defaultAliasNodeLimit) throws(YAMLError) -> [YAMLNode] {
        var builder = TreeBuilder(file: file, aliasNodeLimit: aliasNodeLimit)
        let parser = LibYAMLParser(text: text)
        return try builder.run(parser)
    }

    /// Parses a single-document stream; an empty stream gives nil.
    public static func parse(_ text: String, file: String = "<input>",
                             aliasNodeLimit: Int = defaultAliasNodeLimit) throws(YAMLError) -> YAMLNode? {
        let docs = try parseAll(text, file: file, aliasNodeLimit: aliasNodeLimit)
        if docs.count > 1 {
            throw YAMLError(mark: docs[1].mark, message: "expected a single YAML document, found \(docs.count)")
        }
        return docs.first
    }
}

/// Owns a libyaml parser and the input bytes it reads.
final class LibYAMLParser {
    let parser: UnsafeMutablePointer<yaml_parser_t>
    let input: UnsafeMutableBufferPointer<UInt8>

    init(text: String) {
        parser = .allocate(capacity: 1)
        let bytes = Array(text.utf8)
        input = .allocate(capacity: max(bytes.count, 1))
        _ = input.initialize(from: bytes)
        yaml_parser_initialize(parser)
        yaml_parser_set_input_string(parser, input.baseAddress, bytes.count)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        input.deallocate()
    }
}

private struct TreeBuilder {
    let file: String
    let aliasNodeLimit: Int
    var anchors: [String: YAMLNode] = [:]
    var anchorSizes: [String: Int] = [:]
    var expanded = 0

    init(file: String, aliasNodeLimit: Int) {
        self.file = file
        self.aliasNodeLimit = aliasNodeLimit
    }

    enum Frame {
        case sequence(YAMLNode, [YAMLNode])
        case mapping(YAMLNode, [YAMLNode])
    }

    func mark(_ m: yaml_mark_t) -> Mark { Mark(file: file, line: Int(m.line) + 1, column: Int(m.column) + 1) }

    static func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let p else { return nil }
        return String(cString: UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self))
    }

    mutating func run(_ parser: LibYAMLParser) throws(YAMLError) -> [YAMLNode] {
        var documents: [YAMLNode] = []
        var stack: [Frame] = []
        var finished: YAMLNode?
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(parser.parser, &event) == 1 else {
                let p = parser.parser.pointee
                let problem = p.problem.map { String(cString: $0) } ?? "syntax error"
                var message = problem
                if let context = p.context.map({ String(cString: $0) }) { message = "\(problem) \(context)" }
                throw YAMLError(mark: mark(p.problem_mark), message: message)
            }
            defer { yaml_event_delete(&event) }
            let start = mark(event.start_mark)
            var node: YAMLNode?
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return documents
            case YAML_DOCUMENT_START_EVENT:
                anchors = [:]
                anchorSizes = [:]
                finished = nil
            case YAML_DOCUMENT_END_EVENT:
                documents.append(finished ?? YAMLNode(.scalar("", .plain), mark: start))
            case YAML_ALIAS_EVENT:
                let name = Self.string(event.data.alias.anchor) ?? ""
                guard var target = anchors[name] else {
                    throw YAMLError(mark: start, message: "unknown alias *\(name)")
                }
                expanded += anchorSizes[name] ?? 1
                if expanded > aliasNodeLimit {
                    throw YAMLError(mark: start, message: "aliases expand to more than \(aliasNodeLimit) nodes; refusing a possible alias bomb")
                }
                target.anchor = nil
                node = target
            case YAML_SCALAR_EVENT:
                let s = event.data.scalar
                let text = String(decoding: UnsafeBufferPointer(start: s.value, count: Int(s.length)), as: UTF8.self)
                let style: ScalarStyle
                switch s.style {
                case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
                case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
                case YAML_LITERAL_SCALAR_STYLE: style = .literal
                case YAML_FOLDED_SCALAR_STYLE: style = .folded
                default: style = .plain
                }
                var tag = Self.string(s.tag)
                if tag == "!" { tag = nil; node = YAMLNode(.scalar(text, style == .plain ? .doubleQuoted : style), mark: start) }
                else { node = YAMLNode(.scalar(text, style), tag: tag, anchor: Self.string(s.anchor), mark: start) }
                node?.anchor = Self.string(s.anchor)
            case YAML_SEQUENCE_START_EVENT:
                let s = event.data.sequence_start
                stack.append(.sequence(YAMLNode(.sequence([]), tag: Self.string(s.tag), anchor: Self.string(s.anchor), mark: start), []))
            case YAML_MAPPING_START_EVENT:
                let s = event.data.mapping_start
                stack.append(.mapping(YAMLNode(.mapping([]), tag: Self.string(s.tag), anchor: Self.string(s.anchor), mark: start), []))
            case YAML_SEQUENCE_END_EVENT:
                guard case .sequence(var seq, let items)? = stack.popLast() else { break }
                seq.content = .sequence(items)
                node = seq
            case YAML_MAPPING_END_EVENT:
                guard case .mapping(var map, let items)? = stack.popLast() else { break }
                map.content = .mapping(try buildMapping(items))
                node = map
            default:
                break
            }
            guard let done = node else { continue }
            if let anchor = done.anchor, event.type != YAML_ALIAS_EVENT {
                anchors[anchor] = done
                anchorSizes[anchor] = done.nodeCount
            }
            switch stack.popLast() {
            case .sequence(let seq, var items)?:
                items.append(done)
                stack.append(.sequence(seq, items))
            case .mapping(let map, var items)?:
                items.append(done)
                stack.append(.mapping(map, items))
            case nil:
                finished = done
            }
        }
    }

    private static func isMergeKey(_ key: YAMLNode) -> Bool {
        guard case .scalar(let text, let style) = key.content else { return false }
        if key.tag == "tag:yaml.org,2002:merge" { return true }
        return text == "<<" && style == .plain && key.tag == nil
    }

    /// Pairs the flat key/value list, applies merge keys and rejects duplicate keys.
    private func buildMapping(_ items: [YAMLNode]) throws(YAMLError) -> [YAMLPair] {
        var explicit: [YAMLPair] = []
        explicit.reserveCapacity(items.count / 2)
        // Duplicate keys are looked up by scanning while the mapping is small (most are), and
        // through a dictionary of indices once it grows.
        var seen: [String: Int] = [:]
        func firstIndex(of text: String) -> Int? {
            if explicit.count <= 16 {
                return explicit.firstIndex { Self.keyIdentity($0.key) == text }
            }
            if seen.isEmpty {
                for (i, pair) in explicit.enumerated() {
                    if let id = Self.keyIdentity(pair.key), seen[id] == nil { seen[id] = i }
                }
            }
            return seen[text]
        }
        var mergeSources: [(index: Int, maps: [YAMLNode])] = []
        var i = 0
        while i + 1 < items.count {
            let key = items[i], value = items[i + 1]
            i += 2
            if Self.isMergeKey(key) {
                var maps: [YAMLNode] = []
                switch value.content {
                case .mapping: maps = [value]
                case .sequence(let list):
                    for m in list {
                        guard m.isMapping else {
                            throw YAMLError(mark: m.mark, message: "merge key << expects a mapping or a list of mappings")
                        }
                        maps.append(m)
                    }
                default:
                    throw YAMLError(mark: value.mark, message: "merge key << expects a mapping or a list of mappings")
                }
                mergeSources.append((explicit.count, maps))
                continue
            }
            if let text = Self.keyIdentity(key) {
                if let first = firstIndex(of: text) {
                    throw YAMLError(mark: key.mark,
                                    message: "duplicate mapping key \"\(key.scalarText ?? text)\" (first defined at \(explicit[first].key.mark))")
                }
                if !seen.isEmpty { seen[text] = explicit.count }
            }
            explicit.append(YAMLPair(key: key, value: value))
        }
        guard !mergeSources.isEmpty else { return explicit }
        // Explicit keys win over merged ones; among merged mappings the earlier one wins.
        var taken = Set(explicit.compactMap { Self.keyIdentity($0.key) })
        var inserts: [(index: Int, pairs: [YAMLPair])] = []
        for source in mergeSources {
            var add: [YAMLPair] = []
            for map in source.maps {
                for pair in map.pairs ?? [] {
                    guard let id = Self.keyIdentity(pair.key) else { add.append(pair); continue }
                    if taken.contains(id) { continue }
                    taken.insert(id)
                    add.append(pair)
                }
            }
            inserts.append((source.index, add))
        }
        var result: [YAMLPair] = []
        var next = 0
        for (index, pairs) in inserts {
            while next < index { result.append(explicit[next]); next += 1 }
            result.append(contentsOf: pairs)
        }
        while next < explicit.count { result.append(explicit[next]); next += 1 }
        return result
    }

    private static func keyIdentity(_ key: YAMLNode) -> String? {
        guard case .scalar(let text, _) = key.content else { return nil }
        return text
    }
}
