/// `.env` / `env_file` parsing with the rules of compose-go's `dotenv` package (a fork of
/// joho/godotenv), quirks included, so a file means the same to Berth as to `docker compose`.
///
/// - `KEY=value`, `KEY: value`, optional `export ` prefix, spaces around the separator.
/// - Unquoted values end at the line end; ` #` starts a comment; trailing space is trimmed.
/// - `'single'` quotes are literal (only `\'` is unescaped); `"double"` quotes understand
///   `\a \b \c \f \n \r \t \v \\ \" \$ \0NNN`; both may span lines.
/// - `${VAR}` is substituted in unquoted and double-quoted values, asking the lookup first and
///   then the keys already defined.
/// - A bare `KEY` line takes its value from the lookup and is left out when the lookup has none.
public enum DotEnv {
    /// Parses one file.
    ///
    /// - Parameters:
    ///   - file: used in error messages only.
    ///   - defined: variables already set in the map compose-go parses into (for a service's
    ///     `env_file`, its `environment` and earlier env files). A `${VAR}` falls back to them
    ///     after the lookup and after this file's own earlier keys. They are not returned.
    ///   - lookup: asked first for every `${VAR}` and for every bare `KEY` line.
    /// - Returns: this file's keys in order of first appearance, each with its last value.
    public static func parse(
        _ text: String, file: String = ".env", defined: [String: String] = [:],
        lookup: (String) -> String? = { _ in nil }
    ) throws(DotEnvError) -> [(key: String, value: String)] {
        var output = Output(values: defined)
        try parse(text, file: file, into: &output, lookup: { key, _ in lookup(key) })
        return output.pairs
    }

    /// Reads several files into one map as compose-go's `GetEnvFromFile` does for the project
    /// `.env` (`--env-file`) and for `include: env_file`: a `${VAR}` or bare `KEY` asks
    /// `environment` first, then every value read so far, earlier files included; a later file
    /// overrides an earlier one.
    public static func parse(
        files: [(file: String, text: String)], environment: (String) -> String?
    ) throws(DotEnvError) -> [(key: String, value: String)] {
        var output = Output(values: [:])
        for (file, text) in files {
            try parse(text, file: file, into: &output, lookup: { key, values in
                environment(key) ?? values[key]
            })
        }
        return output.pairs
    }

    // MARK: - Parser

    struct Output {
        /// Everything visible to `${VAR}`: `defined` plus what was parsed.
        var values: [String: String]
        var order: [String] = []
        var parsed: Set<String> = []

        mutating func set(_ key: String, _ value: String) {
            if parsed.insert(key).inserted { order.append(key) }
            values[key] = value
        }

        var pairs: [(key: String, value: String)] {
            order.map { (key: $0, value: values[$0] ?? "") }
        }
    }

    static func parse(
        _ text: String, file: String, into output: inout Output,
        lookup: (String, [String: String]) -> String?
    ) throws(DotEnvError) {
        var scalars = Array(text.unicodeScalars)[...]
        // Editors on Windows like to start files with a byte-order mark.
        if scalars.first == "\u{FEFF}" { scalars = scalars.dropFirst() }
        var parser = Parser(file: file)
        try parser.run(scalars, into: &output, lookup: lookup)
    }

    /// Mirrors compose-go's parser step by step; `line` advances exactly where compose-go's
    /// does, so error line numbers agree with `docker compose`.
    struct Parser {
        let file: String
        var line = 1

        init(file: String) {
            self.file = file
        }

        func fail(_ message: String, line: Int? = nil) -> DotEnvError {
            DotEnvError(file: file, line: line ?? self.line, message: message)
        }

        mutating func run(
            _ source: Scalars, into output: inout Output,
            lookup: (String, [String: String]) -> String?
        ) throws(DotEnvError) {
            var rest = source
            while true {
                rest = statementStart(rest)
                if rest.isEmpty { break }
                let statementLine = line
                let (key, afterKey, inherited) = try locateKey(rest)
                if key.unicodeScalars.contains(" ") {
                    throw fail("key cannot contain a space")
                }
                if inherited {
                    if let value = lookup(key, output.values) { output.set(key, value) }
                    rest = afterKey
                    continue
                }
                let (value, afterValue) = try extractValue(
                    afterKey, statementLine: statementLine, values: output.values, lookup: lookup)
                output.set(key, value)
                rest = afterValue
            }
        }

        /// Skips whitespace (counting lines) and comment lines.
        mutating func statementStart(_ source: Scalars) -> Scalars {
            var s = source
            while true {
                guard let pos = s.firstIndex(where: { c in
                    if c == "\n" { line += 1 }
                    return !c.properties.isWhitespace
                }) else { return s[s.endIndex...] }
                s = s[pos...]
                if s[pos] != "#" { return s }
                guard let newline = s.firstIndex(of: "\n") else { return s[s.endIndex...] }
                s = s[newline...]
            }
        }

        /// compose-go's `isSpace`: white space other than line breaks.
        static func isSpace(_ c: Unicode.Scalar) -> Bool {
            switch c {
            case "\t", "\u{0B}", "\u{0C}", "\r", " ", "\u{85}", "\u{A0}": return true
            default: return false
            }
        }

        /// `^export\s+`, where Go's `\s` is `[\t\n\f\r ]`.
        static func hasExportPrefix(_ s: Scalars) -> Bool {
            let word: [Unicode.Scalar] = ["e", "x", "p", "o", "r", "t"]
            guard s.starts(with: word) else { return false }
            let next = s.index(s.startIndex, offsetBy: word.count)
            guard next < s.endIndex else { return false }
            switch s[next] {
            case "\t", "\n", "\u{0C}", "\r", " ": return true
            default: return false
            }
        }

        mutating func locateKey(_ source: Scalars) throws(DotEnvError) -> (String, Scalars, Bool) {
            var src = source
            if Self.hasExportPrefix(src) {
                src = src.dropFirst(6)
                src = src.drop(while: Self.isSpace)
            }
            var keyEnd: Int?
            var valueStart = src.startIndex
            var inherited = false
            for i in src.indices {
                let c = src[i]
                if Self.isSpace(c) { continue }
                switch c {
                case "=", ":", "\n":
                    keyEnd = i
                    valueStart = i + 1
                    inherited = c == "\n"
                case "_", ".", "-", "[", "]":
                    continue
                default:
                    if Self.isLetterOrNumber(c) { continue }
                    let firstLine = src.prefix(while: { $0 != "\n" })
                    throw fail(
                        "unexpected character \(goQuote(String(Character(c)))) in variable name "
                            + goQuote(string(firstLine)))
                }
                break
            }
            if src.isEmpty {
                throw DotEnvError(file: file, line: nil, message: "zero length string")
            }
            // A line with no `=`, `:` or newline before the end of the file is not a bare key
            // for compose-go: it becomes the value of the empty key.
            var key = keyEnd.map { string(src[..<$0]) } ?? ""
            if inherited && !key.unicodeScalars.contains(" ") { line += 1 }
            key = trimRight(key)
            return (key, src[valueStart...].drop(while: Self.isSpace), inherited)
        }

        /// Go's `unicode.IsLetter || unicode.IsNumber`.
        static func isLetterOrNumber(_ c: Unicode.Scalar) -> Bool {
            switch c.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                 .decimalNumber, .letterNumber, .otherNumber:
                return true
            default:
                return false
            }
        }

        mutating func extractValue(
            _ src: Scalars, statementLine: Int, values: [String: String],
            lookup: (String, [String: String]) -> String?
        ) throws(DotEnvError) -> (String, Scalars) {
            guard let quote = src.first, quote == "\"" || quote == "'" else {
                let lineEnd = src.firstIndex(of: "\n")
                var value = src[..<(lineEnd ?? src.endIndex)]
                let rest = lineEnd.map { src[($0 + 1)...] } ?? src[src.endIndex...]
                line += 1
                if let comment = Self.firstIndex(of: [" ", "#"], in: value) {
                    value = value[..<comment]
                }
                let expanded = try expand(
                    trimRight(string(value)), line: statementLine, values: values, lookup: lookup)
                return (expanded, rest)
            }

            var escaped = false
            var chars = String.UnicodeScalarView()
            var i = src.startIndex + 1
            while i < src.endIndex {
                let c = src[i]
                if c == "\n" { line += 1 }
                if c != quote {
                    if !escaped && c == "\\" {
                        escaped = true
                    } else {
                        if escaped {
                            escaped = false
                            chars.append("\\")
                        }
                        chars.append(c)
                    }
                    i += 1
                    continue
                }
                if escaped {
                    // `\"` inside double quotes, `\'` inside single quotes.
                    escaped = false
                    chars.append(c)
                    i += 1
                    continue
                }
                var value = String(chars)
                if quote == "\"" {
                    value = try expand(
                        Self.expandEscapes(value), line: statementLine, values: values, lookup: lookup)
                }
                return (value, src[(i + 1)...])
            }
            let firstLine = src.prefix(while: { $0 != "\n" })
            throw fail("unterminated quoted value \(string(firstLine))")
        }

        func expand(
            _ value: String, line: Int, values: [String: String],
            lookup: (String, [String: String]) -> String?
        ) throws(DotEnvError) -> String {
            do {
                return try Interpolator.interpolate(value, lookup: { key in
                    lookup(key, values) ?? values[key]
                })
            } catch {
                throw DotEnvError(file: file, line: line, message: error.composeMessage, interpolation: error)
            }
        }

        static func firstIndex(of needle: [Unicode.Scalar], in s: Scalars) -> Int? {
            TemplateEngine.firstIndex(of: needle, in: s)
        }

        /// Double-quote escapes, as compose-go's `expandEscapes`: `\$` becomes `$$` so the
        /// interpolator keeps a literal `$`; `\0` followed by up to three digits is an octal
        /// byte value; `\c` and malformed octal stay (mostly) as written.
        static func expandEscapes(_ value: String) -> String {
            let s = Array(value.unicodeScalars)
            var out = String.UnicodeScalarView()
            var i = 0
            while i < s.count {
                guard s[i] == "\\", i + 1 < s.count else {
                    out.append(s[i])
                    i += 1
                    continue
                }
                let c = s[i + 1]
                switch c {
                case "a": out.append("\u{07}")
                case "b": out.append("\u{08}")
                case "f": out.append("\u{0C}")
                case "n": out.append("\n")
                case "r": out.append("\r")
                case "t": out.append("\t")
                case "v": out.append("\u{0B}")
                case "\\": out.append("\\")
                case "\"": out.append("\"")
                case "$": out.append(contentsOf: "$$".unicodeScalars)
                case "c": out.append(contentsOf: "\\c".unicodeScalars)
                case "0":
                    var digits: [Unicode.Scalar] = []
                    var j = i + 2
                    while j < s.count, digits.count < 3, ("0"..."9").contains(s[j]) {
                        digits.append(s[j])
                        j += 1
                    }
                    if let byte = octalByte(digits) {
                        out.append(byte)
                    } else {
                        // compose-go rewrites `\0` to `\` before trying, and keeps the
                        // rewritten text when the octal value is not valid.
                        out.append("\\")
                        out.append(contentsOf: digits)
                    }
                    i = j
                    continue
                default:
                    // Not an escape: keep the backslash and look again from the next character.
                    out.append("\\")
                    i += 1
                    continue
                }
                i += 2
            }
            return String(out)
        }

        /// Three octal digits with a value up to 255, as a code point.
        static func octalByte(_ digits: [Unicode.Scalar]) -> Unicode.Scalar? {
            guard digits.count == 3 else { return nil }
            var value: UInt32 = 0
            for d in digits {
                guard ("0"..."7").contains(d) else { return nil }
                value = value * 8 + (d.value - 48)
            }
            return value <= 255 ? Unicode.Scalar(value) : nil
        }
    }
}

/// A `.env` file that compose-go would refuse, with the file and line.
public struct DotEnvError: Error, CustomStringConvertible, Sendable, Equatable {
    public let file: String
    /// 1-based line; `nil` only for compose-go's `zero length string` (`export` and nothing else
    /// at the end of the file).
    public let line: Int?
    /// compose-go's message without its `line N: ` prefix.
    public let message: String
    /// Set when a `${VAR}` in a value failed (missing required variable, bad syntax).
    public let interpolation: InterpolationError?

    public init(file: String, line: Int?, message: String, interpolation: InterpolationError? = nil) {
        self.file = file
        self.line = line
        self.message = message
        self.interpolation = interpolation
    }

    /// compose-go's wording: `line 7: key cannot contain a space`.
    public var composeMessage: String {
        guard let line, interpolation == nil else { return message }
        return "line \(line): \(message)"
    }

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        let hint = interpolation == nil
            ? " (each line must be KEY=value, KEY, a #comment or blank; quote values that span lines)"
            : " (in a value of this env file; write $$ for a literal $)"
        return "\(location): \(message)\(hint)"
    }
}

private func string(_ s: Scalars) -> String {
    String(String.UnicodeScalarView(s))
}

private func trimRight(_ s: String) -> String {
    var scalars = Array(s.unicodeScalars)
    while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
    return String(String.UnicodeScalarView(scalars))
}
