// `.dockerignore` with Docker's rules (moby/patternmatcher): patterns are cleaned paths
// relative to the context, `*` and `?` stay within one path element, `**` spans any number
// of them, `!` re-includes, the last matching pattern wins, and a pattern matching a parent
// directory matches everything below it.

/// Errors while reading a build context: bad ignore patterns, paths or symlinks that leave
/// the context, unreadable files.
public struct BuildContextError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file or path concerned (`.dockerignore:3`, `apps/web/link`, …).
    public var location: String
    public var message: String
    public var hint: String?

    public init(location: String, message: String, hint: String? = nil) {
        self.location = location
        self.message = message
        self.hint = hint
    }

    public var description: String {
        var text = "\(location): \(message)"
        if let hint { text += "\n  " + hint }
        return text
    }
}

/// A compiled `.dockerignore`.
public struct DockerIgnore: Sendable, Equatable {
    /// One pattern, cleaned, without its `!`.
    public struct Pattern: Sendable, Equatable {
        public var text: String
        public var exclusion: Bool
        fileprivate var kind: Kind
        fileprivate var tokens: [Token]
    }

    fileprivate enum Kind: Sendable, Equatable { case exact, prefix, suffix, glob }

    fileprivate enum Token: Sendable, Equatable {
        case literal(Unicode.Scalar)
        /// `*`: any run without `/`.
        case star
        /// `?`: one character other than `/`.
        case any
        /// `**` followed by more pattern: `(.*/)?`.
        case anyDirs
        /// `**` at the end: `.*`.
        case anything
        case set([ClosedRange<Unicode.Scalar>], negated: Bool)
    }

    public private(set) var patterns: [Pattern]

    /// True when some pattern starts with `!`.
    public var hasExceptions: Bool { patterns.contains { $0.exclusion } }

    /// Compiles patterns as they appear in a `.dockerignore` (after `lines(of:)`).
    /// `source` names the file in error messages.
    public init(patterns: [String], source: String = ".dockerignore") throws(BuildContextError) {
        self.patterns = []
        for (number, raw) in patterns.enumerated() {
            var text = raw.trimmingBlanks()
            if text.isEmpty { continue }
            text = dockerCleanPath(text)
            var exclusion = false
            if text.hasPrefix("!") {
                guard text.count > 1 else {
                    throw BuildContextError(location: source, message: "illegal exclusion pattern: \"!\"",
                                            hint: "Write '!path' to re-include a path.")
                }
                exclusion = true
                text.removeFirst()
            }
            let compiled: (Kind, [Token])
            do {
                compiled = try compile(text)
            } catch {
                throw BuildContextError(location: "\(source) pattern \(number + 1)",
                                        message: "syntax error in pattern \"\(raw)\": \(error.message)",
                                        hint: "Close every '[' with ']' or escape it as '\\['.")
            }
            self.patterns.append(Pattern(text: text, exclusion: exclusion, kind: compiled.0, tokens: compiled.1))
        }
    }

    /// The patterns of a `.dockerignore` file's text, normalized as Docker does: comments and
    /// blank lines dropped, each pattern trimmed and cleaned, a leading `/` removed.
    public static func lines(of text: String) -> [String] {
        var result: [String] = []
        var first = true
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = Substring(rawLine)
            if first, line.hasPrefix("\u{FEFF}") { line = line.dropFirst() }
            first = false
            if line.hasPrefix("#") { continue }
            var pattern = String(line).trimmingBlanks()
            if pattern.isEmpty { continue }
            let invert = pattern.hasPrefix("!")
            if invert { pattern = String(pattern.dropFirst()).trimmingBlanks() }
            if !pattern.isEmpty {
                pattern = dockerCleanPath(pattern)
                if pattern.count > 1, pattern.hasPrefix("/") { pattern.removeFirst() }
            }
            result.append(invert ? "!" + pattern : pattern)
        }
        return result
    }

    /// Compiles the text of a `.dockerignore` file.
    public init(fileText: String, source: String = ".dockerignore") throws(BuildContextError) {
        try self.init(patterns: Self.lines(of: fileText), source: source)
    }

    /// Whether `path` (relative to the context, `/`-separated) is excluded: the last pattern
    /// matching it or one of its parent directories decides.
    public func excludes(_ path: String) -> Bool {
        let file = dockerCleanPath(path)
        var parents = file.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        parents.removeLast()
        var matched = false
        for pattern in patterns {
            // An exclusion only matters once something matched, an inclusion only before.
            if pattern.exclusion != matched { continue }
            var match = pattern.matches(file)
            if !match && !parents.isEmpty {
                var prefix = ""
                for dir in parents {
                    prefix = prefix.isEmpty ? dir : prefix + "/" + dir
                    if pattern.matches(prefix) { match = true; break }
                }
            }
            if match { matched = !pattern.exclusion }
        }
        return matched
    }

    /// Whether an excluded directory must still be walked because an exception (`!dir/x`)
    /// names something inside it — Docker's rule, which looks at the exception's text.
    public func mayReinclude(below directory: String) -> Bool {
        let dirSlash = directory + "/"
        return patterns.contains { $0.exclusion && ($0.text + "/").hasPrefix(dirSlash) }
    }
}

private struct PatternError: Error { var message: String }

private func compile(_ pattern: String) throws(PatternError) -> (DockerIgnore.Kind, [DockerIgnore.Token]) {
    let s = Array(pattern.unicodeScalars)
    var tokens: [DockerIgnore.Token] = []
    var kind = DockerIgnore.Kind.exact
    var i = 0
    var index = 0
    while i < s.count {
        defer { index += 1 }
        let ch = s[i]
        i += 1
        switch ch {
        case "*":
            if i < s.count, s[i] == "*" {
                i += 1
                if i < s.count, s[i] == "/" { i += 1 }
                if i == s.count {
                    if kind == .exact { kind = .prefix } else { kind = .glob }
                    tokens.append(.anything)
                } else {
                    tokens.append(.anyDirs)
                    kind = .glob
                }
                if index == 0 { kind = .suffix }
            } else {
                tokens.append(.star)
                kind = .glob
            }
        case "?":
            tokens.append(.any)
            kind = .glob
        case "\\":
            if i < s.count {
                tokens.append(.literal(s[i]))
                i += 1
                kind = .glob
            } else {
                tokens.append(.literal("\\"))
            }
        case "[":
            var negated = false
            if i < s.count, s[i] == "^" { negated = true; i += 1 }
            var ranges: [ClosedRange<Unicode.Scalar>] = []
            var closed = false
            var firstInClass = true
            while i < s.count {
                var c = s[i]
                if c == "]" && !firstInClass { closed = true; i += 1; break }
                firstInClass = false
                i += 1
                if c == "\\" {
                    guard i < s.count else { break }
                    c = s[i]; i += 1
                }
                if i + 1 < s.count, s[i] == "-", s[i + 1] != "]" {
                    var hi = s[i + 1]
                    i += 2
                    if hi == "\\", i < s.count { hi = s[i]; i += 1 }
                    guard c <= hi else { throw PatternError(message: "invalid character class range") }
                    ranges.append(c...hi)
                } else {
                    ranges.append(c...c)
                }
            }
            guard closed else { throw PatternError(message: "missing ']'") }
            tokens.append(.set(ranges, negated: negated))
            kind = .glob
        case "]":
            throw PatternError(message: "unexpected ']'")
        default:
            tokens.append(.literal(ch))
        }
    }
    return (kind, tokens)
}

extension DockerIgnore.Pattern {
    func matches(_ path: String) -> Bool {
        switch kind {
        case .exact:
            return path == text
        case .prefix:
            return path.hasPrefix(String(text.dropLast(2)))
        case .suffix:
            let suffix = String(text.dropFirst(2))
            if path.hasSuffix(suffix) { return true }
            return suffix.hasPrefix("/") && path == String(suffix.dropFirst())
        case .glob:
            return match(tokens[...], Array(path.unicodeScalars)[...])
        }
    }

    private func match(_ p: ArraySlice<DockerIgnore.Token>, _ t: ArraySlice<Unicode.Scalar>) -> Bool {
        guard let first = p.first else { return t.isEmpty }
        let rest = p.dropFirst()
        switch first {
        case .literal(let c):
            return t.first == c && match(rest, t.dropFirst())
        case .any:
            guard let c = t.first, c != "/" else { return false }
            return match(rest, t.dropFirst())
        case .set(let ranges, let negated):
            guard let c = t.first else { return false }
            return ranges.contains { $0.contains(c) } != negated && match(rest, t.dropFirst())
        case .star:
            var remaining = t
            while true {
                if match(rest, remaining) { return true }
                guard let c = remaining.first, c != "/" else { return false }
                remaining = remaining.dropFirst()
            }
        case .anything:
            return match(rest, t[t.endIndex...]) || rest.isEmpty
        case .anyDirs:
            // Zero directories, or any text ending in '/'.
            if match(rest, t) { return true }
            var i = t.startIndex
            while i < t.endIndex {
                if t[i] == "/", match(rest, t[(i + 1)...]) { return true }
                i += 1
            }
            return false
        }
    }
}

fileprivate extension String {
    /// Go's `strings.TrimSpace`.
    func trimmingBlanks() -> String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        guard let end = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[start...end])
    }
}

/// Go's `filepath.Clean` for `/`-separated paths.
func dockerCleanPath(_ path: String) -> String {
    if path.isEmpty { return "." }
    let rooted = path.hasPrefix("/")
    var parts: [Substring] = []
    for part in path.split(separator: "/", omittingEmptySubsequences: true) {
        if part == "." { continue }
        if part == ".." {
            if let last = parts.last, last != ".." {
                parts.removeLast()
            } else if !rooted {
                parts.append(part)
            }
            continue
        }
        parts.append(part)
    }
    let joined = parts.joined(separator: "/")
    if rooted { return "/" + joined }
    return joined.isEmpty ? "." : joined
}
