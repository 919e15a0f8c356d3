import Interpolation
// The syntax layer: lines, continuations, parser directives, comments, heredoc bodies and the
// per-instruction argument splitting, with the same results as BuildKit's parser, so the AST
// dump matches BuildKit's test files byte for byte.

/// A heredoc attached to an instruction (`RUN <<EOF` … `EOF`).
public struct Heredoc: Sendable, Equatable {
    /// The terminating word, quotes removed.
    public var name: String
    /// The file descriptor written before `<<` (`3<<EOF`), 0 when none.
    public var fileDescriptor: Int
    /// False when the word was quoted (`<<"EOF"`): the body is not expanded.
    public var expand: Bool
    /// `<<-EOF`: leading tabs are stripped from the body and terminator.
    public var chomp: Bool
    /// The body, each line with its newline.
    public var content: String
}

/// One instruction as the parser sees it, before its arguments are given meaning.
/// Mirrors BuildKit's AST node: a keyword, its `--flags`, its argument strings, and for
/// `ONBUILD` the nested instruction.
public struct SyntaxNode: Sendable, Equatable {
    /// Lowercased instruction name (`run`, `copy`, …).
    public var keyword: String
    /// The `--name[=value]` words after the keyword, as written (quotes removed), `--` dropped.
    public var flags: [String]
    /// Argument strings: one per JSON element, the rest of the line for shell form, triples
    /// (name, value, separator) for ENV and LABEL, words for ARG/FROM/EXPOSE/VOLUME lists.
    public var args: [String]
    /// `ONBUILD`'s trigger instruction (zero or one element).
    public var children: [SyntaxNode]
    /// The arguments were a JSON array (exec form).
    public var isJSON: Bool
    public var heredocs: [Heredoc]
    /// The logical line after continuations were joined.
    public var original: String
    /// 1-based first and last physical line (heredoc bodies included).
    public var startLine: Int
    public var endLine: Int

    /// The node in BuildKit's `Dump()` format, e.g. `(copy ["--from=a"] "x" "/y")`.
    public func dump() -> String {
        "(" + dumpBody() + ")"
    }

    func dumpBody() -> String {
        var text = keyword
        if !flags.isEmpty {
            text += " [" + flags.map(goQuote).joined(separator: " ") + "]"
        }
        for child in children {
            text += " (" + child.dumpBody() + ")"
        }
        for arg in args {
            text += " " + goQuote(arg)
        }
        return text
    }
}

/// The parsed file: instructions in source order plus the parser directives found.
public struct SyntaxTree: Sendable, Equatable {
    public var nodes: [SyntaxNode]
    /// `escape`, `syntax` and `check` directives with their values.
    public var directives: [String: String]
    /// The escape character in effect (`\` or `` ` ``).
    public var escapeToken: Character
    /// Lines that only continue a line without content (BuildKit warns about them).
    public var emptyContinuationLines: [Int]

    /// One line per instruction, as BuildKit's `AST.Dump()` prints it (no trailing newline).
    public func dump() -> String {
        nodes.map { $0.dump() }.joined(separator: "\n")
    }

    /// Parses Dockerfile text into instructions without interpreting their arguments.
    public static func parse(_ text: String, file: String = "Dockerfile") throws(DockerfileError) -> SyntaxTree {
        var parser = LineParser(text: text, file: file)
        return try parser.run()
    }
}

// MARK: - Line reader

private let utf8BOM: [UInt8] = [0xEF, 0xBB, 0xBF]

@inline(__always) func isASCIISpace(_ b: UInt8) -> Bool {
    b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0B || b == 0x0C || b == 0x0D
}

/// Go's `unicode.IsSpace`.
func isGoSpace(_ s: Unicode.Scalar) -> Bool {
    switch s.value {
    case 0x09...0x0D, 0x20, 0x85, 0xA0: return true
    case 0..<0x80: return false
    default: return s.properties.isWhitespace
    }
}

/// Go's `\s` in regexps and `[\t\v\f\r ]` token separators are ASCII only.
@inline(__always) func isTokenSeparator(_ b: UInt8) -> Bool {
    b == 0x20 || b == 0x09 || b == 0x0B || b == 0x0C || b == 0x0D
}

func trimNewline(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
    var end = line.endIndex
    while end > line.startIndex, line[end - 1] == 0x0A || line[end - 1] == 0x0D { end -= 1 }
    return line[line.startIndex..<end]
}

/// `bytes.TrimLeftFunc(unicode.IsSpace)`, decoding UTF-8 so U+00A0 and friends count too.
func trimLeadingWhitespace(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
    var start = line.startIndex
    while start < line.endIndex {
        let b = line[start]
        if b < 0x80 {
            if isASCIISpace(b) { start += 1; continue }
            break
        }
        // Decode one multi-byte scalar.
        let (scalar, width) = decodeScalar(line, at: start)
        if let scalar, isGoSpace(scalar) { start += width; continue }
        break
    }
    return line[start..<line.endIndex]
}

func decodeScalar(_ bytes: ArraySlice<UInt8>, at index: Int) -> (Unicode.Scalar?, Int) {
    var iterator = bytes[index...].makeIterator()
    var decoder = UTF8()
    switch decoder.decode(&iterator) {
    case .scalarValue(let s): return (s, UTF8.width(s))
    default: return (nil, 1)
    }
}

func isComment(_ line: ArraySlice<UInt8>) -> Bool {
    trimLeadingWhitespace(trimNewline(line)).first == UInt8(ascii: "#")
}

func bytesToString<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    String(decoding: bytes, as: UTF8.self)
}

private struct LineParser {
    let file: String
    var lines: [ArraySlice<UInt8>] = []
    var index = 0
    var escape: UInt8 = UInt8(ascii: "\\")
    var directivesDone = false
    var directives: [String: String] = [:]
    var emptyContinuationLines: [Int] = []

    init(text: String, file: String) {
        self.file = file
        let bytes = Array(text.utf8)
        // Keep each line's newline, like BuildKit's scanner, so heredoc bodies keep theirs.
        var start = 0
        for (i, b) in bytes.enumerated() where b == 0x0A {
            lines.append(bytes[start...i])
            start = i + 1
        }
        if start < bytes.count { lines.append(bytes[start..<bytes.count]) }
    }

    func error(_ message: String, line: Int, hint: String? = nil) -> DockerfileError {
        DockerfileError(file: file, line: line, message: message, hint: hint)
    }

    /// `# name = value` before anything else; returns nil when the line is not a directive.
    mutating func possibleDirective(_ token: ArraySlice<UInt8>, line: Int) throws(DockerfileError) {
        if directivesDone { return }
        guard let (name, value) = Self.matchDirective(token) else {
            directivesDone = true
            return
        }
        let key = name.lowercased()
        guard ["syntax", "escape", "check"].contains(key) else {
            directivesDone = true
            return
        }
        if directives[key] != nil {
            throw error("only one \(key) parser directive can be used", line: line,
                        hint: "Remove the repeated '# \(key)=' line.")
        }
        directives[key] = value
        if key == "escape" {
            guard value == "\\" || value == "`" else {
                throw error("invalid escape token '\(value)' does not match ` or \\", line: line,
                            hint: "Use '# escape=\\' (the default) or '# escape=`'.")
            }
            escape = value.utf8.first ?? UInt8(ascii: "\\")
        }
    }

    /// The regexp `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`, by hand.
    static func matchDirective(_ token: ArraySlice<UInt8>) -> (String, String)? {
        let t = Array(token)
        var i = 0
        guard i < t.count, t[i] == UInt8(ascii: "#") else { return nil }
        i += 1
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0C || b == 0x0D }
        func isAlpha(_ b: UInt8) -> Bool { (b >= 65 && b <= 90) || (b >= 97 && b <= 122) }
        func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
        while i < t.count, isSpace(t[i]) { i += 1 }
        guard i < t.count, isAlpha(t[i]) else { return nil }
        let nameStart = i
        while i < t.count, isAlpha(t[i]) || isDigit(t[i]) { i += 1 }
        let name = bytesToString(t[nameStart..<i])
        while i < t.count, isSpace(t[i]) { i += 1 }
        guard i < t.count, t[i] == UInt8(ascii: "=") else { return nil }
        i += 1
        let rest = t[i...]
        guard !rest.isEmpty else { return nil }
        var valueStart = rest.startIndex
        while valueStart < rest.endIndex, isSpace(rest[valueStart]) { valueStart += 1 }
        var valueEnd = rest.endIndex
        while valueEnd > valueStart, isSpace(rest[valueEnd - 1]) { valueEnd -= 1 }
        if valueStart == valueEnd {
            // All blanks: the lazy `.+?` still takes one of them.
            return (name, bytesToString(rest[(rest.endIndex - 1)...]))
        }
        return (name, bytesToString(rest[valueStart..<valueEnd]))
    }

    /// BuildKit's continuation rule: the escape character as the last non-blank character,
    /// unless it is itself escaped, or alone on its line.
    func trimContinuation(_ line: ArraySlice<UInt8>) -> (ArraySlice<UInt8>, Bool) {
        var end = line.endIndex
        while end > line.startIndex, line[end - 1] == 0x20 || line[end - 1] == 0x09 { end -= 1 }
        guard end > line.startIndex, line[end - 1] == escape else { return (line, true) }
        let escapeIndex = end - 1
        if escapeIndex == line.startIndex { return (line[line.startIndex..<line.startIndex], false) }
        if line[escapeIndex - 1] == escape { return (line, true) }
        return (line[line.startIndex..<escapeIndex], false)
    }

    mutating func run() throws(DockerfileError) -> SyntaxTree {
        var nodes: [SyntaxNode] = []
        var currentLine = 0
        while index < lines.count {
            var raw = lines[index]
            index += 1
            if currentLine == 0, raw.starts(with: utf8BOM) { raw = raw.dropFirst(3) }
            var token = trimLeadingWhitespace(trimNewline(raw))
            try possibleDirective(token, line: currentLine + 1)
            if token.first == UInt8(ascii: "#") { token = token[token.startIndex..<token.startIndex] }
            currentLine += 1
            let startLine = currentLine

            var (first, endOfLine) = trimContinuation(token)
            if endOfLine && first.isEmpty { continue }
            var line = Array(first)
            while !endOfLine && index < lines.count {
                let next = lines[index]
                index += 1
                var piece = trimNewline(next)
                try possibleDirective(piece, line: currentLine + 1)
                if piece.first == UInt8(ascii: "#") { piece = piece[piece.startIndex..<piece.startIndex] }
                currentLine += 1
                if isComment(next) { continue }
                if trimLeadingWhitespace(piece).isEmpty {
                    emptyContinuationLines.append(currentLine)
                    continue
                }
                let (trimmed, eol) = trimContinuation(piece)
                endOfLine = eol
                line.append(contentsOf: trimmed)
            }

            let text = bytesToString(line)
            var node: SyntaxNode
            do {
                node = try parseNode(text)
            } catch let e {
                throw e.located(file: file, line: startLine)
            }

            if node.canContainHeredoc {
                let heredocs: [Heredoc]
                do {
                    heredocs = try heredocsFromLine(text)
                } catch let e {
                    throw e.located(file: file, line: startLine)
                }
                for var heredoc in heredocs {
                    var terminated = false
                    var content: [UInt8] = []
                    while index < lines.count {
                        let bodyLine = lines[index]
                        index += 1
                        currentLine += 1
                        var candidate = trimNewline(bodyLine)
                        if heredoc.chomp {
                            while candidate.first == 0x09 { candidate = candidate.dropFirst() }
                        }
                        if candidate.elementsEqual(heredoc.name.utf8) {
                            terminated = true
                            break
                        }
                        content.append(contentsOf: bodyLine)
                    }
                    guard terminated else {
                        throw error("unterminated heredoc <<\(heredoc.name)", line: startLine,
                                    hint: "Add a line holding only '\(heredoc.name)' after the heredoc's body.")
                    }
                    heredoc.content = bytesToString(content)
                    node.heredocs.append(heredoc)
                }
            }
            node.startLine = startLine
            node.endLine = currentLine
            nodes.append(node)
        }
        guard !nodes.isEmpty else {
            throw error("file with no instructions", line: max(currentLine, 1),
                        hint: "A Dockerfile needs at least a FROM instruction.")
        }
        return SyntaxTree(nodes: nodes, directives: directives,
                          escapeToken: Character(Unicode.Scalar(escape)),
                          emptyContinuationLines: emptyContinuationLines)
    }

    func parseNode(_ line: String) throws(DockerfileError) -> SyntaxNode {
        try makeNode(line: line, escape: Unicode.Scalar(escape))
    }
}

// MARK: - Instruction line → node

private let heredocKeywords: Set<String> = ["run", "copy", "add"]

extension SyntaxNode {
    var canContainHeredoc: Bool {
        var node = self
        if node.keyword == "onbuild", let child = node.children.first { node = child }
        return heredocKeywords.contains(node.keyword) && !node.isJSON
    }
}

/// Splits `KEYWORD [--flags] rest` and dispatches on the keyword, like BuildKit's
/// `newNodeFromLine`.
func makeNode(line: String, escape: Unicode.Scalar) throws(DockerfileError) -> SyntaxNode {
    let bytes = Array(line.utf8)
    // strings.TrimSpace then split on the first run of [\t\v\f\r ].
    let trimmed = trimSpace(bytes[...])
    var cut = trimmed.startIndex
    while cut < trimmed.endIndex, !isTokenSeparator(trimmed[cut]) { cut += 1 }
    let keywordText = bytesToString(trimmed[trimmed.startIndex..<cut])
    var restStart = cut
    while restStart < trimmed.endIndex, isTokenSeparator(trimmed[restStart]) { restStart += 1 }
    var flags: [String] = []
    var rest = ""
    if cut < trimmed.endIndex {
        let (afterFlags, found) = extractBuilderFlags(trimmed[restStart..<trimmed.endIndex])
        flags = found
        rest = bytesToString(trimSpace(afterFlags))
    }
    let keyword = keywordText.lowercased()
    var node = SyntaxNode(keyword: keyword, flags: flags, args: [], children: [], isJSON: false,
                          heredocs: [], original: line, startLine: 0, endLine: 0)
    switch keyword {
    case "add", "copy", "volume":
        (node.args, node.isJSON) = try parseMaybeJSONToList(rest)
    case "arg":
        node.args = parseWords(rest, escape: escape)
    case "cmd", "entrypoint", "run", "shell":
        (node.args, node.isJSON) = try parseMaybeJSON(rest)
    case "env":
        node.args = try parseNameValue(rest, keyword: "ENV", escape: escape)
    case "label":
        node.args = try parseNameValue(rest, keyword: "LABEL", escape: escape)
    case "expose", "from":
        node.args = splitWhitespace(rest)
    case "healthcheck":
        (node.args, node.isJSON) = try parseHealthConfig(rest)
    case "maintainer", "stopsignal", "user", "workdir":
        node.args = rest.isEmpty ? [] : [rest]
    case "onbuild":
        if !rest.isEmpty {
            node.children = [try makeNode(line: rest, escape: escape)]
        }
    default:
        // Unknown instructions keep an empty argument, as BuildKit's parser does; the
        // instruction layer reports them.
        node.args = [""]
    }
    return node
}

func trimSpace(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
    var slice = trimLeadingWhitespace(bytes)
    // Trailing side: ASCII blanks plus the two Latin-1 spaces in UTF-8 (rare; enough for Go parity).
    while let last = slice.last {
        if isASCIISpace(last) { slice = slice.dropLast(); continue }
        if slice.count >= 2, slice[slice.endIndex - 2] == 0xC2,
           last == 0x85 || last == 0xA0 { slice = slice.dropLast(2); continue }
        break
    }
    return slice
}

/// Splits on runs of `[\t\v\f\r ]`, BuildKit's `reWhitespace`.
func splitWhitespace(_ text: String) -> [String] {
    if text.isEmpty { return [] }
    var parts: [String] = []
    var current: [UInt8] = []
    var inSeparator = false
    for b in text.utf8 {
        if isTokenSeparator(b) {
            if !inSeparator { parts.append(bytesToString(current)); current = [] }
            inSeparator = true
        } else {
            inSeparator = false
            current.append(b)
        }
    }
    parts.append(bytesToString(current))
    return parts
}

/// Splits at the first run of `[\t\v\f\r ]` into at most two parts.
func splitWhitespaceOnce(_ text: String) -> [String] {
    let bytes = Array(text.utf8)
    guard let first = bytes.firstIndex(where: isTokenSeparator) else { return [text] }
    var second = first
    while second < bytes.count, isTokenSeparator(bytes[second]) { second += 1 }
    return [bytesToString(bytes[..<first]), bytesToString(bytes[second...])]
}

/// Leading `--flag[=value]` words; stops at the first word not starting with `--`, or after `--`.
func extractBuilderFlags(_ line: ArraySlice<UInt8>) -> (ArraySlice<UInt8>, [String]) {
    enum Phase { case spaces, word, quote }
    var words: [String] = []
    var phase = Phase.spaces
    var word: [UInt8] = []
    var quote: UInt8 = 0
    var blankOK = false
    var pos = line.startIndex
    let end = line.endIndex
    while pos <= end {
        let ch: UInt8 = pos < end ? line[pos] : 0
        if phase == .spaces {
            if pos == end { break }
            if isASCIISpace(ch) { pos += 1; continue }
            if ch != UInt8(ascii: "-") || pos + 1 == end || line[pos + 1] != UInt8(ascii: "-") {
                return (line[pos..<end], words)
            }
            phase = .word
        }
        if pos == end {
            if word != [0x2D, 0x2D], blankOK || !word.isEmpty { words.append(bytesToString(word)) }
            break
        }
        if phase == .word {
            if isASCIISpace(ch) {
                phase = .spaces
                if word == [0x2D, 0x2D] { return (line[pos..<end], words) }
                if blankOK || !word.isEmpty { words.append(bytesToString(word)) }
                word = []
                blankOK = false
                pos += 1
                continue
            }
            if ch == UInt8(ascii: "'") || ch == UInt8(ascii: "\"") {
                quote = ch
                blankOK = true
                phase = .quote
                pos += 1
                continue
            }
            var c = ch
            if c == UInt8(ascii: "\\") {
                if pos + 1 == end { pos += 1; continue }
                pos += 1
                c = line[pos]
            }
            word.append(c)
            pos += 1
            continue
        }
        // In quotes.
        if ch == quote {
            phase = .word
            pos += 1
            continue
        }
        var c = ch
        if c == UInt8(ascii: "\\") {
            if pos + 1 == end { phase = .word; pos += 1; continue }
            pos += 1
            c = line[pos]
        }
        word.append(c)
        pos += 1
    }
    return (line[end..<end], words)
}

/// Splits into words keeping quotes and escapes as written (BuildKit's `parseWords`).
func parseWords(_ rest: String, escape: Unicode.Scalar) -> [String] {
    enum Phase { case spaces, word, quote }
    let s = Array(rest.unicodeScalars)
    var words: [String] = []
    var phase = Phase.spaces
    var word = String.UnicodeScalarView()
    var quote: Unicode.Scalar = "\0"
    var blankOK = false
    var pos = 0
    while pos <= s.count {
        var ch: Unicode.Scalar = pos < s.count ? s[pos] : "\0"
        if phase == .spaces {
            if pos == s.count { break }
            if isGoSpace(ch) { pos += 1; continue }
            phase = .word
        }
        if pos == s.count {
            if blankOK || !word.isEmpty { words.append(String(word)) }
            break
        }
        if phase == .word {
            if isGoSpace(ch) {
                phase = .spaces
                if blankOK || !word.isEmpty { words.append(String(word)) }
                word = String.UnicodeScalarView()
                blankOK = false
                pos += 1
                continue
            }
            if ch == "'" || ch == "\"" {
                quote = ch
                blankOK = true
                phase = .quote
            }
            if ch == escape {
                if pos + 1 == s.count { pos += 1; continue }
                word.append(ch)
                pos += 1
                ch = s[pos]
            }
            word.append(ch)
            pos += 1
            continue
        }
        // In quotes.
        if ch == quote { phase = .word }
        if ch == escape && quote != "'" {
            if pos + 1 == s.count { phase = .word; pos += 1; continue }
            pos += 1
            word.append(ch)
            ch = s[pos]
        }
        word.append(ch)
        pos += 1
    }
    return words
}

/// ENV / LABEL: `name=value ...` gives (name, value, "=") triples; the old `name value`
/// form gives (name, rest of line, "").
func parseNameValue(_ rest: String, keyword: String, escape: Unicode.Scalar) throws(DockerfileError) -> [String] {
    let words = parseWords(rest, escape: escape)
    guard let first = words.first else { return [] }
    if !first.contains("=") {
        let parts = splitWhitespaceOnce(rest)
        guard parts.count == 2 else {
            throw DockerfileError(message: "\(keyword) must have two arguments",
                                  hint: "Write '\(keyword) \(first)=<value>' (or '\(keyword) \(first) <value>').")
        }
        return [parts[0], parts[1], ""]
    }
    var args: [String] = []
    for word in words {
        guard let eq = word.firstIndex(of: "=") else {
            throw DockerfileError(message: "Syntax error - can't find = in \(goQuote(word)). Must be of the form: name=value",
                                  hint: "Quote or escape values that contain spaces: name=\"a b\".")
        }
        args += [String(word[..<eq]), String(word[word.index(after: eq)...]), "="]
    }
    return args
}

enum JSONArrayResult {
    case strings([String])
    case notJSON
}

/// A JSON array of strings (exec form); `.notJSON` when the text is not valid JSON, an
/// error when it is valid JSON but holds something other than strings.
func parseJSONArray(_ rest: String) throws(DockerfileError) -> JSONArrayResult {
    let trimmed = trimLeadingWhitespace(Array(rest.utf8)[...])
    guard trimmed.first == UInt8(ascii: "[") else { return .notJSON }
    var reader = JSONReader(bytes: Array(trimmed))
    guard let value = reader.parseDocument() else { return .notJSON }
    guard case .array(let elements) = value else { return .notJSON }
    var strings: [String] = []
    for element in elements {
        guard case .string(let s) = element else {
            throw DockerfileError(message: "when using JSON array syntax, arrays must be comprised of strings only",
                                  hint: "Write every element of the exec form as a string, e.g. [\"sh\", \"-c\", \"...\"].")
        }
        strings.append(s)
    }
    return .strings(strings)
}

func parseMaybeJSON(_ rest: String) throws(DockerfileError) -> ([String], Bool) {
    if rest.isEmpty { return ([], false) }
    switch try parseJSONArray(rest) {
    case .strings(let s): return (s, true)
    case .notJSON: return ([rest], false)
    }
}

func parseMaybeJSONToList(_ rest: String) throws(DockerfileError) -> ([String], Bool) {
    switch try parseJSONArray(rest) {
    case .strings(let s): return (s, true)
    case .notJSON: return (splitWhitespace(rest), false)
    }
}

/// HEALTHCHECK: a type word (CMD, NONE, …) followed by a maybe-JSON command.
func parseHealthConfig(_ rest: String) throws(DockerfileError) -> ([String], Bool) {
    let bytes = Array(rest.utf8)
    var sep = 0
    while sep < bytes.count, !isASCIISpace(bytes[sep]) { sep += 1 }
    var next = sep
    while next < bytes.count, isASCIISpace(bytes[next]) { next += 1 }
    if sep == 0 { return ([], false) }
    let type = bytesToString(bytes[..<sep])
    let (cmd, json) = try parseMaybeJSON(bytesToString(bytes[next...]))
    return ([type] + cmd, json)
}

/// Heredoc words on an instruction line (`<<EOF`, `<<-EOF`, `3<<"EOF"`).
func heredocsFromLine(_ line: String) throws(DockerfileError) -> [Heredoc] {
    var lexer = ShellLex(escapeToken: "\\")
    lexer.rawQuotes = true
    lexer.rawEscapes = true
    lexer.skipUnsetEnv = true
    let words = (try? lexer.processWords(line, env: [:])) ?? []
    var docs: [Heredoc] = []
    for word in words {
        if let doc = try parseHeredocWord(word) { docs.append(doc) }
    }
    return docs
}

/// Matches `^(\d*)<<(-?)([^<]*)$` and works out the terminator and whether it was quoted.
func parseHeredocWord(_ word: String) throws(DockerfileError) -> Heredoc? {
    let s = Array(word.unicodeScalars)
    var i = 0
    var digits = ""
    while i < s.count, s[i].properties.numericType == .decimal, s[i].isASCII {
        digits.unicodeScalars.append(s[i]); i += 1
    }
    guard i + 1 < s.count, s[i] == "<", s[i + 1] == "<" else { return nil }
    i += 2
    var chomp = false
    if i < s.count, s[i] == "-" { chomp = true; i += 1 }
    let restScalars = s[i...]
    if restScalars.contains("<") || restScalars.isEmpty { return nil }
    var rest = String.UnicodeScalarView()
    rest.append(contentsOf: restScalars)
    let restText = String(rest)

    var lexer = ShellLex(escapeToken: "\\")
    lexer.skipUnsetEnv = true
    let words = try lexer.processWords(restText, env: [:])
    guard words.count == 1 else { return nil }
    lexer.rawQuotes = true
    let rawWords = try lexer.processWords(restText, env: [:])
    guard rawWords.count == 1 else {
        throw DockerfileError(message: "internal lexing of heredoc produced inconsistent results: \(restText)")
    }
    func quotes(_ t: String) -> Int { t.unicodeScalars.filter { $0 == "'" || $0 == "\"" }.count }
    return Heredoc(name: words[0], fileDescriptor: Int(digits) ?? 0,
                   expand: quotes(words[0]) == quotes(rawWords[0]), chomp: chomp, content: "")
}

// MARK: - JSON (just enough of encoding/json to tell exec form from shell form)

indirect enum JSONValue {
    case string(String)
    case array([JSONValue])
    case other
}

struct JSONReader {
    let bytes: [UInt8]
    var pos = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// One value followed only by whitespace, or nil when the text is not valid JSON.
    mutating func parseDocument() -> JSONValue? {
        skipSpace()
        guard let value = parseValue() else { return nil }
        skipSpace()
        return pos == bytes.count ? value : nil
    }

    mutating func skipSpace() {
        while pos < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[pos]) { pos += 1 }
    }

    mutating func parseValue() -> JSONValue? {
        skipSpace()
        guard pos < bytes.count else { return nil }
        switch bytes[pos] {
        case UInt8(ascii: "["):
            pos += 1
            var elements: [JSONValue] = []
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(elements) }
            while true {
                guard let v = parseValue() else { return nil }
                elements.append(v)
                skipSpace()
                guard pos < bytes.count else { return nil }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(elements) }
                return nil
            }
        case UInt8(ascii: "{"):
            pos += 1
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .other }
            while true {
                skipSpace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\""), parseString() != nil else { return nil }
                skipSpace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { return nil }
                pos += 1
                guard parseValue() != nil else { return nil }
                skipSpace()
                guard pos < bytes.count else { return nil }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .other }
                return nil
            }
        case UInt8(ascii: "\""):
            return parseString().map { .string($0) }
        case UInt8(ascii: "t"): return literal("true")
        case UInt8(ascii: "f"): return literal("false")
        case UInt8(ascii: "n"): return literal("null")
        default:
            return parseNumber()
        }
    }

    mutating func literal(_ word: String) -> JSONValue? {
        let w = Array(word.utf8)
        guard pos + w.count <= bytes.count, Array(bytes[pos..<(pos + w.count)]) == w else { return nil }
        pos += w.count
        return .other
    }

    mutating func parseNumber() -> JSONValue? {
        func digit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
        let start = pos
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        guard pos < bytes.count, digit(bytes[pos]) else { return nil }
        if bytes[pos] == UInt8(ascii: "0") { pos += 1 } else { while pos < bytes.count, digit(bytes[pos]) { pos += 1 } }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            guard pos < bytes.count, digit(bytes[pos]) else { return nil }
            while pos < bytes.count, digit(bytes[pos]) { pos += 1 }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard pos < bytes.count, digit(bytes[pos]) else { return nil }
            while pos < bytes.count, digit(bytes[pos]) { pos += 1 }
        }
        return pos > start ? .other : nil
    }

    mutating func hex4() -> UInt32? {
        guard pos + 4 <= bytes.count else { return nil }
        var v: UInt32 = 0
        for b in bytes[pos..<(pos + 4)] {
            guard let d = Int(String(UnicodeScalar(b)), radix: 16) else { return nil }
            v = v * 16 + UInt32(d)
        }
        pos += 4
        return v
    }

    mutating func parseString() -> String? {
        pos += 1  // opening quote
        var out: [UInt8] = []
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                pos += 1
                return bytesToString(out)
            }
            if b < 0x20 { return nil }
            if b != UInt8(ascii: "\\") {
                out.append(b)
                pos += 1
                continue
            }
            pos += 1
            guard pos < bytes.count else { return nil }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var code = hex4() else { return nil }
                if (0xD800..<0xDC00).contains(code) {
                    // A high surrogate pairs with a following \u low surrogate; alone it is U+FFFD.
                    let save = pos
                    if pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") {
                        pos += 2
                        if let low = hex4(), (0xDC00..<0xE000).contains(low) {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            pos = save
                            code = 0xFFFD
                        }
                    } else {
                        code = 0xFFFD
                    }
                } else if (0xDC00..<0xE000).contains(code) {
                    code = 0xFFFD
                }
                let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                return nil
            }
        }
        return nil
    }
}
