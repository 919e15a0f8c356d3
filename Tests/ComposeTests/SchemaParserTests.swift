import Foundation
import Testing
@testable import Compose

/// The loader reads its embedded JSON schema with its own small parser (for start-up speed);
/// it must see the same document as Foundation's JSONSerialization.
@Suite struct SchemaParserTests {
    /// A comparable rendering of both parsers' results.
    static func render(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool(let b): return "\(b)"
        case .number(let n): return "\(n)"
        case .string(let s): return "s:" + s
        case .array(let a): return "[" + a.map(render).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.keys.sorted().map { "\($0)=\(render(o[$0] ?? .null))" }.joined(separator: ",") + "}"
        }
    }

    static func render(_ any: Any) -> String {
        switch any {
        case let d as [String: Any]: return "{" + d.keys.sorted().map { "\($0)=\(render(d[$0] ?? NSNull()))" }.joined(separator: ",") + "}"
        case let a as [Any]: return "[" + a.map { render($0) }.joined(separator: ",") + "]"
        case let s as String: return "s:" + s
        case let n as NSNumber:
            if String(cString: n.objCType) == "c" { return "\(n.boolValue)" }
            return "\(n.doubleValue)"
        default: return "null"
        }
    }

    @Test func embeddedSchemaParsesLikeJSONSerialization() throws {
        var parser = JSONValue.Parser(Array(composeSpecSchemaJSON.utf8))
        let parsed = parser.document()
        let ours = try #require(parsed)
        let theirs = try JSONSerialization.jsonObject(with: Data(composeSpecSchemaJSON.utf8))
        #expect(Self.render(ours) == Self.render(theirs))
        #expect(SchemaValidator.compose.nodes.count > 100)
    }

    @Test func escapesAndInvalidInput() {
        var parser = JSONValue.Parser(Array(#"{"a": ["x\"y\\z\u00e9\ud83d\ude00", -1.5e2, true, null]}"#.utf8))
        let value = parser.document()
        #expect(value.map(Self.render) == #"{a=[s:x"y\zé😀,-150.0,true,null]}"#)
        for bad in ["{", "[1,]", #"{"a" 1}"#, "tru", #""open"#, "[1] x"] {
            var p = JSONValue.Parser(Array(bad.utf8))
            #expect(p.document() == nil, "\(bad)")
        }
    }
}
