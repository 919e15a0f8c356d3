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
    func composeGoCase(_ c: InterpolationCase) throws {
        let env = c.env
        if c.error == true {
            let error = try #require(throws: InterpolationError.self) {
                try Interpolator.interpolate(c.template, lookup: { env[$0] })
            }
            if let contains = c.errorContains {
                #expect(error.composeMessage.contains(contains), "\(error.composeMessage)")
                #expect(error.description.contains(contains))
            }
            if c.errorKind == "missing_required" {
                #expect(error.kind == .missingRequired)
            } else {
                #expect(error.kind == .invalidTemplate)
                #expect(error.composeMessage.hasPrefix("Invalid template: "))
            }
            if let variable = c.errorVariable { #expect(error.variable == variable) }
            if let reason = c.errorReason { #expect(error.reason == reason) }
            #expect(error.text == c.template)
        } else {
            let expected = try #require(c.expected)
            let result = try Interpolator(environment: env).evaluate(c.template)
            #expect(result.value == expected)
            // The instance and static entry points must agree.
            #expect(try Interpolator(environment: env).interpolate(c.template) == expected)
            if let warnings = c.warnings {
                #expect(result.unsetVariables.count == warnings, "\(result.unsetVariables)")
            }
        }
    }

    @Test(arguments: try loadOperatorChoiceCases())
    func operatorChoice(_ c: OperatorChoiceCase) {
        let op = TemplateEngine.earliestOperator(in: Array(c.input.unicodeScalars)[...])
        let text = op.map { String(String.UnicodeScalarView($0.text)) }
        #expect(text == c.operator)
    }
}
