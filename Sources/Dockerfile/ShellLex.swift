import Interpolation
// Word processing and variable expansion with the rules of BuildKit's `shell` package: quote
// removal, escapes, `$VAR`, `${VAR}`, `${VAR:-x}`, `${VAR-x}`, `${VAR:+x}`, `${VAR+x}`,
// `${VAR:?x}`, `${VAR?x}`, `${VAR#p}`, `${VAR%p}`, `${VAR/p/r}`, and word splitting of
// unquoted expansions.

/// Expands variables in Dockerfile words the way the builder does.
public struct ShellLex: Sendable {
    public var escapeToken: Unicode.Scalar
    /// Keep quote characters in the result (used to detect quoted heredoc words).
    public var rawQuotes = false
    /// Keep escape characters in the result.
    public var rawEscapes = false
    /// Leave references to unset variables as written instead of expanding them to "".
    public var skipUnsetEnv = false

    public init(escapeToken: Character = "\\") {
        self.escapeToken = escapeToken.unicodeScalars.first ?? "\\"
    }

    /// Expands `word` into one string (quotes removed, no word splitting).
    public func processWord(_ word: String, env: [String: String]) throws(DockerfileError) -> String {
        try run(word, env: env).word
    }

    /// Expands `word` and splits it into words, like the shell would for a command line.
    public func processWords(_ word: String, env: [String: String]) throws(DockerfileError) -> [String] {
        try run(word, env: env).words
    }

    private func run(_ source: String, env: [String: String]) throws(DockerfileError) -> (word: String, words: [String]) {
        var state = LexState(scalars: Array(source.unicodeScalars), env: env, options: self)
        do {
            return try state.processStopOn(nil, rawEscapes: false)
        } catch let e {
            throw DockerfileError(message: "failed to process \(goQuote(source)): \(e.message)",
                                  hint: "Check the quotes and ${...} expressions in this word.")
        }
    }
}

private struct LexError: Error { var message: String }

private struct Words {
    var word = String.UnicodeScalarView()
    var words: [String] = []
    var inWord = false

    mutating func addChar(_ ch: Unicode.Scalar) {
        if isGoSpace(ch) {
            if inWord && !word.isEmpty {
                words.append(String(word))
                word = String.UnicodeScalarView()
                inWord = false
            }
        } else {
            addRawChar(ch)
        }
    }

    mutating func addRawChar(_ ch: Unicode.Scalar) {
        word.append(ch)
        inWord = true
    }

    mutating func addString(_ s: String) {
        for ch in s.unicodeScalars { addChar(ch) }
    }

    mutating func addRawString(_ s: String) {
        word.append(contentsOf: s.unicodeScalars)
        inWord = true
    }

    mutating func finish() -> [String] {
        if !word.isEmpty {
            words.append(String(word))
            word = String.UnicodeScalarView()
            inWord = false
        }
        return words
    }
}

private struct LexState {
    let scalars: [Unicode.Scalar]
    var pos = 0
    let env: [String: String]
    let options: ShellLex

    init(scalars: [Unicode.Scalar], env: [String: String], options: ShellLex) {
        self.scalars = scalars
        self.env = env
        self.options = options
    }

    func peek() -> Unicode.Scalar? { pos < scalars.count ? scalars[pos] : nil }

    mutating func next() -> Unicode.Scalar? {
        guard pos < scalars.count else { return nil }
        defer { pos += 1 }
        return scalars[pos]
    }

    var escape: Unicode.Scalar { options.escapeToken }

    mutating func processStopOn(_ stop: Unicode.Scalar?, rawEscapes: Bool) throws(LexError) -> (word: String, words: [String]) {
        var result = String.UnicodeScalarView()
        var words = Words()
        loop: while let ch = peek() {
            if let stop, ch == stop {
                pos += 1
                return (String(result), words.finish())
            }
            switch ch {
            case "'":
                let text = try processSingleQuote()
                result.append(contentsOf: text.unicodeScalars)
                words.addRawString(text)
            case "\"":
                let text = try processDoubleQuote()
                result.append(contentsOf: text.unicodeScalars)
                words.addRawString(text)
            case "$":
                let text = try processDollar()
                result.append(contentsOf: text.unicodeScalars)
                words.addString(text)
            default:
                pos += 1
                if ch == escape {
                    if options.rawEscapes || rawEscapes {
                        words.addRawChar(ch)
                        result.append(ch)
                    }
                    // An escape at the very end is dropped.
                    guard let escaped = next() else { break loop }
                    words.addRawChar(escaped)
                    result.append(escaped)
                } else {
                    words.addChar(ch)
                    result.append(ch)
                }
            }
        }
        if let stop {
            throw LexError(message: "unexpected end of statement while looking for matching \(Character(stop))")
        }
        return (String(result), words.finish())
    }

    mutating func processSingleQuote() throws(LexError) -> String {
        // Everything up to the next ' is literal; ' itself cannot be escaped.
        var result = String.UnicodeScalarView()
        pos += 1
        if options.rawQuotes { result.append("'") }
        while true {
            guard let ch = next() else {
                throw LexError(message: "unexpected end of statement while looking for matching single-quote")
            }
            if ch == "'" {
                if options.rawQuotes { result.append("'") }
                return String(result)
            }
            result.append(ch)
        }
    }

    mutating func processDoubleQuote() throws(LexError) -> String {
        // Literal except $ expansions; the escape character only escapes " $ and itself.
        var result = String.UnicodeScalarView()
        pos += 1
        if options.rawQuotes { result.append("\"") }
        while true {
            guard let ch = peek() else {
                throw LexError(message: "unexpected end of statement while looking for matching double-quote")
            }
            if ch == "\"" {
                pos += 1
                if options.rawQuotes { result.append("\"") }
                return String(result)
            }
            if ch == "$" {
                result.append(contentsOf: try processDollar().unicodeScalars)
                continue
            }
            pos += 1
            var out = ch
            if ch == escape {
                guard let following = peek() else { continue }
                if following == "\"" || following == "$" || following == escape {
                    if options.rawEscapes { result.append(ch) }
                    pos += 1
                    out = following
                }
            }
            result.append(out)
        }
    }

    func lookup(_ name: String) -> String? { env[name] }

    mutating func processDollar() throws(LexError) -> String {
        pos += 1  // $
        guard peek() == "{" else {
            let name = processName()
            if name.isEmpty { return "$" }
            if let value = lookup(name) { return value }
            return options.skipUnsetEnv ? "$" + name : ""
        }
        pos += 1  // {
        switch peek() {
        case nil:
            throw LexError(message: "syntax error: missing '}'")
        case "{", "}", ":":
            throw LexError(message: "syntax error: bad substitution")
        default:
            break
        }
        let name = processName()
        guard let ch = next() else { throw LexError(message: "syntax error: missing '}'") }
        switch ch {
        case "}":
            if let value = lookup(name) { return value }
            return options.skipUnsetEnv ? "${\(name)}" : ""
        case ":", "+", "-", "?", "#", "%":
            var modifier = ch
            var modifierText = String(ch)
            let nullIsUnset = ch == ":"
            if nullIsUnset {
                guard let m = next() else { throw LexError(message: "syntax error: missing '}'") }
                modifier = m
                modifierText.unicodeScalars.append(m)
            }
            let patternLike = modifier == "#" || modifier == "%"
            if nullIsUnset && patternLike {
                throw LexError(message: "unsupported modifier (\(modifierText)) in substitution")
            }
            let word: String
            do {
                word = try processStopOn("}", rawEscapes: patternLike).word
            } catch let e {
                if peek() == nil { throw LexError(message: "syntax error: missing '}'") }
                throw e
            }
            let value = lookup(name)
            if options.skipUnsetEnv && value == nil {
                return "${\(name)\(modifierText)\(word)}"
            }
            let isSet = value != nil
            let current = value ?? ""
            switch modifier {
            case "-":
                if !isSet || (nullIsUnset && current.isEmpty) { return word }
                return current
            case "+":
                if !isSet || (nullIsUnset && current.isEmpty) { return "" }
                return word
            case "?":
                if !isSet {
                    throw LexError(message: "\(name): \(word.isEmpty ? "is not allowed to be unset" : word)")
                }
                if nullIsUnset && current.isEmpty {
                    throw LexError(message: "\(name): \(word.isEmpty ? "is not allowed to be empty" : word)")
                }
                return current
            case "#", "%":
                var pattern = Array(word.unicodeScalars)
                var greedy = false
                if pattern.first == modifier {
                    greedy = true
                    pattern.removeFirst()
                }
                let glob = Glob(pattern, escape: escape)
                let v = Array(current.unicodeScalars)
                if modifier == "#" {
                    let lengths = greedy ? Array((0...v.count).reversed()) : Array(0...v.count)
                    for n in lengths where glob.matches(v[0..<n]) { return string(v[n...]) }
                } else {
                    let starts = greedy ? Array(0...v.count) : Array((0...v.count).reversed())
                    for s in starts where glob.matches(v[s...]) { return string(v[..<s]) }
                }
                return current
            default:
                throw LexError(message: "unsupported modifier (\(modifierText)) in substitution")
            }
        case "/":
            let replaceAll = peek() == "/"
            if replaceAll { pos += 1 }
            let pattern: String
            let replacement: String
            do {
                pattern = try processStopOn("/", rawEscapes: true).word
                replacement = try processStopOn("}", rawEscapes: true).word
            } catch let e {
                if peek() == nil { throw LexError(message: "syntax error: missing '}'") }
                throw e
            }
            guard let value = lookup(name) else {
                return options.skipUnsetEnv ? "${\(name)/\(pattern)/\(replacement)}" : ""
            }
            return Glob(Array(pattern.unicodeScalars), escape: escape)
                .replace(in: Array(value.unicodeScalars), with: replacement, all: replaceAll)
        default:
            throw LexError(message: "unsupported modifier (\(Character(ch))) in substitution")
        }
    }

    func string(_ s: ArraySlice<Unicode.Scalar>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: s)
        return String(view)
    }

    /// A name: letters, digits and `_`; or a run of digits (positional); or one special
    /// parameter character.
    mutating func processName() -> String {
        var name = String.UnicodeScalarView()
        while let ch = peek() {
            if name.isEmpty && isDecimalDigit(ch) {
                while let d = peek(), isDecimalDigit(d) { name.append(d); pos += 1 }
                return String(name)
            }
            if name.isEmpty && "@*#?-$!0".unicodeScalars.contains(ch) {
                pos += 1
                return String(ch)
            }
            if !isLetter(ch) && !isDecimalDigit(ch) && ch != "_" { break }
            name.append(ch)
            pos += 1
        }
        return String(name)
    }
}

func isDecimalDigit(_ s: Unicode.Scalar) -> Bool { s.properties.generalCategory == .decimalNumber }

func isLetter(_ s: Unicode.Scalar) -> Bool {
    switch s.properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
    default: return false
    }
}

/// A shell pattern (`*`, `?`, `[...]`, escapes) matched against a whole string.
struct Glob {
    enum Token {
        case literal(Unicode.Scalar)
        case any
        case star
        case set([ClosedRange<Unicode.Scalar>], negated: Bool)
    }
    var tokens: [Token] = []

    init(_ pattern: [Unicode.Scalar], escape: Unicode.Scalar) {
        var i = 0
        while i < pattern.count {
            let c = pattern[i]
            if c == escape, i + 1 < pattern.count {
                tokens.append(.literal(pattern[i + 1])); i += 2; continue
            }
            if c == "*" { tokens.append(.star); i += 1; continue }
            if c == "?" { tokens.append(.any); i += 1; continue }
            if c == "[", let close = pattern[(i + 1)...].dropFirst().firstIndex(of: "]") {
                var j = i + 1
                var negated = false
                if pattern[j] == "!" || pattern[j] == "^" { negated = true; j += 1 }
                var ranges: [ClosedRange<Unicode.Scalar>] = []
                var k = j
                while k < close {
                    if k + 2 < close, pattern[k + 1] == "-" {
                        let lo = pattern[k], hi = pattern[k + 2]
                        if lo <= hi { ranges.append(lo...hi) }
                        k += 3
                    } else {
                        ranges.append(pattern[k]...pattern[k]); k += 1
                    }
                }
                tokens.append(.set(ranges, negated: negated))
                i = close + 1
                continue
            }
            tokens.append(.literal(c))
            i += 1
        }
    }

    func matches(_ text: ArraySlice<Unicode.Scalar>) -> Bool {
        match(tokens[...], text)
    }

    private func match(_ p: ArraySlice<Token>, _ t: ArraySlice<Unicode.Scalar>) -> Bool {
        guard let first = p.first else { return t.isEmpty }
        switch first {
        case .star:
            var rest = t
            while true {
                if match(p.dropFirst(), rest) { return true }
                if rest.isEmpty { return false }
                rest = rest.dropFirst()
            }
        case .any:
            return !t.isEmpty && match(p.dropFirst(), t.dropFirst())
        case .literal(let c):
            return t.first == c && match(p.dropFirst(), t.dropFirst())
        case .set(let ranges, let negated):
            guard let c = t.first else { return false }
            let inSet = ranges.contains { $0.contains(c) }
            return inSet != negated && match(p.dropFirst(), t.dropFirst())
        }
    }

    func replace(in value: [Unicode.Scalar], with replacement: String, all: Bool) -> String {
        var out = String.UnicodeScalarView()
        var start = 0
        var replaced = false
        while start <= value.count {
            if !(all || !replaced) { break }
            var matchedEnd: Int?
            for end in stride(from: value.count, through: start, by: -1) where matches(value[start..<end]) {
                matchedEnd = end
                break
            }
            if let end = matchedEnd {
                out.append(contentsOf: replacement.unicodeScalars)
                replaced = true
                if end == start {
                    if start < value.count { out.append(value[start]) }
                    start += 1
                } else {
                    start = end
                }
            } else {
                if start < value.count { out.append(value[start]) }
                start += 1
            }
        }
        if start < value.count { out.append(contentsOf: value[start...]) }
        return String(out)
    }
}
