/// Compose variable interpolation (`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
/// `${VAR:?message}`, `${VAR?message}`, `${VAR:+alt}`, `${VAR+alt}`, nesting, `$$`), with the
/// exact results of compose-go's `template.Substitute`, quirks included, so a file means the
/// same to Berth as to `docker compose`.
public struct Interpolator: Sendable {
    /// Returns the value of a variable, or `nil` when it is unset (which differs from `""`).
    public let lookup: @Sendable (String) -> String?

    public init(lookup: @escaping @Sendable (String) -> String?) {
        self.lookup = lookup
    }

    /// Looks variables up in a fixed dictionary.
    public init(environment: [String: String]) {
        self.lookup = { environment[$0] }
    }

    /// Substitutes every variable in `text`.
    public func interpolate(_ text: String) throws(InterpolationError) -> String {
        try Self.interpolate(text, lookup: lookup)
    }

    /// Substitutes every variable in `text` and reports which variables were needed, so the
    /// caller can warn about unset ones the way Compose does.
    public func evaluate(_ text: String) throws(InterpolationError) -> InterpolationResult {
        try Self.evaluate(text, lookup: lookup)
    }

    /// `interpolate(_:)` for a lookup that need not be stored or `Sendable`.
    public static func interpolate(
        _ text: String, lookup: (String) -> String?
    ) throws(InterpolationError) -> String {
        // Most YAML scalars have no `$`; skip the scalar array for them.
        guard text.unicodeScalars.contains("$") else { return text }
        var trace = Trace(recording: false)
        return try TemplateEngine.run(text, lookup: lookup, trace: &trace)
    }

    /// `evaluate(_:)` for a lookup that need not be stored or `Sendable`.
    public static func evaluate(
        _ text: String, lookup: (String) -> String?
    ) throws(InterpolationError) -> InterpolationResult {
        var trace = Trace(recording: true)
        let value = try TemplateEngine.run(text, lookup: lookup, trace: &trace)
        return InterpolationResult(value: value, unsetVariables: trace.unset, lookedUp: trace.lookedUp)
    }

    /// Every variable `text` mentions, found by syntax alone (defaults that would never be used
    /// included), like compose-go's `template.ExtractVariables`: one entry per occurrence, in its
    /// order (a default's variables follow their variable; those after a nested `}` precede it).
    public static func variables(in text: String) -> [TemplateVariable] {
        TemplateEngine.extractVariables(Array(text.unicodeScalars)[...])
    }
}

/// The outcome of `Interpolator.evaluate(_:)`.
public struct InterpolationResult: Sendable, Equatable {
    /// The text with every variable substituted.
    public var value: String
    /// Variables substituted by a plain `$VAR` / `${VAR}` while unset, in evaluation order, once
    /// per occurrence: exactly the cases where compose-go logs
    /// `The "VAR" variable is not set. Defaulting to a blank string.`
    /// Defaults and messages that were not used are not evaluated and so never appear here.
    public var unsetVariables: [String]
    /// Every variable whose value was asked for, in order, each once.
    public var lookedUp: [String]

    public init(value: String, unsetVariables: [String], lookedUp: [String]) {
        self.value = value
        self.unsetVariables = unsetVariables
        self.lookedUp = lookedUp
    }
}

/// A variable reference found by `Interpolator.variables(in:)`.
public struct TemplateVariable: Sendable, Equatable {
    public var name: String
    /// The text after `:-` / `-` (not interpolated), or `""`.
    public var defaultValue: String
    /// The text after `:+` / `+` (not interpolated), or `""`.
    public var presenceValue: String
    /// `${VAR:?…}` or `${VAR?…}`.
    public var required: Bool

    public init(name: String, defaultValue: String = "", presenceValue: String = "", required: Bool = false) {
        self.name = name
        self.defaultValue = defaultValue
        self.presenceValue = presenceValue
        self.required = required
    }
}

/// Why interpolation failed. The Compose loader adds the file, line and column.
public struct InterpolationError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Bad `${` syntax: `${`, `${}`, `${ foo}`, `${foo }`, `${foo!}`, `${VAR:}`, ….
        case invalidTemplate
        /// `${VAR:?message}` with VAR unset or empty, or `${VAR?message}` with VAR unset.
        case missingRequired
    }

    public let kind: Kind
    /// The required variable (`missingRequired`); `nil` for `invalidTemplate`.
    public let variable: String?
    /// The interpolated message after `?` / `:?` (may be empty); `""` for `invalidTemplate`.
    public let reason: String
    /// The whole text given to the interpolator.
    public let text: String
    /// The template compose-go names in its message: for `invalidTemplate` the innermost
    /// (sub)template holding the bad `${` (a default value, say); otherwise `text`.
    public let template: String
    /// Offset in Unicode scalars into `text` of the `$` that failed.
    public let offset: Int

    public init(kind: Kind, variable: String?, reason: String, text: String, template: String, offset: Int) {
        self.kind = kind
        self.variable = variable
        self.reason = reason
        self.text = text
        self.template = template
        self.offset = offset
    }

    /// compose-go's own wording, e.g. `required variable FOO is missing a value: boom` or
    /// `Invalid template: "${foo }"`.
    public var composeMessage: String {
        switch kind {
        case .invalidTemplate:
            return "Invalid template: \(goQuote(template))"
        case .missingRequired:
            let name = variable ?? ""
            return reason.isEmpty
                ? "required variable \(name) is missing a value"
                : "required variable \(name) is missing a value: \(reason)"
        }
    }

    public var description: String {
        switch kind {
        case .invalidTemplate:
            return "\(composeMessage) (bad \"${\" at character \(offset + 1) of \(goQuote(text)); "
                + "a variable is $NAME or ${NAME} with an optional :-, -, :?, ?, :+ or + part, "
                + "and $$ is a literal $)"
        case .missingRequired:
            return "\(composeMessage) (set \(variable ?? "it") in the environment or the .env file)"
        }
    }
}
