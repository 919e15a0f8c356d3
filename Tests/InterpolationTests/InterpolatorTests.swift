import Testing
@testable import Interpolation

@Suite struct InterpolatorTests {
    let env = Interpolator(environment: ["FOO": "first", "BAR": "", "N": "1"])

    @Test func plainTextIsUntouched() throws {
        #expect(try env.interpolate("") == "")
        #expect(try env.interpolate("no variables here } {") == "no variables here } {")
        #expect(try env.interpolate("ünïcødé $FOO ✓") == "ünïcødé first ✓")
    }

    @Test func namedVariableStopsAtNonNameCharacter() throws {
        #expect(try env.interpolate("$FOO.bar") == "first.bar")
        #expect(try env.interpolate("$FOOx") == "")
        #expect(try env.interpolate("a$1b") == "a$1b")
        #expect(try env.interpolate("$$FOO") == "$FOO")
        #expect(try env.interpolate("$$$FOO") == "$first")
    }

    @Test func variableNamesAreCaseSensitiveButPatternIsNot() throws {
        #expect(try env.interpolate("$foo") == "")
        #expect(try env.interpolate("${FOO}") == "first")
    }

    @Test func multipleExpressionsOnOneLine() throws {
        #expect(try env.interpolate("${FOO:-a} and ${BAR:-b} and ${X-c}") == "first and b and c")
        #expect(try env.interpolate("${FOO}-${BAR-x}") == "first-")
    }

    @Test func expressionsOnSeparateLines() throws {
        #expect(try env.interpolate("${X:-a}\n${Y:-b}") == "a\nb")
    }

    @Test func missingRequiredErrorDetails() throws {
        let error = try #require(throws: InterpolationError.self) {
            try env.interpolate("x ${NOPE:?set NOPE to $FOO}")
        }
        #expect(error.kind == .missingRequired)
        #expect(error.variable == "NOPE")
        #expect(error.reason == "set NOPE to first")
        #expect(error.offset == 2)
        #expect(error.composeMessage == "required variable NOPE is missing a value: set NOPE to first")
        #expect(error.description.contains("required variable NOPE is missing a value"))
    }

    @Test func invalidTemplateNamesTheInnermostTemplate() throws {
        let error = try #require(throws: InterpolationError.self) {
            try env.interpolate("ok ${X:-a ${ b}")
        }
        #expect(error.kind == .invalidTemplate)
        #expect(error.template == "a ${ b")
        #expect(error.text == "ok ${X:-a ${ b}")
        #expect(error.composeMessage == "Invalid template: \"a ${ b\"")
        #expect(error.offset == 10)
    }

    @Test(arguments: ["${", "${}", "${ }", "${VAR:}", "${VAR:x}", "${VAR!}", "x ${VAR", "${VAR:-x"])
    func invalidSyntax(_ text: String) throws {
        let error = try #require(throws: InterpolationError.self) { try env.interpolate(text) }
        #expect(error.kind == .invalidTemplate)
        #expect(error.composeMessage == "Invalid template: \"\(text)\"")
        #expect(error.variable == nil)
    }

    @Test func unusedBranchesAreNotEvaluated() throws {
        // compose-go evaluates a default, alternative or message only when it is used, so a
        // broken one that is not used does not fail.
        #expect(try env.interpolate("${FOO:-${}") == "first")
        #expect(try env.interpolate("${FOO?${X:?boom}}") == "first")
        #expect(try env.interpolate("${X:+${Y:?boom}}") == "")
    }

    @Test func composeGoQuirksAreKept() throws {
        // The greedy pattern makes the first expression swallow `} ${B`, so this fails in
        // `docker compose` too.
        #expect(throws: InterpolationError.self) { try env.interpolate("${A:-{}} ${B}") }
        // A balanced `}` after a default is literal text.
        #expect(try env.interpolate("${A:-x}}") == "x}")
        #expect(try env.interpolate("${A-}}") == "}")
    }

    @Test func evaluateReportsLookups() throws {
        let result = try env.evaluate("$X ${FOO:-$Y} ${Z:-${BAR}} ${X}")
        #expect(result.value == " first  ")
        #expect(result.unsetVariables == ["X", "X"])
        #expect(result.lookedUp == ["X", "FOO", "Z", "BAR"])
    }

    @Test func lookupClosureIsUsed() throws {
        let interpolator = Interpolator(lookup: { $0 == "HOME" ? "/root" : nil })
        #expect(try interpolator.interpolate("${HOME}/x:${NONE-none}") == "/root/x:none")
    }

    @Test func goQuoteMatchesStrconvQuote() {
        #expect(goQuote("a\"b\\c\n\t\u{1}é\u{A0}") == "\"a\\\"b\\\\c\\n\\t\\x01é\\u00a0\"")
    }
}

/// The cases of compose-go's `template/variables_test.go` (`ExtractVariables`).
@Suite struct TemplateVariableTests {
    func vars(_ text: String) -> [String: TemplateVariable] {
        Dictionary(Interpolator.variables(in: text).map { ($0.name, $0) }, uniquingKeysWith: { _, b in b })
    }

    @Test func none() {
        #expect(Interpolator.variables(in: "foo").isEmpty)
        #expect(Interpolator.variables(in: "$$foo").isEmpty)
    }

    @Test func simple() {
        #expect(vars("$bar") == ["bar": TemplateVariable(name: "bar")])
        #expect(vars("$bar_1") == ["bar_1": TemplateVariable(name: "bar_1")])
        #expect(vars("${bar}") == ["bar": TemplateVariable(name: "bar")])
    }

    @Test func required() {
        #expect(vars("${bar?:foo}") == ["bar": TemplateVariable(name: "bar", required: true)])
        #expect(vars("${bar_1?:foo}") == ["bar_1": TemplateVariable(name: "bar_1", required: true)])
        #expect(vars("${bar?foo}") == ["bar": TemplateVariable(name: "bar", required: true)])
    }

    @Test func defaults() {
        #expect(vars("${bar:-foo}") == ["bar": TemplateVariable(name: "bar", defaultValue: "foo")])
        #expect(vars("${bar-foo}") == ["bar": TemplateVariable(name: "bar", defaultValue: "foo")])
        #expect(vars("${bar_1:-foo}") == ["bar_1": TemplateVariable(name: "bar_1", defaultValue: "foo")])
    }

    @Test func presence() {
        #expect(vars("${bar:+foo}") == ["bar": TemplateVariable(name: "bar", presenceValue: "foo")])
        #expect(vars("${bar+foo}") == ["bar": TemplateVariable(name: "bar", presenceValue: "foo")])
    }

    @Test func concatAndNested() {
        #expect(vars("${SUBDOMAIN:-redis}.${ROOTDOMAIN:?}") == [
            "ROOTDOMAIN": TemplateVariable(name: "ROOTDOMAIN", required: true),
            "SUBDOMAIN": TemplateVariable(name: "SUBDOMAIN", defaultValue: "redis"),
        ])
        #expect(vars("${SUBDOMAIN:-$ROOTDOMAIN}") == [
            "ROOTDOMAIN": TemplateVariable(name: "ROOTDOMAIN"),
            "SUBDOMAIN": TemplateVariable(name: "SUBDOMAIN", defaultValue: "$ROOTDOMAIN"),
        ])
        #expect(vars("$docker:${project:-cli}") == [
            "docker": TemplateVariable(name: "docker"),
            "project": TemplateVariable(name: "project", defaultValue: "cli"),
        ])
    }
}
