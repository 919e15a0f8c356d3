// The string functions of Foundation's NSString and CharacterSet that Berth uses, for modules
// that use FoundationEssentials (see Threads.swift).

/// A set of Unicode scalars, like Foundation's CharacterSet, with its predefined sets.
public struct CharacterClass: Sendable {
    private let test: @Sendable (Unicode.Scalar) -> Bool

    public init(_ test: @escaping @Sendable (Unicode.Scalar) -> Bool) {
        self.test = test
    }

    public init(charactersIn string: String) {
        let scalars = Set(string.unicodeScalars)
        test = { scalars.contains($0) }
    }

    public func contains(_ scalar: Unicode.Scalar) -> Bool { test(scalar) }

    public func union(_ other: CharacterClass) -> CharacterClass {
        CharacterClass { self.test($0) || other.test($0) }
    }

    /// Tab and the space separators (Unicode category Zs).
    public static let whitespaces = CharacterClass { $0 == "\t" || $0.properties.generalCategory == .spaceSeparator }

    /// U+000A–U+000D, U+0085, U+2028 and U+2029.
    public static let newlines = CharacterClass {
        (0x0A...0x0D).contains($0.value) || $0.value == 0x85 || $0.value == 0x2028 || $0.value == 0x2029
    }

    public static let whitespacesAndNewlines = whitespaces.union(newlines)

    /// What may stand unencoded in a URL path: Foundation's urlPathAllowed.
    public static let urlPathAllowed = CharacterClass(
        charactersIn: "!$&'()*+,-./0123456789:=@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~")

    /// Letters, marks and numbers (Unicode categories L*, M*, N*).
    public static let alphanumerics = CharacterClass {
        switch $0.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .letterNumber, .otherNumber:
            return true
        default:
            return false
        }
    }
}

extension StringProtocol {
    /// The string without the leading and trailing scalars that `set` contains.
    public func trimming(_ set: CharacterClass) -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !set.contains($0) }) else { return "" }
        guard let last = scalars.lastIndex(where: { !set.contains($0) }) else { return "" }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars[first...last])
        return String(out)
    }

    /// Percent-encodes, as UTF-8, every scalar that `allowed` does not contain.
    public func addingPercentEncoding(allowing allowed: CharacterClass) -> String {
        var out = ""
        for scalar in unicodeScalars {
            if allowed.contains(scalar) {
                out.unicodeScalars.append(scalar)
            } else {
                for byte in String(scalar).utf8 { out += "%" + Hex.byte(byte, uppercase: true) }
            }
        }
        return out
    }
}

public enum Hex {
    private static let lower = Array("0123456789abcdef".utf8)
    private static let upper = Array("0123456789ABCDEF".utf8)

    /// Two hex digits.
    public static func byte(_ byte: UInt8, uppercase: Bool = false) -> String {
        let digits = uppercase ? upper : lower
        return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]], as: UTF8.self)
    }

    /// Lowercase hex, two digits a byte. Spec hashes are computed for every service on every
    /// plan; `String(format: "%02x")` per byte went through Foundation's formatter and cost
    /// about as much as the SHA-256 itself.
    public static func string<S: Sequence<UInt8>>(_ bytes: S) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(lower[Int(byte >> 4)])
            out.append(lower[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// At least `width` lowercase hex digits: `padded(0x1f, 4)` is "001f".
    public static func padded<I: BinaryInteger>(_ value: I, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

public enum Number {
    /// `value` with `digits` digits after the point, as `String(format: "%.<digits>f")` prints
    /// it: rounded to nearest by the exact binary value, a tie to even, "-" kept on a negative
    /// value that rounds to zero.
    public static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let magnitude = abs(value)
        let product = magnitude * scale
        // What the multiplication rounded away, exactly: a product that looks like a tie may
        // come from a value a little above or below it (0.005 is 0.005000000000000000104).
        let residual = (-product).addingProduct(magnitude, scale)
        var scaled = product.rounded(.toNearestOrEven)
        if product - product.rounded(.down) == 0.5 {
            if residual > 0 { scaled = product.rounded(.up) } else if residual < 0 { scaled = product.rounded(.down) }
        }
        let integral = (scaled / scale).rounded(.towardZero)
        var text = String(Int64(integral))
        if digits > 0 {
            let fraction = String(Int64(scaled - integral * scale))
            text += "." + String(repeating: "0", count: max(0, digits - fraction.count)) + fraction
        }
        return (value.sign == .minus ? "-" : "") + text
    }
}

extension String {
    /// Exactly `width` characters: cut, or padded with spaces. NSString's
    /// `padding(toLength:withPad: " ", startingAt: 0)`, counted in characters, not UTF-16 units.
    public func fitted(to width: Int) -> String {
        count >= width ? String(prefix(width)) : self + String(repeating: " ", count: width - count)
    }
}
