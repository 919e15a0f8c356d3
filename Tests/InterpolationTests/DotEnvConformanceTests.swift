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
    func fixtureFile(_ a: DotEnvFileAssertion) throws {
        let data = try Data(contentsOf: TestPaths.fixture("dotenv/\(a.file)"))
        let text = String(decoding: data, as: UTF8.self)
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

        if a.error == true {
            let error = try #require(throws: DotEnvError.self) { try read() }
            if let contains = a.errorContains {
                #expect(error.composeMessage.contains(contains), "\(error.composeMessage)")
            }
            #expect(error.description.hasPrefix("\(a.file):"))
            return
        }
        let result = try read()
        let values = a.values ?? [:]
        if a.api == "Load" {
            for (key, value) in values { #expect((result[key] ?? "") == value, "\(key)") }
        } else if a.partial == false {
            #expect(result == values)
        } else {
            for (key, value) in values { #expect(result[key] == value, "\(key)") }
        }
        for key in a.absent ?? [] { #expect(result[key] == nil, "\(key)") }
        for key in a.lookupCalledFor ?? [] { #expect(asked.contains(key), "\(key)") }
    }

    @Test(arguments: try loadDotEnvParseCases())
    func parseCase(_ c: DotEnvParseCase) throws {
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

        if c.error == true {
            let error = try #require(throws: DotEnvError.self) { try run() }
            if let contains = c.errorContains {
                #expect(error.composeMessage.contains(contains), "\(error.composeMessage)")
            }
            if let message = c.errorMessage { #expect(error.composeMessage == message) }
            return
        }
        let result = try run()
        let expected = try #require(c.expected)
        if c.partial == false {
            #expect(result == expected)
        } else {
            for (key, value) in expected { #expect(result[key] == value, "\(key)") }
        }
    }
}
