/// A scalar resolved by the YAML 1.2 core schema (plus the `~` null), with the raw text kept.
public enum ScalarValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)

    static func formatDouble(_ d: Double) -> String {
        if d.isNaN { return ".nan" }
        if d.isInfinite { return d < 0 ? "-.inf" : ".inf" }
        if d == d.rounded(), abs(d) < 1e15 { return (d == 0 && d.sign == .minus ? "-" : "") + "\(Int(d)).0" }
        return String(d)
    }
}

import FoundationEssentials
import Glibc

extension YAMLNode {
    /// Typed value of a scalar. Quoted and block scalars are always strings; plain scalars
    /// resolve like YAML 1.2 core (`true`/`false`, `null`/`~`/empty, ints incl. `0x`/`0o`, floats).
    /// Explicit standard tags (`!!str`, `!!int`…) win. Collections give nil.
    public var value: ScalarValue? {
        guard case .scalar(let text, let style) = content else { return nil }
        switch tag {
        case "tag:yaml.org,2002:str", "!!str": return .string(text)
        case "tag:yaml.org,2002:null": return .null
        case "tag:yaml.org,2002:bool": if case .bool(let b) = Self.plainResolves(text) { return .bool(b) }
        case "tag:yaml.org,2002:int": if case .int(let i) = Self.plainResolves(text) { return .int(i) }
        case "tag:yaml.org,2002:float":
            switch Self.plainResolves(text) {
            case .float(let d): return .float(d)
            case .int(let i): return .float(Double(i))
            default: break
            }
        default: break
        }
        guard style == .plain else { return .string(text) }
        return Self.plainResolves(text)
    }

    /// What a plain scalar with this text means.
    public static func plainResolves(_ text: String) -> ScalarValue {
        // Most scalars are names, images and paths: one look at the first byte settles them
        // without comparing against every special spelling.
        guard let lead = text.utf8.first else { return .null }
        switch lead {
        case UInt8(ascii: "~"), UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "t"), UInt8(ascii: "T"),
             UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "-"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            break
        default:
            return .string(text)
        }
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
        case ".nan", ".NaN", ".NAN": return .float(.nan)
        default: break
        }
        guard let first = text.utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+")
                || first == UInt8(ascii: ".") || (first >= 48 && first <= 57) else { return .string(text) }
        if let i = parseInt(text) { return .int(i) }
        if isFloat(text), let d = Double(text) { return .float(d) }
        return .string(text)
    }

    private static func parseInt(_ text: String) -> Int? {
        var body = text.utf8[...]
        var negative = false
        if body.first == UInt8(ascii: "-") { negative = true; body = body.dropFirst() }
        else if body.first == UInt8(ascii: "+") { body = body.dropFirst() }
        guard !body.isEmpty else { return nil }
        var radix = 10
        if body.count > 1, body.first == UInt8(ascii: "0") {
            let second = body[body.index(after: body.startIndex)]
            if second == UInt8(ascii: "x") { radix = 16; body = body.dropFirst(2) }
            else if second == UInt8(ascii: "o") { radix = 8; body = body.dropFirst(2) }
        }
        guard !body.isEmpty, body.allSatisfy(isHexDigit) else { return nil }
        guard let magnitude = Int(String(decoding: body, as: UTF8.self), radix: radix) else { return nil }
        return negative ? -magnitude : magnitude
    }

    private static func isHexDigit(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
            || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F"))
    }

    private static func isFloat(_ text: String) -> Bool {
        // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
        var chars = Array(text.utf8)[...]
        if let c = chars.first, c == 43 || c == 45 { chars = chars.dropFirst() }
        var digits = 0, fraction = 0
        var sawDot = false
        while let c = chars.first, (c >= 48 && c <= 57) || c == 46 {
            if c == 46 { if sawDot { return false }; sawDot = true } else if sawDot { fraction += 1 } else { digits += 1 }
            chars = chars.dropFirst()
        }
        if digits == 0 && fraction == 0 { return false }
        if let c = chars.first, c == 101 || c == 69 {
            chars = chars.dropFirst()
            if let s = chars.first, s == 43 || s == 45 { chars = chars.dropFirst() }
            guard !chars.isEmpty, chars.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return false }
            return true
        }
        return chars.isEmpty
    }

    /// The scalar as a string whatever it resolves to (numbers and bools by their text); nil for
    /// null and collections.
    public var string: String? {
        guard case .scalar(let text, _) = content else { return nil }
        if case .null = value { return nil }
        return text
    }

    public var int: Int? { if case .int(let i) = value { return i }; return nil }
    public var bool: Bool? { if case .bool(let b) = value { return b }; return nil }
    public var double: Double? {
        switch value {
        case .int(let i): return Double(i)
        case .float(let d): return d
        default: return nil
        }
    }
}
