import BerthYAML
import Foundation

/// A parsed JSON value, used to hold the schema.
indirect enum JSONValue: Sendable {
    case null, bool(Bool), number(Double), string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(_ any: Any) {
        switch any {
        case let d as [String: Any]: self = .object(d.mapValues(JSONValue.init))
        case let a as [Any]: self = .array(a.map(JSONValue.init))
        case let s as String: self = .string(s)
        case let n as NSNumber:
            if String(cString: n.objCType) == "c" { self = .bool(n.boolValue) } else { self = .number(n.doubleValue) }
        default: self = .null
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
struct SchemaValidator: Sendable {
    let root: JSONValue

    static let compose: SchemaValidator = {
        let data = Data(composeSpecSchemaJSON.utf8)
        let any = (try? JSONSerialization.jsonObject(with: data)) ?? [String: Any]()
        return SchemaValidator(root: JSONValue(any))
    }()

    func validate(_ document: YAMLNode) throws(ComposeError) {
        if let error = check(document, root, TreePath(), key: nil) { throw error }
    }

    private func resolve(_ schema: JSONValue) -> JSONValue {
        guard let ref = schema["$ref"]?.string, ref.hasPrefix("#/") else { return schema }
        var node = root
        for part in ref.dropFirst(2).split(separator: "/") {
            guard let next = node[String(part)] else { return schema }
            node = next
        }
        return resolve(node)
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

    private func typeAllows(_ node: YAMLNode, _ schema: JSONValue) -> Bool {
        guard let types = schema["type"] else { return true }
        let names = types.string.map { [$0] } ?? types.array?.compactMap(\.string) ?? []
        return names.isEmpty || names.contains { Self.typeMatches(node, $0) }
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
    private func check(_ node: YAMLNode, _ rawSchema: JSONValue, _ path: TreePath, key: YAMLNode?) -> ComposeError? {
        let schema = resolve(rawSchema)
        if case .bool(let allowed) = schema {
            return allowed ? nil : ComposeError("is not allowed", mark: key?.mark ?? node.mark, path: path.description)
        }
        if let types = schema["type"] {
            let names = types.string.map { [$0] } ?? types.array?.compactMap(\.string) ?? []
            if !names.isEmpty, !names.contains(where: { Self.typeMatches(node, $0) }) {
                let expected = names.map(Self.typeName).joined(separator: " or ")
                return ComposeError("must be \(expected), not \(Self.describe(node))", mark: node.mark, path: path.description)
            }
        }
        if let values = schema["enum"]?.array, let text = node.scalarText {
            let allowed = values.compactMap { v -> String? in
                switch v {
                case .string(let s): return s
                case .number(let n): return n == n.rounded() ? String(Int(n)) : String(n)
                case .bool(let b): return String(b)
                default: return nil
                }
            }
            if !allowed.contains(text) {
                return ComposeError("\"\(text)\" must be one of: \(allowed.joined(separator: ", "))", mark: node.mark, path: path.description)
            }
        }
        if let pattern = schema["pattern"]?.string, case .string(let text)? = node.value,
           text.range(of: pattern, options: .regularExpression) == nil {
            return ComposeError("\"\(text)\" does not match the pattern \(pattern)", mark: node.mark, path: path.description)
        }
        if let branches = schema["oneOf"]?.array ?? schema["anyOf"]?.array {
            var errors: [ComposeError] = []
            var sameKind: [ComposeError] = []
            for branch in branches {
                if let e = check(node, branch, path, key: key) {
                    errors.append(e)
                    if typeAllows(node, resolve(branch)) { sameKind.append(e) }
                } else {
                    errors = []
                    break
                }
            }
            // Only one form fits this kind of node: its complaint is the useful one.
            if !errors.isEmpty, sameKind.count == 1 { return sameKind[0] }
            if !errors.isEmpty {
                // The branch that got deepest into the node explains the problem best.
                let best = errors.max { ($0.path?.count ?? 0, $0.mark?.line ?? 0) < ($1.path?.count ?? 0, $1.mark?.line ?? 0) }
                if let best, best.path != path.description || errors.allSatisfy({ $0.path == path.description }) == false {
                    return best
                }
                let kinds = errors.map(\.message).joined(separator: "; ")
                return ComposeError("does not match any allowed form (\(kinds))", mark: node.mark, path: path.description)
            }
        }
        if let all = schema["allOf"]?.array {
            for branch in all { if let e = check(node, branch, path, key: key) { return e } }
        }
        switch node.content {
        case .mapping(let pairs):
            let properties = schema["properties"]?.object ?? [:]
            let patterns = schema["patternProperties"]?.object ?? [:]
            let additional = schema["additionalProperties"]
            for name in schema["required"]?.array?.compactMap(\.string) ?? [] where node[name] == nil {
                return ComposeError("missing required property \"\(name)\"", mark: node.mark, path: path.description)
            }
            for pair in pairs {
                let name = pair.key.scalarText ?? ""
                let next = path.next(name)
                var matched = false
                if let sub = properties[name] {
                    matched = true
                    if let e = check(pair.value, sub, next, key: pair.key) { return e }
                }
                for (pattern, sub) in patterns where Self.matches(name, pattern) {
                    matched = true
                    if let e = check(pair.value, sub, next, key: pair.key) { return e }
                }
                if !matched, let additional {
                    if case .bool(false) = additional {
                        return ComposeError("additional property \"\(name)\" is not allowed", mark: pair.key.mark,
                                            path: path.description)
                    }
                    if case .object = additional, let e = check(pair.value, additional, next, key: pair.key) { return e }
                }
            }
        case .sequence(let items):
            if let itemSchema = schema["items"] {
                for (i, item) in items.enumerated() {
                    if let e = check(item, itemSchema, path.next(i), key: nil) { return e }
                }
            }
            if schema["uniqueItems"]?.bool == true {
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

    private static func matches(_ name: String, _ pattern: String) -> Bool {
        switch pattern {
        case "^x-": return name.hasPrefix("x-")
        case "^.+$": return !name.isEmpty
        case "^[a-zA-Z0-9._-]+$":
            return !name.isEmpty && name.unicodeScalars.allSatisfy { c in
                (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "." || c == "_" || c == "-"
            }
        default:
            return name.range(of: pattern, options: .regularExpression) != nil
        }
    }
}
