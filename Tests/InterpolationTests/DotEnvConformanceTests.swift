import Foundation
import Testing
import TestSupport
@testable import Interpolation

/// One assertion of `dotenv/expected.json` (compose-go's godotenv tests on the fixture files).
struct DotEnvFileAssertion: Decodable, Sendable, CustomTestStringConvertible {
    var file = ""
    let test: String
    let api: String
    let processEnvBefore: [String: String]?
    let lookupEnv: [String: String]?
    let partial: Bool?
    let values: [String: String]?
    let absent: [String]?
    let lookupCalledFor: [String]?
    let error: Bool?
    let errorContains: String?

    enum CodingKeys: String, CodingKey {
        case test, api, partial, values, absent, error
        case processEnvBefore = "process_env_before"
        case lookupEnv = "lookup_env"
        case lookupCalledFor = "lookup_called_for"
        case errorContains = "error_contains"
    }

    var testDescription: String { "\(file) \(test)" }
}

/// One case of `dotenv/parse-cases.json`.
struct DotEnvParseCase: Decodable, Sendable, CustomTestStringConvertible {
    let id: String
    let api: String?
    let input: String?
    let files: [String]?
    let currentEnv: [String: String]?
    let lookupEnv: [String: String]?
    let partial: Bool?
    let expected: [String: String]?
    let error: Bool?
    let errorContains: String?
    let errorMessage: String?

    enum CodingKeys: String, CodingKey {
        case id, api, input, files, partial, expected, error
        case currentEnv = "current_env"
        case lookupEnv = "lookup_env"
        case errorContains = "error_contains"
        case errorMessage = "error_message"
    }

    var testDescription: String { id }
}

func loadDotEnvFileAssertions() throws -> [DotEnvFileAssertion] {
    let data = try Data(contentsOf: TestPaths.fixture("dotenv/expected.json"))
    let byFile = try JSONDecoder().decode([String: [DotEnvFileAssertion]].self, from: data)
    return byFile.keys.sorted().flatMap { file in
        (byFile[file] ?? []).map { var a = $0; a.file = file; return a }
    }
}

func loadDotEnvParseCases() throws -> [DotEnvParseCase] {
    let data = try Data(contentsOf: TestPaths.fixture("dotenv/parse-cases.json"))
    return try JSONDecoder().decode([DotEnvParseCase].self, from: data)
}

func dictionary(_ pairs: [(key: String, value: String)]) -> [String: String] {
    Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
}

/// godotenv's `Read`/`ReadWithLookup` drop keys matching `^\s*\d.*`; Compose never uses them,
/// so that filter lives here rather than in the library.
func startsWithDigit(_ key: String) -> Bool {
    let trimmed = key.unicodeScalars.drop(while: { "\t\n\u{0C}\r ".unicodeScalars.contains($0) })
    return trimmed.first.map { ("0"..."9").contains($0) } ?? false
}

@Suite struct DotEnvConformanceTests {
    @Test func fixturesHaveEveryCase() throws {
        #expect(try loadDotEnvFileAssertions().count == 19)
        #expect(try loadDotEnvParseCases().count == 75)
    }

    @Test(arguments: try loadDotEnvFileAssertions())
    func fixtureFile(_ a: DotEnvFileAssertion) {
        #expect(Self.check(a) == [])
    }

    /// What differs from godotenv's assertion; empty when it holds.
    static func check(_ a: DotEnvFileAssertion) -> [String] {
        var failures: [String] = []
        func want(_ ok: Bool, _ what: @autoclosure () -> String) { if !ok { failures.append(what()) } }
        let text: String
        do {
            text = String(decoding: try Data(contentsOf: TestPaths.fixture("dotenv/\(a.file)")), as: UTF8.self)
        } catch {
            return ["cannot read \(a.file): \(error)"]
        }
        var asked: [String] = []
        let lookupEnv = a.lookupEnv

        func read() throws(DotEnvError) -> [String: String] {
            switch a.api {
            case "Read":
                return dictionary(try DotEnv.parse(text, file: a.file)).filter { !startsWithDigit($0.key) }
            case "ReadWithLookup":
                let parsed = try DotEnv.parse(text, file: a.file, lookup: { key in
                    asked.append(key)
                    return lookupEnv?[key]
                })
                return dictionary(parsed).filter { !startsWithDigit($0.key) }
            default:
                // Load: copy into the (simulated) process environment without overriding.
                var env = a.processEnvBefore ?? [:]
                for (key, value) in try DotEnv.parse(text, file: a.file) where env[key] == nil {
                    env[key] = value
                }
                return env
            }
        }

        let result: [String: String]
        do {
            result = try read()
        } catch {
            guard a.error == true else { return ["unexpected error: \(error)"] }
            if let contains = a.errorContains {
                want(error.composeMessage.contains(contains), "message \"\(error.composeMessage)\" lacks \"\(contains)\"")
            }
            want(error.description.hasPrefix("\(a.file):"), "description \"\(error.description)\" does not name the file")
            return failures
        }
        if a.error == true { return ["expected an error, got \(result)"] }
        let values = a.values ?? [:]
        if a.api == "Load" {
            for (key, value) in values { want((result[key] ?? "") == value, "\(key)=\(result[key] ?? ""), want \(value)") }
        } else if a.partial == false {
            want(result == values, "got \(result), want \(values)")
        } else {
            for (key, value) in values { want(result[key] == value, "\(key)=\(result[key] ?? "<unset>"), want \(value)") }
        }
        for key in a.absent ?? [] { want(result[key] == nil, "\(key) should be absent") }
        for key in a.lookupCalledFor ?? [] { want(asked.contains(key), "lookup not asked for \(key)") }
        return failures
    }

    @Test(arguments: try loadDotEnvParseCases())
    func parseCase(_ c: DotEnvParseCase) {
        #expect(Self.check(c) == [])
    }

    static func check(_ c: DotEnvParseCase) -> [String] {
        var failures: [String] = []
        func want(_ ok: Bool, _ what: @autoclosure () -> String) { if !ok { failures.append(what()) } }
        func run() throws(DotEnvError) -> [String: String] {
            if c.api == "GetEnvFromFile" {
                let env = c.currentEnv ?? [:]
                let files = (c.files ?? []).enumerated().map { (file: "file\($0.offset + 1).env", text: $0.element) }
                return dictionary(try DotEnv.parse(files: files, environment: { env[$0] }))
            }
            let input = c.input ?? ""
            if let lookupEnv = c.lookupEnv {
                return dictionary(try DotEnv.parse(input, lookup: { lookupEnv[$0] }))
            }
            return dictionary(try DotEnv.parse(input))
        }

        let result: [String: String]
        do {
            result = try run()
        } catch {
            guard c.error == true else { return ["unexpected error: \(error)"] }
            if let contains = c.errorContains {
                want(error.composeMessage.contains(contains), "message \"\(error.composeMessage)\" lacks \"\(contains)\"")
            }
            if let message = c.errorMessage {
                want(error.composeMessage == message, "message \"\(error.composeMessage)\", want \"\(message)\"")
            }
            return failures
        }
        if c.error == true { return ["expected an error, got \(result)"] }
        guard let expected = c.expected else { return ["case has no expected values"] }
        if c.partial == false {
            want(result == expected, "got \(result), want \(expected)")
        } else {
            for (key, value) in expected { want(result[key] == value, "\(key)=\(result[key] ?? "<unset>"), want \(value)") }
        }
        return failures
    }

    // One line per fixture set; deliberate differences are listed in Tests/CONFORMANCE.md.

    @Test func fixtureFileSummary() throws {
        let assertions = try loadDotEnvFileAssertions()
        let failed = assertions.filter { !Self.check($0).isEmpty }.map(\.testDescription)
        reportConformance("dotenv files", total: assertions.count, failed: failed)
        #expect(assertions.count == 19)
        #expect(failed == [])
    }

    @Test func parseCaseSummary() throws {
        let cases = try loadDotEnvParseCases()
        let failed = cases.filter { !Self.check($0).isEmpty }.map(\.id)
        reportConformance("dotenv parse-cases", total: cases.count, failed: failed)
        #expect(cases.count == 75)
        #expect(failed == [])
    }
}
