import BerthYAML
import FoundationEssentials
import Glibc
import Synchronization

/// A parsed JSON value: the schema's leaves (types, enums, names), read as they are reached.
indirect enum JSONValue: Sendable {
    case null, bool(Bool), number(Double), string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// A small JSON reader for the embedded schema: going through JSONSerialization and
    /// casting `Any` back cost more at start-up than validating a typical file.
    struct Parser {
        let bytes: [UInt8]
        var i = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        /// The whole text as one value, nil when it is not valid JSON.
        mutating func document() -> JSONValue? {
            guard let value = value() else { return nil }
            skipSpace()
            return i == bytes.count ? value : nil
        }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }

        mutating func literal(_ word: String) -> Bool {
            let w = Array(word.utf8)
            guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { return false }
            i += w.count
            return true
        }

        mutating func value() -> JSONValue? {
            skipSpace()
            guard i < bytes.count else { return nil }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var object: [String: JSONValue] = [:]
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(object) }
                while true {
                    skipSpace()
                    guard let key = string() else { return nil }
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
                    i += 1
                    guard let v = value() else { return nil }
                    object[key] = v
                    skipSpace()
                    guard i < bytes.count else { return nil }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(object) }
                    return nil
                }
            case UInt8(ascii: "["):
                i += 1
                var array: [JSONValue] = []
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(array) }
                while true {
                    guard let v = value() else { return nil }
                    array.append(v)
                    skipSpace()
                    guard i < bytes.count else { return nil }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(array) }
                    return nil
                }
            case UInt8(ascii: "\""):
                return string().map(JSONValue.string)
            case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"): return literal("null") ? .null : nil
            default:
                let start = i
                while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
                return Double(String(decoding: bytes[start..<i], as: UTF8.self)).map(JSONValue.number)
            }
        }

        mutating func string() -> String? {
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }
            i += 1
            // Most strings have no escapes: one slice, no byte-by-byte copy.
            var j = i
            while j < bytes.count, bytes[j] != UInt8(ascii: "\""), bytes[j] != UInt8(ascii: "\\") { j += 1 }
            if j < bytes.count, bytes[j] == UInt8(ascii: "\"") {
                defer { i = j + 1 }
                return String(decoding: bytes[i..<j], as: UTF8.self)
            }
            var out: [UInt8] = []
            while i < bytes.count {
                let c = bytes[i]
                i += 1
                if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                guard c == UInt8(ascii: "\\") else { out.append(c); continue }
                guard i < bytes.count else { return nil }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    guard i + 4 <= bytes.count,
                          var code = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else { return nil }
                    i += 4
                    // A surrogate pair spells one scalar outside the BMP.
                    if code >= 0xD800, code < 0xDC00, i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"),
                       bytes[i + 1] == UInt8(ascii: "u"),
                       let low = UInt32(String(decoding: bytes[(i + 2)..<(i + 6)], as: UTF8.self), radix: 16),
                       low >= 0xDC00, low < 0xE000 {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                    out.append(contentsOf: String(Character(Unicode.Scalar(code) ?? "\u{FFFD}")).utf8)
                default: out.append(e)  // \" \\ \/
                }
            }
            return nil
        }
    }

    var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    var string: String? { if case .string(let s) = self { return s }; return nil }
    var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
}

/// Validates a compose document against the Compose JSON schema (the subset of JSON Schema the
/// Compose schema uses: type, properties, patternProperties, additionalProperties, required,
/// items, oneOf, enum, pattern, $ref). Errors point at the offending node.
///
/// The schema is compiled into nodes with every `$ref` resolved to an index: walking the JSON
/// (string-keyed lookups, `$ref` paths split on every visit) was a fifth of the time spent
/// loading a large project. It is compiled lazily, a node when validation first reaches it:
/// parsing and compiling all of the 77 KB schema up front was half the cost of loading a
/// 20-service file, of which a few dozen of the schema's ~640 objects are used.
struct SchemaValidator: Sendable {
    let schema: SchemaStore
    let root = 0

    /// The embedded schema is known-good JSON; a broken edit would not crash, the parts that
    /// cannot be read would accept everything (and SchemaParserTests would fail).
    static let compose = SchemaValidator(text: composeSpecSchemaJSON)

    init(text: String) { schema = SchemaStore(text) }

    /// Every node reachable from the root, compiling those validation has not reached yet
    /// (with aliases: a slot reached through an already compiled `$ref` shares its node).
    var nodes: [SchemaNode] { schema.compileAll() }

    func validate(_ document: YAMLNode) throws(ComposeError) {
        var path = TreePath()
        if let error = check(document, root, &path, key: nil) { throw error }
    }

    private static func describe(_ node: YAMLNode) -> String {
        switch node.content {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar:
            switch node.value ?? .null {
            case .null: return "null"
            case .bool: return "a boolean"
            case .int: return "an integer"
            case .float: return "a number"
            case .string: return "a string"
            }
        }
    }

    private static func typeName(_ t: String) -> String {
        switch t {
        case "object": return "a mapping"
        case "array": return "a list"
        case "integer": return "an integer"
        case "number": return "a number"
        case "boolean": return "a boolean"
        case "null": return "null"
        default: return "a \(t)"
        }
    }

    /// `check` for a child, whose key or index is pushed on `path` and popped again, error or not.
    private func check(_ node: YAMLNode, _ index: Int, _ path: inout TreePath, _ part: String,
                       key: YAMLNode?) -> ComposeError? {
        path.parts.append(part)
        defer { path.parts.removeLast() }
        return check(node, index, &path, key: key)
    }

    /// Returns the first error, or nil. `path` is the node's path; it is extended and restored
    /// while checking the children rather than copied for each (errors copy its description).
    private func check(_ node: YAMLNode, _ index: Int, _ path: inout TreePath, key: YAMLNode?) -> ComposeError? {
        let schema = self.schema.node(index)
        if let allowed = schema.constant {
            return allowed ? nil : ComposeError("is not allowed", mark: key?.mark ?? node.mark, path: path.description)
        }
        // The node's type is resolved once, not once per type of each schema and branch tried.
        let kind = SchemaNode.TypeSet(node)
        if !schema.allows(kind) {
            let expected = schema.types.map(Self.typeName).joined(separator: " or ")
            return ComposeError("must be \(expected), not \(Self.describe(node))", mark: node.mark, path: path.description)
        }
        if let allowed = schema.enumValues, let text = node.scalarText, !allowed.contains(text) {
            return ComposeError("\"\(text)\" must be one of: \(allowed.joined(separator: ", "))", mark: node.mark, path: path.description)
        }
        if let pattern = schema.pattern, case .string(let text)? = node.value, !pattern.matches(text) {
            return ComposeError("\"\(text)\" does not match the pattern \(pattern.source)", mark: node.mark, path: path.description)
        }
        if let branches = schema.branches {
            // A branch for another kind of node fails on its type alone; its error is built only
            // when no branch matches (a list `command` would otherwise build two errors first).
            var errors: [ComposeError] = []
            var sameKind: [ComposeError] = []
            var failed: [ComposeError?] = []
            var matched = false
            for branch in branches {
                let sub = self.schema.node(branch)
                if sub.constant == nil, !sub.allows(kind) {
                    failed.append(nil)
                    continue
                }
                guard let e = check(node, branch, &path, key: key) else {
                    matched = true
                    break
                }
                failed.append(e)
            }
            if !matched {
                for (branch, e) in zip(branches, failed) {
                    guard let e = e ?? check(node, branch, &path, key: key) else { continue }
                    errors.append(e)
                    if self.schema.node(branch).allows(kind) { sameKind.append(e) }
                }
            }
            // Only one form fits this kind of node: its complaint is the useful one.
            if !errors.isEmpty, sameKind.count == 1 { return sameKind[0] }
            if !errors.isEmpty {
                // The branch that got deepest into the node explains the problem best.
                let here = path.description
                let best = errors.max { ($0.path?.count ?? 0, $0.mark?.line ?? 0) < ($1.path?.count ?? 0, $1.mark?.line ?? 0) }
                if let best, best.path != here || errors.allSatisfy({ $0.path == here }) == false {
                    return best
                }
                let kinds = errors.map(\.message).joined(separator: "; ")
                return ComposeError("does not match any allowed form (\(kinds))", mark: node.mark, path: here)
            }
        }
        for branch in schema.allOf {
            if let e = check(node, branch, &path, key: key) { return e }
        }
        switch node.content {
        case .mapping(let pairs):
            guard schema.checksMappings else { break }
            for name in schema.required where node[name] == nil {
                return ComposeError("missing required property \"\(name)\"", mark: node.mark, path: path.description)
            }
            for pair in pairs {
                let name = pair.key.scalarText ?? ""
                var matched = false
                if let sub = schema.properties[name] {
                    matched = true
                    if let e = check(pair.value, sub, &path, name, key: pair.key) { return e }
                }
                for (pattern, sub) in schema.patternProperties where pattern.matchesName(name) {
                    matched = true
                    if let e = check(pair.value, sub, &path, name, key: pair.key) { return e }
                }
                if !matched {
                    switch schema.additional {
                    case .allowed: break
                    case .forbidden:
                        return ComposeError("additional property \"\(name)\" is not allowed", mark: pair.key.mark,
                                            path: path.description)
                    case .schema(let sub):
                        if let e = check(pair.value, sub, &path, name, key: pair.key) { return e }
                    }
                }
            }
        case .sequence(let items):
            if let itemSchema = schema.items {
                for (i, item) in items.enumerated() {
                    if let e = check(item, itemSchema, &path, TreePath.indexPart(i), key: nil) { return e }
                }
            }
            if schema.uniqueItems {
                var seen: [YAMLNode] = []
                for item in items {
                    if seen.contains(item) {
                        return ComposeError("list has duplicate entry \(item.scalarText.map { "\"\($0)\"" } ?? "")",
                                            mark: item.mark, path: path.description)
                    }
                    seen.append(item)
                }
            }
        case .scalar:
            break
        }
        return nil
    }
}

/// One schema object with its keywords pulled out; sub-schemas are indices into the validator's nodes.
final class SchemaNode: Sendable {
    enum Additional: Sendable { case allowed, forbidden, schema(Int) }

    /// `true`/`false` schemas.
    let constant: Bool?
    let types: [String]
    let enumValues: [String]?
    let pattern: SchemaPattern?
    /// `oneOf`, else `anyOf`.
    let branches: [Int]?
    let allOf: [Int]
    let properties: [String: Int]
    let patternProperties: [(SchemaPattern, Int)]
    let additional: Additional
    let required: [String]
    let items: Int?
    let uniqueItems: Bool
    /// Whether a mapping has anything to check here (its entries, or required keys).
    let checksMappings: Bool
    /// The kinds of node `types` accepts.
    let typeSet: TypeSet

    /// Kinds of YAML node, as JSON Schema types see them.
    struct TypeSet: OptionSet, Sendable {
        let rawValue: UInt8
        static let object = TypeSet(rawValue: 1)
        static let array = TypeSet(rawValue: 2)
        static let null = TypeSet(rawValue: 4)
        static let boolean = TypeSet(rawValue: 8)
        static let int = TypeSet(rawValue: 16)
        /// A float with no fraction, which `integer` accepts too.
        static let wholeFloat = TypeSet(rawValue: 32)
        static let float = TypeSet(rawValue: 64)
        static let string = TypeSet(rawValue: 128)

        init(rawValue: UInt8) { self.rawValue = rawValue }

        /// The one kind of `node`.
        init(_ node: YAMLNode) {
            switch node.content {
            case .mapping: self = .object
            case .sequence: self = .array
            case .scalar:
                switch node.value ?? .null {
                case .null: self = .null
                case .bool: self = .boolean
                case .int: self = .int
                case .float(let d): self = d == d.rounded() ? .wholeFloat : .float
                case .string: self = .string
                }
            }
        }

        /// The kinds a schema `type` name accepts (none for a name JSON Schema does not have).
        init(type: String) {
            switch type {
            case "object": self = .object
            case "array": self = .array
            case "null": self = .null
            case "boolean": self = .boolean
            case "integer": self = [.int, .wholeFloat]
            case "number": self = [.int, .wholeFloat, .float]
            case "string": self = .string
            default: self = []
            }
        }
    }

    /// Whether a node of this kind passes the `type` keyword.
    func allows(_ kind: TypeSet) -> Bool { types.isEmpty || typeSet.contains(kind) }

    init(constant: Bool? = nil, types: [String] = [], enumValues: [String]? = nil, pattern: SchemaPattern? = nil,
         branches: [Int]? = nil, allOf: [Int] = [], properties: [String: Int] = [:],
         patternProperties: [(SchemaPattern, Int)] = [], additional: Additional = .allowed, required: [String] = [],
         items: Int? = nil, uniqueItems: Bool = false) {
        self.constant = constant
        self.types = types
        self.enumValues = enumValues
        self.pattern = pattern
        self.branches = branches
        self.allOf = allOf
        self.properties = properties
        self.patternProperties = patternProperties
        self.additional = additional
        self.required = required
        self.items = items
        self.uniqueItems = uniqueItems
        var checks = !properties.isEmpty || !patternProperties.isEmpty || !required.isEmpty
        if case .allowed = additional {} else { checks = true }
        checksMappings = checks
        typeSet = types.reduce(into: []) { $0.formUnion(TypeSet(type: $1)) }
    }
}

/// The schema's compiled nodes, each compiled from the schema text when first asked for.
/// Compiling a node reads only its own keywords; its sub-schemas become slots holding their
/// offset in the text, compiled when validation reaches them. The store is shared by every
/// load in the process, hence the lock; a compiled node never changes.
final class SchemaStore: Sendable {
    struct Slot {
        var source: Int
        var node: SchemaNode?
    }

    struct State {
        var slots: [Slot]
        /// The slot compiled for each `$ref`: other slots with the same reference share its node.
        var byRef: [String: Int] = [:]
    }

    let text: JSONText
    private let state: Mutex<State>

    init(_ schema: String) {
        text = JSONText(schema)
        state = Mutex(State(slots: [Slot(source: text.root)]))
    }

    func node(_ index: Int) -> SchemaNode {
        state.withLock { $0.node(index, text) }
    }

    /// How many slots validation has reached so far.
    var compiledCount: Int { state.withLock { $0.slots.count { $0.node != nil } } }

    /// Compiles every slot, including those the compiled ones add, and returns the nodes.
    func compileAll() -> [SchemaNode] {
        state.withLock { state in
            var i = 0
            while i < state.slots.count {
                _ = state.node(i, text)
                i += 1
            }
            return state.slots.compactMap(\.node)
        }
    }
}

extension SchemaStore.State {
    mutating func node(_ index: Int, _ text: JSONText) -> SchemaNode {
        if let done = slots[index].node { return done }
        var keywords = text.keywords(slots[index].source)
        if let at = keywords.ref, let ref = text.value(at)?.string {
            // The slot that claimed a reference is compiled before anything else can ask.
            if let other = byRef[ref], let done = slots[other].node {
                slots[index].node = done
                return done
            }
            byRef[ref] = index
            keywords = text.keywords(resolve(slots[index].source, text))
        }
        let node = build(keywords, text)
        slots[index].node = node
        return node
    }

    /// `$ref` chains end at the first schema that is not a reference (or cannot be found).
    mutating func resolve(_ schema: Int, _ text: JSONText) -> Int {
        guard let at = text.keywords(schema).ref, let ref = text.value(at)?.string, ref.hasPrefix("#/") else {
            return schema
        }
        var node = text.root
        for part in ref.dropFirst(2).split(separator: "/") {
            guard let next = text.member(String(part), of: node) else { return schema }
            node = next
        }
        return resolve(node, text)
    }

    mutating func slot(_ source: Int) -> Int {
        slots.append(SchemaStore.Slot(source: source))
        return slots.count - 1
    }

    /// Later duplicates of a key win, as in a parsed JSON object.
    func table(_ members: [(key: String, value: Int)]?) -> [String: Int] {
        var table: [String: Int] = [:]
        for (name, value) in members ?? [] { table[name] = value }
        return table
    }

    mutating func build(_ k: JSONText.Keywords, _ text: JSONText) -> SchemaNode {
        guard k.isObject else { return SchemaNode(constant: k.constant) }
        let typeValue = k.type.flatMap(text.value)
        let types = typeValue?.string.map { [$0] } ?? typeValue?.array?.compactMap(\.string) ?? []
        let enumValues = k.enumValues.flatMap(text.value)?.array.map { values in
            values.compactMap { v -> String? in
                switch v {
                case .string(let s): return s
                case .number(let n): return n == n.rounded() ? String(Int(n)) : String(n)
                case .bool(let b): return String(b)
                default: return nil
                }
            }
        }
        let pattern = k.pattern.flatMap(text.value)?.string.map(SchemaPattern.init)
        let branches = (k.oneOf.flatMap(text.elements) ?? k.anyOf.flatMap(text.elements))?.map { slot($0) }
        let allOf = k.allOf.flatMap(text.elements)?.map { slot($0) } ?? []
        let propertyMembers = k.properties.flatMap(text.members) ?? []
        var properties: [String: Int] = [:]
        properties.reserveCapacity(propertyMembers.count)
        for (name, at) in propertyMembers {
            // A later duplicate wins, as in a parsed object (the earlier one's slot is left unused).
            properties.updateValue(slot(at), forKey: name)
        }
        let patternProperties = table(k.patternProperties.flatMap(text.members)).sorted { $0.key < $1.key }
            .map { (SchemaPattern($0.key), slot($0.value)) }
        var additional = SchemaNode.Additional.allowed
        if let at = k.additional {
            if case .bool(false)? = text.value(at) {
                additional = .forbidden
            } else if text.members(at) != nil {
                additional = .schema(slot(at))
            }
        }
        let required = k.required.flatMap(text.value)?.array?.compactMap(\.string) ?? []
        let items = k.items.map { slot($0) }
        let uniqueItems = k.uniqueItems.flatMap(text.value)?.bool == true
        return SchemaNode(types: types, enumValues: enumValues, pattern: pattern, branches: branches, allOf: allOf,
                          properties: properties, patternProperties: patternProperties, additional: additional,
                          required: required, items: items, uniqueItems: uniqueItems)
    }
}

/// Reads parts of a JSON text without parsing the rest: a value is its byte offset. One pass
/// over the text notes where each object and array ends, so skipping one costs a lookup. The
/// text's UTF-8 is read in place: copying the 77 KB schema into fresh memory cost more than
/// reading it.
struct JSONText: Sendable {
    private let text: String
    /// Offsets of every `{` and `[` outside strings, ascending, and just past their match (0: none).
    private let containerStarts: [Int]
    private let containerEnds: [Int]

    init(_ text: String) {
        var text = text
        text.makeContiguousUTF8()
        self.text = text
        (containerStarts, containerEnds) = Self.withBytes(text, Self.containers)
    }

    private static func withBytes<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        text.utf8.withContiguousStorageIfAvailable(body) ?? Array(text.utf8).withUnsafeBufferPointer(body)
    }

    private func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R { Self.withBytes(text, body) }

    private static func containers(_ p: UnsafeBufferPointer<UInt8>) -> ([Int], [Int]) {
        var starts: [Int] = []
        var ends: [Int] = []
        var open: [Int] = []
        var i = 0
        while i < p.count {
            let c = p[i]
            // Indentation is most of what lies outside strings: one predictable test for it.
            if c == 0x20 {
                i += 1
                continue
            }
            if c == UInt8(ascii: "\"") {
                i = stringEnd(p, i) ?? p.count
                continue
            }
            if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                open.append(starts.count)
                starts.append(i)
                ends.append(0)
            } else if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
                if let top = open.popLast() { ends[top] = i + 1 }
            }
            i += 1
        }
        return (starts, ends)
    }

    /// Just past the string whose opening quote is at `open`. Most of the schema's bytes are in
    /// its descriptions: `memchr` finds each closing quote candidate, and one after an odd run
    /// of backslashes is escaped.
    private static func stringEnd(_ p: UnsafeBufferPointer<UInt8>, _ open: Int) -> Int? {
        guard let base = p.baseAddress else { return nil }
        var from = open + 1
        while from < p.count {
            guard let hit = memchr(base + from, Int32(UInt8(ascii: "\"")), p.count - from) else { return nil }
            let quote = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
            var backslashes = 0
            while quote - backslashes - 1 > open, p[quote - backslashes - 1] == UInt8(ascii: "\\") { backslashes += 1 }
            if backslashes % 2 == 0 { return quote + 1 }
            from = quote + 1
        }
        return nil
    }

    private static func skipSpace(_ p: UnsafeBufferPointer<UInt8>, _ offset: Int) -> Int {
        var i = offset
        while i < p.count, p[i] == 0x20 || p[i] == 0x0A || p[i] == 0x0D || p[i] == 0x09 { i += 1 }
        return i
    }

    /// The first value's offset.
    var root: Int { withBytes { Self.skipSpace($0, 0) } }

    /// Just past the value at `start` (no leading space), nil when it is malformed.
    private func end(_ p: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int? {
        guard start < p.count else { return nil }
        switch p[start] {
        case UInt8(ascii: "\""):
            return Self.stringEnd(p, start)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var low = 0
            var high = containerStarts.count
            while low < high {
                let mid = (low + high) / 2
                if containerStarts[mid] < start { low = mid + 1 } else { high = mid }
            }
            guard low < containerStarts.count, containerStarts[low] == start, containerEnds[low] > 0 else { return nil }
            return containerEnds[low]
        default:
            var i = start
            while i < p.count {
                switch p[i] {
                case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09:
                    return i > start ? i : nil
                default:
                    i += 1
                }
            }
            return i > start ? i : nil
        }
    }

    /// The value in `p[start..<end]`: a string without escapes directly, anything else through
    /// the parser (the schema's leaves are small).
    private static func parse(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> JSONValue? {
        if p[start] == UInt8(ascii: "\""), end - start >= 2, p[end - 1] == UInt8(ascii: "\""),
           !p[(start + 1)..<(end - 1)].contains(UInt8(ascii: "\\")) {
            return .string(String(decoding: UnsafeBufferPointer(rebasing: p[(start + 1)..<(end - 1)]), as: UTF8.self))
        }
        var parser = JSONValue.Parser(Array(p[start..<end]))
        return parser.document()
    }

    /// The whole value at `offset` (the schema's leaves: types, enums, names).
    func value(_ offset: Int) -> JSONValue? {
        withBytes { p in
            let start = Self.skipSpace(p, offset)
            guard let end = end(p, start) else { return nil }
            return Self.parse(p, start, end)
        }
    }

    /// Calls `body` with each member of the object at `offset`: where its key's string starts
    /// and ends (quotes included) and where its value starts. False when the value there is not
    /// an object or is malformed.
    private func forEachMember(_ p: UnsafeBufferPointer<UInt8>, _ offset: Int,
                               _ body: (_ keyStart: Int, _ keyEnd: Int, _ value: Int) -> Void) -> Bool {
        var i = Self.skipSpace(p, offset)
        guard i < p.count, p[i] == UInt8(ascii: "{") else { return false }
        i = Self.skipSpace(p, i + 1)
        if i < p.count, p[i] == UInt8(ascii: "}") { return true }
        while true {
            i = Self.skipSpace(p, i)
            guard i < p.count, p[i] == UInt8(ascii: "\""), let keyEnd = Self.stringEnd(p, i) else { return false }
            let keyStart = i
            i = Self.skipSpace(p, keyEnd)
            guard i < p.count, p[i] == UInt8(ascii: ":") else { return false }
            i = Self.skipSpace(p, i + 1)
            guard let valueEnd = end(p, i) else { return false }
            body(keyStart, keyEnd, i)
            i = Self.skipSpace(p, valueEnd)
            guard i < p.count else { return false }
            if p[i] == UInt8(ascii: ",") { i += 1; continue }
            return p[i] == UInt8(ascii: "}")
        }
    }

    /// An object's members in order (key, offset of the value), nil when the value at
    /// `offset` is not an object or is malformed.
    func members(_ offset: Int) -> [(key: String, value: Int)]? {
        withBytes { p in
            var out: [(key: String, value: Int)] = []
            var valid = true
            let object = forEachMember(p, offset) { keyStart, keyEnd, value in
                guard case .string(let key)? = Self.parse(p, keyStart, keyEnd) else { valid = false; return }
                out.append((key, value))
            }
            return object && valid ? out : nil
        }
    }

    /// The value of an object's member (the last of that name, as in a parsed object), nil when
    /// there is none or the value at `object` is not an object. Keys without escapes are
    /// compared in place (`$ref` paths go through the root's and `$defs`' members).
    func member(_ key: String, of object: Int) -> Int? {
        withBytes { p in
            var found: Int?
            var valid = true
            let isObject = forEachMember(p, object) { keyStart, keyEnd, value in
                let raw = UnsafeBufferPointer(rebasing: p[(keyStart + 1)..<(keyEnd - 1)])
                if !raw.contains(UInt8(ascii: "\\")) {
                    if raw.elementsEqual(key.utf8) { found = value }
                } else if case .string(let name)? = Self.parse(p, keyStart, keyEnd) {
                    if name == key { found = value }
                } else {
                    valid = false
                }
            }
            return isObject && valid ? found : nil
        }
    }

    /// An array's elements' offsets, nil when the value at `offset` is not an array or is malformed.
    func elements(_ offset: Int) -> [Int]? {
        withBytes { p in
            var i = Self.skipSpace(p, offset)
            guard i < p.count, p[i] == UInt8(ascii: "[") else { return nil }
            i = Self.skipSpace(p, i + 1)
            var out: [Int] = []
            if i < p.count, p[i] == UInt8(ascii: "]") { return out }
            while true {
                i = Self.skipSpace(p, i)
                guard let valueEnd = end(p, i) else { return nil }
                out.append(i)
                i = Self.skipSpace(p, valueEnd)
                guard i < p.count else { return nil }
                if p[i] == UInt8(ascii: ",") { i += 1; continue }
                return p[i] == UInt8(ascii: "]") ? out : nil
            }
        }
    }

    /// Where a schema's keywords' values are (the last of a repeated keyword, as in a parsed
    /// object), or its constant for `true`/`false`.
    struct Keywords {
        var isObject = false
        var constant: Bool?
        var ref, type, enumValues, pattern, oneOf, anyOf, allOf: Int?
        var properties, patternProperties, additional, required, items, uniqueItems: Int?
    }

    func keywords(_ offset: Int) -> Keywords {
        var k = Keywords()
        guard let members = members(offset) else {
            if case .bool(let b)? = value(offset) { k.constant = b }
            return k
        }
        k.isObject = true
        for (key, at) in members {
            switch key {
            case "$ref": k.ref = at
            case "type": k.type = at
            case "enum": k.enumValues = at
            case "pattern": k.pattern = at
            case "oneOf": k.oneOf = at
            case "anyOf": k.anyOf = at
            case "allOf": k.allOf = at
            case "properties": k.properties = at
            case "patternProperties": k.patternProperties = at
            case "additionalProperties": k.additional = at
            case "required": k.required = at
            case "items": k.items = at
            case "uniqueItems": k.uniqueItems = at
            default: break
            }
        }
        return k
    }
}

/// A schema `pattern` / `patternProperties` regular expression. The few the Compose schema
/// uses are matched by hand: compiling an ICU regex costs more than loading a small project.
struct SchemaPattern: Sendable {
    let source: String

    init(_ source: String) { self.source = source }

    /// Search semantics, as JSON Schema's `pattern`: a match anywhere in the text.
    func matches(_ text: String) -> Bool {
        switch source {
        case "[a-zA-Z0-9][a-zA-Z0-9_.-]+":
            let bytes = Array(text.utf8)
            guard bytes.count >= 2 else { return false }
            for i in 0..<(bytes.count - 1) where Self.isAlnum(bytes[i]) {
                let next = bytes[i + 1]
                if Self.isAlnum(next) || next == UInt8(ascii: "_") || next == UInt8(ascii: ".") || next == UInt8(ascii: "-") {
                    return true
                }
            }
            return false
        case "always|never|build|if_not_present|missing|refresh|daily|weekly|every_([0-9]+[wdhms])+":
            for word in ["always", "never", "build", "if_not_present", "missing", "refresh", "daily", "weekly"]
            where text.utf8.firstRange(of: word.utf8) != nil {
                return true
            }
            return Self.containsEvery(Array(text.utf8))
        default:
            return Self.regexMatches(text, source)
        }
    }

    /// `patternProperties` keys.
    func matchesName(_ name: String) -> Bool {
        switch source {
        case "^x-": return name.hasPrefix("x-")
        case "^.+$": return !name.isEmpty && !name.utf8.contains(UInt8(ascii: "\n"))
        case ".+": return name.utf8.contains { $0 != UInt8(ascii: "\n") }
        case "^[a-z]+$":
            return !name.isEmpty && name.utf8.allSatisfy { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }
        case "^[a-zA-Z0-9._-]+$":
            return !name.isEmpty && name.unicodeScalars.allSatisfy { c in
                (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "." || c == "_" || c == "-"
            }
        default:
            return matches(name)
        }
    }

    private static func isAlnum(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    /// `every_([0-9]+[wdhms])+` anywhere in the text.
    private static func containsEvery(_ bytes: [UInt8]) -> Bool {
        let prefix = Array("every_".utf8)
        guard bytes.count > prefix.count else { return false }
        for start in 0...(bytes.count - prefix.count) where Array(bytes[start..<(start + prefix.count)]) == prefix {
            var i = start + prefix.count
            var digits = 0
            while i < bytes.count, isDigit(bytes[i]) { i += 1; digits += 1 }
            if digits > 0, i < bytes.count, "wdhms".utf8.contains(bytes[i]) { return true }
        }
        return false
    }

    /// Compiled patterns: a Regex is not Sendable, so the cache holds them boxed.
    private final class CompiledPattern: @unchecked Sendable {
        let regex: Regex<AnyRegexOutput>?
        init(_ pattern: String) { regex = (try? Regex(pattern))?.matchingSemantics(.unicodeScalar) }
    }

    private static let regexCache = Mutex<[String: CompiledPattern]>([:])

    /// The schema's patterns are ECMA-262 (JSON Schema); Swift's Regex reads the ones the
    /// compose schema has. One it cannot compile matches nothing.
    private static func regexMatches(_ text: String, _ pattern: String) -> Bool {
        let compiled = regexCache.withLock { cache in
            if let hit = cache[pattern] { return hit }
            let fresh = CompiledPattern(pattern)
            cache[pattern] = fresh
            return fresh
        }
        guard let regex = compiled.regex else { return false }
        return (try? regex.firstMatch(in: text)) != nil
    }
}
