import Foundation
import BerthYAML
@testable import Compose
import TestSupport

/// Decoded data as go-yaml gives it: the fixtures compare values, not text, and mappings are
/// unordered.
indirect enum Plain: Equatable, CustomStringConvertible {
    case null, bool(Bool), int(Int), double(Double), string(String)
    case seq([Plain])
    case map([String: Plain])

    init(_ node: YAMLNode, dropEmpty: Bool = false) {
        switch node.content {
        case .scalar:
            switch node.value ?? .null {
            case .null: self = .null
            case .bool(let b): self = .bool(b)
            case .int(let i): self = .int(i)
            case .float(let d): self = .double(d)
            case .string(let s): self = .string(s)
            }
        case .sequence(let items):
            self = .seq(items.map { Plain($0, dropEmpty: dropEmpty) })
        case .mapping(let pairs):
            var dict: [String: Plain] = [:]
            for pair in pairs {
                let value = Plain(pair.value, dropEmpty: dropEmpty)
                if dropEmpty, value == .map([:]) || value == .seq([]) { continue }
                dict[pair.key.scalarText ?? ""] = value
            }
            self = .map(dict)
        }
    }

    var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return "\(b)"
        case .int(let i): return "\(i)"
        case .double(let d): return "\(d)"
        case .string(let s): return "\"\(s)\""
        case .seq(let items): return "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .map(let dict):
            return "{" + dict.keys.sorted().map { "\($0): \(dict[$0]!.description)" }.joined(separator: ", ") + "}"
        }
    }
}

enum Fixtures {
    static func text(_ relative: String) throws -> String {
        try String(contentsOf: TestSupportPaths.fixture(relative), encoding: .utf8)
    }

    static func yaml(_ relative: String) throws -> YAMLNode {
        try YAML.parse(try text(relative), file: relative) ?? .mapping([YAMLPair]())
    }

    static func json(_ relative: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: TestSupportPaths.fixture(relative)))
    }
}
