import Foundation
import Testing
import TestSupport
@testable import Interpolation

/// One case of `compose-interpolation/cases.json` (compose-go's template and interpolation tests).
struct InterpolationCase: Decodable, Sendable, CustomTestStringConvertible {
    let id: String
    let template: String
    let env: [String: String]
    let expected: String?
    let error: Bool?
    let errorContains: String?
    let errorKind: String?
    let errorVariable: String?
    let errorReason: String?
    let warnings: Int?

    enum CodingKeys: String, CodingKey {
        case id, template, env, expected, error, warnings
        case errorContains = "error_contains"
        case errorKind = "error_kind"
        case errorVariable = "error_variable"
        case errorReason = "error_reason"
    }

    var testDescription: String { id }
}

struct OperatorChoiceCase: Decodable, Sendable, CustomTestStringConvertible {
    let name: String
    let input: String
    let `operator`: String
    var testDescription: String { name }
}

func loadInterpolationCases() throws -> [InterpolationCase] {
    let data = try Data(contentsOf: TestPaths.fixture("compose-interpolation/cases.json"))
    return try JSONDecoder().decode([InterpolationCase].self, from: data)
}

func loadOperatorChoiceCases() throws -> [OperatorChoiceCase] {
    let data = try Data(contentsOf: TestPaths.fixture("compose-interpolation/operator-choice.json"))
    return try JSONDecoder().decode([OperatorChoiceCase].self, from: data)
}

@Suite struct InterpolationConformanceTests {
    @Test func fixtureHasEveryCase() throws {
        let cases = try loadInterpolationCases()
        #expect(cases.count == 107)
        #expect(cases.filter { $0.error == true }.count == 21)
        #expect(try loadOperatorChoiceCases().count == 12)
    }

    @Test(arguments: try loadInterpolationCases())
    func composeGoCase(_ c: InterpolationCase) {
        let failures = Self.check(c)
        #expect(failures == [])
    }

    /// What differs from compose-go's expectation; empty when the case passes.
    static func check(_ c: InterpolationCase) -> [String] {
        var failures: [String] = []
        func want(_ ok: Bool, _ what: @autoclosure () -> String) { if !ok { failures.append(what()) } }
        let env = c.env
        if c.error == true {
            let error: InterpolationError
            do {
                let value = try Interpolator.interpolate(c.template, lookup: { env[$0] })
                return ["expected an error, got \"\(value)\""]
            } catch let e {
                error = e
            }
            if let contains = c.errorContains {
                want(error.composeMessage.contains(contains), "message \"\(error.composeMessage)\" lacks \"\(contains)\"")
                want(error.description.contains(contains), "description \"\(error.description)\" lacks \"\(contains)\"")
            }
            if c.errorKind == "missing_required" {
                want(error.kind == .missingRequired, "kind \(error.kind), want missingRequired")
            } else {
                want(error.kind == .invalidTemplate, "kind \(error.kind), want invalidTemplate")
                want(error.composeMessage.hasPrefix("Invalid template: "), "message \"\(error.composeMessage)\"")
            }
            if let variable = c.errorVariable { want(error.variable == variable, "variable \(String(describing: error.variable))") }
            if let reason = c.errorReason { want(error.reason == reason, "reason \(String(describing: error.reason))") }
            want(error.text == c.template, "text \(error.text)")
        } else {
            guard let expected = c.expected else { return ["case has no expected value"] }
            do {
                let result = try Interpolator(environment: env).evaluate(c.template)
                want(result.value == expected, "got \"\(result.value)\", want \"\(expected)\"")
                // The instance and static entry points must agree.
                let other = try Interpolator(environment: env).interpolate(c.template)
                want(other == expected, "interpolate() gave \"\(other)\"")
                if let warnings = c.warnings {
                    want(result.unsetVariables.count == warnings, "unset variables \(result.unsetVariables), want \(warnings)")
                }
            } catch {
                failures.append("unexpected error: \(error)")
            }
        }
        return failures
    }

    @Test(arguments: try loadOperatorChoiceCases())
    func operatorChoice(_ c: OperatorChoiceCase) {
        #expect(Self.chosenOperator(c) == c.operator)
    }

    static func chosenOperator(_ c: OperatorChoiceCase) -> String? {
        let op = TemplateEngine.earliestOperator(in: Array(c.input.unicodeScalars)[...])
        return op.map { String(String.UnicodeScalarView($0.text)) }
    }

    // One line per fixture set; deliberate differences are listed in Tests/CONFORMANCE.md.

    @Test func interpolationSummary() throws {
        let cases = try loadInterpolationCases()
        let failed = cases.filter { !Self.check($0).isEmpty }.map(\.id)
        reportConformance("compose-interpolation", total: cases.count, failed: failed)
        #expect(cases.count == 107)
        #expect(failed == [])
    }

    @Test func operatorChoiceSummary() throws {
        let cases = try loadOperatorChoiceCases()
        let failed = cases.filter { Self.chosenOperator($0) != $0.operator }.map(\.name)
        reportConformance("compose-interpolation operator-choice", total: cases.count, failed: failed)
        #expect(failed == [])
    }
}

/// Prints `conformance <set>: passed/total passed` and the names of failing cases.
func reportConformance(_ set: String, total: Int, failed: [String]) {
    var line = "conformance \(set): \(total - failed.count)/\(total) passed"
    if !failed.isEmpty { line += " (failed: \(failed.joined(separator: ", ")))" }
    print(line)
}
