import FoundationEssentials
import Glibc

/// A forward-only reader of JSON bytes that reads the fields its caller asks for and skips the
/// rest without building anything. For engine answers of which a caller needs a few fields:
/// `JSONDecoder` pays the Swift runtime's first-use cost for every model type it decodes
/// (conformance look-ups, generic metadata), which dominates a short-lived command.
struct JSONScanner {
    struct Failure: Error, CustomStringConvertible {
        var offset: Int
        var reason: String
        var description: String { "\(reason) at byte \(offset)" }
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    /// Where the next token starts (after `skipSpace`).
    private(set) var offset = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Runs `body` over `data`, which must hold one JSON value and nothing after it.
    static func read<T>(_ data: Data, _ body: (inout JSONScanner) throws -> T) throws -> T {
        try data.withUnsafeBytes { raw in
            var scanner = JSONScanner(raw.bindMemory(to: UInt8.self))
            let value = try body(&scanner)
            scanner.skipSpace()
            guard scanner.offset == scanner.bytes.count else { throw scanner.failure("unexpected data after the value") }
            return value
        }
    }

    func failure(_ reason: String) -> Failure { Failure(offset: offset, reason: reason) }

    mutating func skipSpace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    private mutating func next() throws -> UInt8 {
        skipSpace()
        guard offset < bytes.count else { throw failure("unexpected end of JSON") }
        return bytes[offset]
    }

    private mutating func expect(_ byte: UInt8) throws {
        guard try next() == byte else {
            throw failure("expected '\(Character(Unicode.Scalar(byte)))', found '\(Character(Unicode.Scalar(bytes[offset])))'")
        }
        offset += 1
    }

    /// Consumes `null` when it comes next.
    mutating func null() throws -> Bool {
        guard try next() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    private mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard offset + n <= bytes.count else { throw failure("unexpected end of JSON") }
        for i in 0..<n where bytes[offset + i] != word.utf8Start[i] { throw failure("invalid literal") }
        offset += n
    }

    // MARK: containers

    /// Calls `field` for each member of an object with its key; `field` must read or skip the
    /// value. False for `null`.
    @discardableResult
    mutating func object(_ field: (inout JSONScanner, String) throws -> Void) throws -> Bool {
        if try null() { return false }
        try expect(UInt8(ascii: "{"))
        if try next() == UInt8(ascii: "}") {
            offset += 1
            return true
        }
        // A key given twice keeps its first value, as `JSONDecoder` reads it: a summary must
        // agree with the full model decoded from the same bytes (found by fuzzing).
        var seen: [String] = []
        while true {
            let key = try string()
            try expect(UInt8(ascii: ":"))
            if seen.contains(key) {
                try skipValue()
            } else {
                seen.append(key)
                try field(&self, key)
            }
            switch try next() {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "}"): offset += 1; return true
            default: throw failure("expected ',' or '}' in an object")
            }
            if try closesAfterComma(UInt8(ascii: "}")) { return true }
        }
    }

    /// Consumes `close` when it follows a comma: `JSONDecoder` takes one trailing comma in an
    /// object or array, and what it reads the scanner must read the same (found by fuzzing).
    private mutating func closesAfterComma(_ close: UInt8) throws -> Bool {
        guard try next() == close else { return false }
        offset += 1
        return true
    }

    /// Calls `element` for each element of an array; `element` must read or skip it. False for `null`.
    @discardableResult
    mutating func array(_ element: (inout JSONScanner) throws -> Void) throws -> Bool {
        if try null() { return false }
        try expect(UInt8(ascii: "["))
        if try next() == UInt8(ascii: "]") {
            offset += 1
            return true
        }
        while true {
            try element(&self)
            switch try next() {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "]"): offset += 1; return true
            default: throw failure("expected ',' or ']' in an array")
            }
            if try closesAfterComma(UInt8(ascii: "]")) { return true }
        }
    }

    /// An object of strings; nil for `null`.
    mutating func stringMap() throws -> [String: String]? {
        var map: [String: String] = [:]
        let present = try object { s, key in map[key] = try s.string() }
        return present ? map : nil
    }

    /// An array of strings; nil for `null`.
    mutating func strings() throws -> [String]? {
        var list: [String] = []
        let present = try array { s in list.append(try s.string()) }
        return present ? list : nil
    }

    // MARK: scalars

    mutating func optionalString() throws -> String? {
        try null() ? nil : try string()
    }

    mutating func string() throws -> String {
        try expect(UInt8(ascii: "\""))
        let start = offset
        while offset < bytes.count {
            switch bytes[offset] {
            case UInt8(ascii: "\""):
                let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
                offset += 1
                return s
            case UInt8(ascii: "\\"):
                return try escapedString(from: start)
            case 0..<0x20:
                throw failure("control character in a string")
            default:
                offset += 1
            }
        }
        throw failure("unterminated string")
    }

    /// The rest of a string that has escapes; `offset` is at the first backslash.
    private mutating func escapedString(from start: Int) throws -> String {
        var out = Array(bytes[start..<offset])
        while offset < bytes.count {
            let b = bytes[offset]
            offset += 1
            switch b {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard offset < bytes.count else { throw failure("unterminated string") }
                let e = bytes[offset]
                offset += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        // A high surrogate pairs with the low one that must follow.
                        guard offset + 1 < bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u")
                        else { throw failure("lone surrogate in a string") }
                        offset += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw failure("lone surrogate in a string") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw failure("lone surrogate in a string")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw failure("invalid \\u escape") }
                    UTF8.encode(u) { out.append($0) }
                default:
                    throw failure("invalid escape in a string")
                }
            case 0..<0x20:
                throw failure("control character in a string")
            default:
                out.append(b)
            }
        }
        throw failure("unterminated string")
    }

    private mutating func hex4() throws -> UInt32 {
        guard offset + 4 <= bytes.count else { throw failure("unterminated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[offset]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw failure("invalid \\u escape")
            }
            v = v << 4 | UInt32(d)
            offset += 1
        }
        return v
    }

    /// A non-negative integer; nil for `null`.
    mutating func unsigned() throws -> UInt64? {
        if try null() { return nil }
        let start = offset
        var v: UInt64 = 0
        while offset < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset]) {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(bytes[offset] - UInt8(ascii: "0")))
            guard !o1 && !o2 else { throw failure("integer too large") }
            v = a
            offset += 1
        }
        guard offset > start else { throw failure("expected a non-negative integer") }
        if offset < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[offset]) {
            throw failure("expected an integer")
        }
        return v
    }

    /// Skips one value of any kind, checking its syntax.
    mutating func skipValue() throws {
        switch try next() {
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "{"):
            offset += 1
            if try next() == UInt8(ascii: "}") {
                offset += 1
                return
            }
            while true {
                try skipString()
                try expect(UInt8(ascii: ":"))
                try skipValue()
                switch try next() {
                case UInt8(ascii: ","): offset += 1
                case UInt8(ascii: "}"): offset += 1; return
                default: throw failure("expected ',' or '}' in an object")
                }
                if try closesAfterComma(UInt8(ascii: "}")) { return }
            }
        case UInt8(ascii: "["):
            try array { s in try s.skipValue() }
        case UInt8(ascii: "t"):
            try literal("true")
        case UInt8(ascii: "f"):
            try literal("false")
        case UInt8(ascii: "n"):
            try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            offset += 1
            while offset < bytes.count {
                switch bytes[offset] {
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"),
                     UInt8(ascii: "+"), UInt8(ascii: "-"):
                    offset += 1
                default:
                    return
                }
            }
        default:
            throw failure("unexpected character '\(Character(Unicode.Scalar(bytes[offset])))'")
        }
    }

    /// Skips a string without decoding it.
    private mutating func skipString() throws {
        try expect(UInt8(ascii: "\""))
        while offset < bytes.count {
            switch bytes[offset] {
            case UInt8(ascii: "\""):
                offset += 1
                return
            case UInt8(ascii: "\\"):
                offset += 2
            case 0..<0x20:
                throw failure("control character in a string")
            default:
                offset += 1
            }
        }
        throw failure("unterminated string")
    }
}
