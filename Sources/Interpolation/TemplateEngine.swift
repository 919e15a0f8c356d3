// The substitution rules of compose-go's `template` package, re-derived from its behaviour.
//
// compose-go finds variables with one regular expression,
//   \$(?i:(\$)|([_a-z][_a-z0-9]*)|{(?:([_a-z][_a-z0-9]*(?::?[-+?](.*))?)}|()))
// whose `(.*)` is greedy: a `${NAME-…}` match runs to the LAST `}` on its line. Each match is
// then cut at its first "balanced" `}` (a brace counter that also skips the character after
// every `{`), the part before is evaluated and the part after is substituted again. The
// operator is the one of `:?`, `?`, `:-`, `-`, `:+`, `+` that starts earliest in the match.
// Those steps are reproduced one by one below instead of with a recursive-descent parser,
// because their corner cases (e.g. `${A:-{}} ${B}` failing) are what `docker compose` does.
//
// Every template handled is a slice of the original scalars, so slice indices are offsets
// into the caller's text.

typealias Scalars = ArraySlice<Unicode.Scalar>

struct Trace {
    let recording: Bool
    var unset: [String] = []
    var lookedUp: [String] = []
    private var seen: Set<String> = []

    init(recording: Bool) {
        self.recording = recording
    }

    mutating func looked(_ name: String, found: Bool, warns: Bool) {
        guard recording else { return }
        if seen.insert(name).inserted { lookedUp.append(name) }
        if warns && !found { unset.append(name) }
    }
}

enum TemplateEngine {
    /// What the pattern matched at one `$`.
    enum MatchKind {
        case escaped
        case named(Range<Int>)
        case braced(Range<Int>)
        case invalid
    }

    struct Match {
        let kind: MatchKind
        let end: Int
    }

    enum Operator: CaseIterable {
        case requiredNonEmpty, required, defaultIfEmpty, defaultIfUnset, altIfNonEmpty, altIfSet

        var text: [Unicode.Scalar] {
            switch self {
            case .requiredNonEmpty: return [":", "?"]
            case .required: return ["?"]
            case .defaultIfEmpty: return [":", "-"]
            case .defaultIfUnset: return ["-"]
            case .altIfNonEmpty: return [":", "+"]
            case .altIfSet: return ["+"]
            }
        }
    }

    struct Context {
        let text: String
    }

    static func run(
        _ text: String, lookup: (String) -> String?, trace: inout Trace
    ) throws(InterpolationError) -> String {
        let scalars = Array(text.unicodeScalars)[...]
        return try substitute(scalars, context: Context(text: text), lookup: lookup, trace: &trace)
    }

    // MARK: - Pattern

    /// `(?i)[_a-z]`. Go's case folding also maps U+212A KELVIN SIGN to k and U+017F LATIN SMALL
    /// LETTER LONG S to s, so they count as letters here too.
    static func isNameStart(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "_", "a"..."z", "A"..."Z", "\u{212A}", "\u{017F}": return true
        default: return false
        }
    }

    static func isNameChar(_ c: Unicode.Scalar) -> Bool {
        isNameStart(c) || ("0"..."9").contains(c)
    }

    static func isOperatorChar(_ c: Unicode.Scalar) -> Bool {
        c == "-" || c == "+" || c == "?"
    }

    /// The pattern anchored at `i` (which must hold `$`), or nil when it does not match there.
    static func match(_ s: Scalars, at i: Int) -> Match? {
        guard i < s.endIndex, s[i] == "$", i + 1 < s.endIndex else { return nil }
        let c = s[i + 1]
        if c == "$" { return Match(kind: .escaped, end: i + 2) }
        if isNameStart(c) {
            var k = i + 2
            while k < s.endIndex, isNameChar(s[k]) { k += 1 }
            return Match(kind: .named(i + 1 ..< k), end: k)
        }
        guard c == "{" else { return nil }
        let invalid = Match(kind: .invalid, end: i + 2)
        let nameStart = i + 2
        guard nameStart < s.endIndex, isNameStart(s[nameStart]) else { return invalid }
        var k = nameStart + 1
        while k < s.endIndex, isNameChar(s[k]) { k += 1 }
        guard k < s.endIndex else { return invalid }
        let bodyStart: Int
        if s[k] == "}" {
            return Match(kind: .braced(nameStart ..< k), end: k + 1)
        } else if s[k] == ":", k + 1 < s.endIndex, isOperatorChar(s[k + 1]) {
            bodyStart = k + 2
        } else if isOperatorChar(s[k]) {
            bodyStart = k + 1
        } else {
            return invalid
        }
        // `.*` stops at a newline; the greedy match ends at the last `}` before it.
        var last: Int?
        var j = bodyStart
        while j < s.endIndex, s[j] != "\n" {
            if s[j] == "}" { last = j }
            j += 1
        }
        guard let close = last else { return invalid }
        return Match(kind: .braced(nameStart ..< close), end: close + 1)
    }

    /// compose-go's brace counter: every `{` opens and skips the next character, every `}`
    /// closes; the index where the count returns to zero, or nil.
    static func firstClosingBrace(_ s: Scalars) -> Int? {
        var open = 0
        var i = s.startIndex
        while i < s.endIndex {
            if s[i] == "}" {
                open -= 1
                if open == 0 { return i }
            }
            if s[i] == "{" {
                open += 1
                i += 1
            }
            i += 1
        }
        return nil
    }

    static func firstIndex(of needle: [Unicode.Scalar], in s: Scalars) -> Int? {
        guard !needle.isEmpty, s.count >= needle.count else { return nil }
        var i = s.startIndex
        while i + needle.count <= s.endIndex {
            var hit = true
            for (n, c) in needle.enumerated() where s[i + n] != c {
                hit = false
                break
            }
            if hit { return i }
            i += 1
        }
        return nil
    }

    /// The operator whose text starts earliest in `s`.
    static func earliestOperator(in s: Scalars) -> Operator? {
        var best: (op: Operator, index: Int)?
        for op in Operator.allCases {
            guard let index = firstIndex(of: op.text, in: s) else { continue }
            if let current = best, current.index <= index { continue }
            best = (op, index)
        }
        return best?.op
    }

    // MARK: - Substitution

    static func substitute(
        _ template: Scalars, context: Context, lookup: (String) -> String?, trace: inout Trace
    ) throws(InterpolationError) -> String {
        var out = String.UnicodeScalarView()
        var i = template.startIndex
        while i < template.endIndex {
            if template[i] == "$", let m = match(template, at: i) {
                let replaced = try replace(
                    template[i ..< m.end], in: template, context: context, lookup: lookup, trace: &trace)
                out.append(contentsOf: replaced.unicodeScalars)
                i = m.end
            } else {
                out.append(template[i])
                i += 1
            }
        }
        return String(out)
    }

    /// Evaluates one match. `template` is the (sub)template it was found in, which compose-go
    /// names in its invalid-template message.
    static func replace(
        _ matched: Scalars, in template: Scalars, context: Context,
        lookup: (String) -> String?, trace: inout Trace
    ) throws(InterpolationError) -> String {
        let op = earliestOperator(in: matched)
        var head = matched
        var rest = matched[matched.endIndex...]
        if let close = firstClosingBrace(matched) {
            head = matched[...close]
            rest = matched[(close + 1)...]
        }
        let start = matched.startIndex
        guard let m = match(head, at: start) else {
            throw invalidTemplate(template, at: start, context: context)
        }
        switch m.kind {
        case .escaped:
            return "$"
        case .named(let range):
            let name = String(String.UnicodeScalarView(head[range]))
            let value = lookup(name)
            trace.looked(name, found: value != nil, warns: true)
            return value ?? ""
        case .braced(let range):
            let substitution = head[range]
            if let op, let at = firstIndex(of: op.text, in: substitution) {
                let name = String(String.UnicodeScalarView(substitution[..<at]))
                let argument = substitution[(at + op.text.count)...]
                let value = try apply(
                    op, name: name, argument: argument, at: start, context: context,
                    lookup: lookup, trace: &trace)
                return value + (try substitute(rest, context: context, lookup: lookup, trace: &trace))
            }
            // A plain `${NAME}`; compose-go drops whatever followed the closing brace here,
            // which is always nothing for this shape.
            let name = String(String.UnicodeScalarView(substitution))
            let value = lookup(name)
            trace.looked(name, found: value != nil, warns: true)
            return value ?? ""
        case .invalid:
            throw invalidTemplate(template, at: start, context: context)
        }
    }

    static func apply(
        _ op: Operator, name: String, argument: Scalars, at offset: Int, context: Context,
        lookup: (String) -> String?, trace: inout Trace
    ) throws(InterpolationError) -> String {
        let value = lookup(name)
        trace.looked(name, found: value != nil, warns: false)
        // The argument is substituted only when it is used, so an unused default never warns
        // and never fails.
        switch op {
        case .defaultIfEmpty, .defaultIfUnset:
            if value == nil || (op == .defaultIfEmpty && value == "") {
                return try substitute(argument, context: context, lookup: lookup, trace: &trace)
            }
            return value ?? ""
        case .altIfNonEmpty, .altIfSet:
            if let value, op == .altIfSet || !value.isEmpty {
                return try substitute(argument, context: context, lookup: lookup, trace: &trace)
            }
            return value ?? ""
        case .requiredNonEmpty, .required:
            if value == nil || (op == .requiredNonEmpty && value == "") {
                let reason = try substitute(argument, context: context, lookup: lookup, trace: &trace)
                throw InterpolationError(
                    kind: .missingRequired, variable: name, reason: reason, text: context.text,
                    template: context.text, offset: offset)
            }
            return value ?? ""
        }
    }

    static func invalidTemplate(_ template: Scalars, at offset: Int, context: Context) -> InterpolationError {
        InterpolationError(
            kind: .invalidTemplate, variable: nil, reason: "", text: context.text,
            template: String(String.UnicodeScalarView(template)), offset: offset)
    }

    // MARK: - Variable extraction

    /// The variables a text mentions, by syntax (compose-go's `extractVariable`).
    static func extractVariables(_ s: Scalars) -> [TemplateVariable] {
        var found: [TemplateVariable] = []
        var i = s.startIndex
        while i < s.endIndex {
            guard s[i] == "$", let m = match(s, at: i) else {
                i += 1
                continue
            }
            defer { i = m.end }
            var body: Scalars
            switch m.kind {
            case .escaped, .invalid:
                continue
            case .named(let range):
                body = s[range]
            case .braced(let range):
                body = s[range]
                let whole = s[i ..< m.end]
                if let close = firstClosingBrace(whole), close > whole.startIndex {
                    body = s[(i + 2) ..< close]
                    found += extractVariables(s[(close + 1) ..< m.end])
                }
            }
            var variable = TemplateVariable(name: String(String.UnicodeScalarView(body)))
            if let cut = body.firstIndex(where: { !isExtractNameChar($0) }), cut > body.startIndex {
                variable.name = String(String.UnicodeScalarView(body[..<cut]))
                let rest = body[cut...]
                func after(_ prefix: String) -> String? {
                    let p = Array(prefix.unicodeScalars)
                    guard rest.starts(with: p) else { return nil }
                    return String(String.UnicodeScalarView(rest.dropFirst(p.count)))
                }
                if after(":?") != nil || after("?") != nil {
                    variable.required = true
                } else if let d = after(":-") ?? after("-") {
                    variable.defaultValue = d
                } else if let p = after(":+") ?? after("+") {
                    variable.presenceValue = p
                }
            }
            found.append(variable)
            if !variable.defaultValue.isEmpty {
                found += extractVariables(Array(variable.defaultValue.unicodeScalars)[...])
            }
            if !variable.presenceValue.isEmpty {
                found += extractVariables(Array(variable.presenceValue.unicodeScalars)[...])
            }
        }
        return found
    }

    static func isExtractNameChar(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "a"..."z", "A"..."Z", "0"..."9", "_": return true
        default: return false
        }
    }
}
