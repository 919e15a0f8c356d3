import Foundation
import Testing
import TestSupport
@testable import Dockerfile

/// BuildKit's parser test files, see fixtures/dockerfile-parser/README.md.
@Suite struct ConformanceTests {
    static let root = TestPaths.fixture("dockerfile-parser")

    static var positiveCases: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter {
            FileManager.default.fileExists(atPath: root.appendingPathComponent("\($0)/result").path)
        }.sorted()
    }

    static var negativeCases: [String] {
        let dir = root.appendingPathComponent("negative")
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
    }

    static func text(_ relative: String) throws -> String {
        let data = try Data(contentsOf: root.appendingPathComponent(relative))
        return String(decoding: data, as: UTF8.self)
    }

    @Test func fixtureCounts() {
        #expect(Self.positiveCases.count == 33)
        #expect(Self.negativeCases.count == 4)
    }

    @Test(arguments: positiveCases)
    func dumpMatches(_ name: String) {
        let failure = Self.checkDump(name)
        #expect(failure == nil, "\(failure ?? "")")
    }

    /// nil when the parser's AST dump equals BuildKit's `result` file.
    static func checkDump(_ name: String) -> String? {
        do {
            let source = try text("\(name)/Dockerfile")
            let expected = try text("\(name)/result")
            let dump = try SyntaxTree.parse(source).dump() + "\n"
            return dump == expected ? nil : "got:\n\(dump)want:\n\(expected)"
        } catch {
            return "error: \(error)"
        }
    }

    @Test(arguments: negativeCases)
    func negativeFails(_ name: String) {
        #expect(Self.negativeIsRefused(name))
    }

    static func negativeIsRefused(_ name: String) -> Bool {
        guard let source = try? text("negative/\(name)/Dockerfile") else { return false }
        // `parse` throws only DockerfileError (typed throws), so any throw is the expected refusal.
        do {
            _ = try SyntaxTree.parse(source)
            return false
        } catch {
            return true
        }
    }

    // One line per fixture set; deliberate differences are listed in Tests/CONFORMANCE.md.

    @Test func parserSummary() {
        let failed = Self.positiveCases.filter { Self.checkDump($0) != nil }
        reportConformance("dockerfile-parser", total: Self.positiveCases.count, failed: failed)
        let refused = Self.negativeCases.filter { !Self.negativeIsRefused($0) }
        reportConformance("dockerfile-parser negative", total: Self.negativeCases.count, failed: refused)
        #expect(failed == [])
        #expect(refused == [])
    }

    @Test func envVarTest() throws {
        let env = ["PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""]
        let lexer = ShellLex(escapeToken: "\\")
        var checked = 0
        var failures: [String] = []
        for rawLine in try Self.text("envVarTest").split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine)
            if line.hasPrefix("#") || line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let fields = line.split(separator: "|", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            try #require(fields.count == 3, "bad test line \(line)")
            if fields[0] == "W" { continue }
            checked += 1
            let result: String
            do {
                result = try lexer.processWord(fields[1], env: env)
            } catch {
                result = "error"
            }
            if result != fields[2] { failures.append("\(fields[1]) → \(result), want \(fields[2])") }
        }
        reportConformance("dockerfile envVarTest", total: checked, failed: failures)
        #expect(failures == [])
        #expect(checked == 228)
    }

    @Test func wordsTest() throws {
        var env: [String: String] = [:]
        let lexer = ShellLex(escapeToken: "\\")
        var checked = 0
        var failures: [String] = []
        for rawLine in try Self.text("wordsTest").split(separator: "\n", omittingEmptySubsequences: true) {
            let line = String(rawLine)
            if line.hasPrefix("#") { continue }
            if line.hasPrefix("ENV ") {
                let assignment = line.dropFirst(4).drop { $0 == " " }
                if let eq = assignment.firstIndex(of: "=") {
                    env[String(assignment[..<eq])] = String(assignment[assignment.index(after: eq)...])
                }
                continue
            }
            let parts = line.split(separator: "|", omittingEmptySubsequences: false)
            try #require(parts.count == 2, "bad test line \(line)")
            let input = parts[0].trimmingCharacters(in: .whitespaces)
            let expected = parts[1].drop { $0 == " " }.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            checked += 1
            let words: [String]
            do {
                words = try lexer.processWords(input, env: env)
            } catch {
                words = ["error"]
            }
            if words != expected { failures.append("\(input) → \(words), want \(expected)") }
        }
        reportConformance("dockerfile wordsTest", total: checked, failed: failures)
        #expect(failures == [])
        #expect(checked == 24)
    }
}

/// Prints `conformance <set>: passed/total passed` and what failed.
func reportConformance(_ set: String, total: Int, failed: [String]) {
    var line = "conformance \(set): \(total - failed.count)/\(total) passed"
    if !failed.isEmpty { line += " (failed: \(failed.joined(separator: "; ")))" }
    print(line)
}
