import BerthYAML
import Foundation
import Synchronization

/// A parsed JSON value, used to hold the schema.
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

    subscript(key: String) -> JSONValue? {
        if case .object(let d) = self { return d[key] }
        return nil
    }
    var object: [String: JSONValue]? { if case .object(let d) = self { return d }; return nil }
    var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    var string: String? { if case .string(let s) = self { return s }; return nil }
    var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
}

/// Validates a compose document against the Compose JSON schema (the subset of JSON Schema the
/// Compose schema uses: type, properties, patternProperties, additionalProperties, required,
/// items, oneOf, enum, pattern, $ref). Errors point at the offending node.
///
/// The schema is compiled once into nodes with every `$ref` resolved to an index: walking the
/// JSON (string-keyed lookups, `$ref` paths split on every visit) was a fifth of the time spent
/// loading a large project.
struct SchemaValidator: Sendable {
    let nodes: [SchemaNode]
    let root: Int

    static let compose: SchemaValidator = {
        // The embedded schema is known-good JSON; the fallback only keeps a broken edit from
        // crashing (it would then accept everything, and the schema tests would fail).
        var parser = JSONValue.Parser(Array(composeSpecSchemaJSON.utf8))
        return SchemaValidator(schema: parser.document() ?? .bool(true))
    }()

    init(schema: JSONValue) {
        var compiler = SchemaCompiler(root: schema)
        root = compiler.compile(schema)
        nodes = compiler.nodes.map { $0 ?? SchemaNode(json: .bool(true), compile: { _ in 0 }) }
    }

    func validate(_ document: YAMLNode) throws(ComposeError) {
        if let error = check(document, root, TreePath(), key: nil) { throw error }
    }

    private static func typeMatches(_ node: YAMLNode, _ type: String) -> Bool {
        switch node.content {
        case .mapping: return type == "object"
        case .sequence: return type == "array"
        case .scalar:
            switch node.value ?? .null {
            case .null: return type == "null"
            case .bool: return type == "boolean"
            case .int: return type == "integer" || type == "number"
            case .float(let d): return type == "number" || (type == "integer" && d == d.rounded())
            case .string: return type == "string"
            }
        }
    }

    private static func typeAllows(_ node: YAMLNode, _ schema: SchemaNode) -> Bool {
        schema.types.isEmpty || schema.types.contains { typeMatches(node, $0) }
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

    /// Returns the first error, or nil.
    private func check(_ node: YAMLNode, _ index: Int, _ path: TreePath, key: YAMLNode?) -> ComposeError? {
        let schema = nodes[index]
        if let allowed = schema.constant {
            return allowed ? nil : ComposeError("is not allowed", mark: key?.mark ?? node.mark, path: path.description)
        }
        if !Self.typeAllows(node, schema) {
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
            var errors: [ComposeError] = []
            var sameKind: [ComposeError] = []
            for branch in branches {
                if let e = check(node, branch, path, key: key) {
                    errors.append(e)
                    if Self.typeAllows(node, nodes[branch]) { sameKind.append(e) }
                } else {
                    errors = []
                    break
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
            if let e = check(node, branch, path, key: key) { return e }
        }
        switch node.content {
        case .mapping(let pairs):
            guard schema.checksMappings else { break }
            for name in schema.required where node[name] == nil {
                return ComposeError("missing required property \"\(name)\"", mark: node.mark, path: path.description)
            }
            for pair in pairs {
                let name = pair.key.scalarText ?? ""
                let next = path.next(name)
                var matched = false
                if let sub = schema.properties[name] {
                    matched = true
                    if let e = check(pair.value, sub, next, key: pair.key) { return e }
                }
                for (pattern, sub) in schema.patternProperties where pattern.matchesName(name) {
                    matched = true
                    if let e = check(pair.value, sub, next, key: pair.key) { return e }
                }
                if !matched {
                    switch schema.additional {
                    case .allowed: break
                    case .forbidden:
                        return ComposeError("additional property \"\(name)\" is not allowed", mark: pair.key.mark,
                                            path: path.description)
                    case .schema(let sub):
                        if let e = check(pair.value, sub, next, key: pair.key) { return e }
                    }
                }
            }
        case .sequence(let items):
            if let itemSchema = schema.items {
                for (i, item) in items.enumerated() {
                    if let e = check(item, itemSchema, path.next(i), key: nil) { return e }
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

    init(json schema: JSONValue, compile: (JSONValue) -> Int) {
        if case .bool(let b) = schema { constant = b } else { constant = nil }
        let typeValue = schema["type"]
        types = typeValue?.string.map { [$0] } ?? typeValue?.array?.compactMap(\.string) ?? []
        enumValues = schema["enum"]?.array.map { values in
            values.compactMap { v -> String? in
                switch v {
                case .string(let s): return s
                case .number(let n): return n == n.rounded() ? String(Int(n)) : String(n)
                case .bool(let b): return String(b)
                default: return nil
                }
            }
        }
        pattern = schema["pattern"]?.string.map(SchemaPattern.init)
        branches = (schema["oneOf"]?.array ?? schema["anyOf"]?.array)?.map(compile)
        allOf = schema["allOf"]?.array?.map(compile) ?? []
        properties = (schema["properties"]?.object ?? [:]).mapValues(compile)
        patternProperties = (schema["patternProperties"]?.object ?? [:]).sorted { $0.key < $1.key }
            .map { (SchemaPattern($0.key), compile($0.value)) }
        switch schema["additionalProperties"] {
        case .bool(false)?: additional = .forbidden
        case let value? where value.object != nil: additional = .schema(compile(value))
        default: additional = .allowed
        }
        required = schema["required"]?.array?.compactMap(\.string) ?? []
        items = schema["items"].map(compile)
        uniqueItems = schema["uniqueItems"]?.bool == true
        var checks = !properties.isEmpty || !patternProperties.isEmpty || !required.isEmpty
        if case .allowed = additional {} else { checks = true }
        checksMappings = checks
    }
}

/// Turns the JSON schema into `SchemaNode`s, following each `$ref` once.
struct SchemaCompiler {
    let root: JSONValue
    var nodes: [SchemaNode?] = []
    var byRef: [String: Int] = [:]

    /// `$ref` chains end at the first schema that is not a reference (or cannot be found).
    func resolve(_ schema: JSONValue) -> JSONValue {
        guard let ref = schema["$ref"]?.string, ref.hasPrefix("#/") else { return schema }
        var node = root
        for part in ref.dropFirst(2).split(separator: "/") {
            guard let next = node[String(part)] else { return schema }
            node = next
        }
        return resolve(node)
    }

    mutating func compile(_ schema: JSONValue) -> Int {
        let ref = schema["$ref"]?.string
        if let ref, let known = byRef[ref] { return known }
        let index = nodes.count
        nodes.append(nil)
        if let ref { byRef[ref] = index }
        let node = SchemaNode(json: resolve(schema), compile: { compile($0) })
        nodes[index] = node
        return index
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

    private static let regexCache = Mutex<[String: NSRegularExpression]>([:])

    private static func regexMatches(_ text: String, _ pattern: String) -> Bool {
        let cached = regexCache.withLock { $0[pattern] }
        guard let regex = cached ?? (try? NSRegularExpression(pattern: pattern)) else {
            return text.range(of: pattern, options: .regularExpression) != nil
        }
        if cached == nil { regexCache.withLock { $0[pattern] = regex } }
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}
