import Foundation
import Testing
import BerthYAML
import TestSupport
@testable import Compose

typealias TestSupportPaths = TestPaths

struct MergeCase: CustomTestStringConvertible, Sendable {
    let name: String
    let unicity: Bool
    var testDescription: String { name }

    static func all() -> [MergeCase] {
        guard let index = try? Fixtures.json("compose-merge/index.json") as? [String: Any],
              let cases = index["cases"] as? [[String: Any]] else { return [] }
        return cases.compactMap { c in
            guard let name = c["name"] as? String else { return nil }
            return MergeCase(name: name, unicity: (c["enforce_unicity"] as? Bool) ?? name.hasPrefix("spec-"))
        }
    }
}

@Suite struct ComposeConformance {
    @Test func fixtureCounts() {
        #expect(MergeCase.all().count == 73)
    }

    @Test(arguments: MergeCase.all())
    func merge(_ c: MergeCase) {
        let failure = Self.checkMerge(c)
        #expect(failure == nil, "\(failure ?? "")")
    }

    /// nil when the case passes, else what differs.
    static func checkMerge(_ c: MergeCase) -> String? {
        conformanceCheck {
            let dir = "compose-merge/\(c.name)"
            var baseReset = ResetPaths()
            guard let base = baseReset.strip(try Fixtures.yaml("\(dir)/base.yaml")) else { return "base.yaml is empty" }
            var reset = ResetPaths()
            guard let override = reset.strip(try Fixtures.yaml("\(dir)/override.yaml")) else { return "override.yaml is empty" }
            var merged = try ComposeMerge.merge(reset.apply(base), override)
            if c.unicity { merged = ComposeUnicity.enforce(merged) }
            let expected = try Fixtures.yaml("\(dir)/expected.yaml")
            let spec = c.name.hasPrefix("spec-")
            return differs(Plain(merged, dropEmpty: spec), Plain(expected, dropEmpty: spec))
        }
    }

    static let unicityCases = ["uncity_test-Test_EnvironmentUnicity", "uncity_test-Test_PortsLongtUnicity",
                               "uncity_test-Test_PortsShortUnicity", "uncity_test-Test_VolumeUnicity"]

    @Test(arguments: unicityCases)
    func unicity(_ name: String) {
        let failure = Self.checkUnicity(name)
        #expect(failure == nil, "\(failure ?? "")")
    }

    static func checkUnicity(_ name: String) -> String? {
        conformanceCheck {
            let input = try Fixtures.yaml("compose-unicity/\(name)/input.yaml")
            let expected = try Fixtures.yaml("compose-unicity/\(name)/expected.yaml")
            return differs(Plain(ComposeUnicity.enforce(input)), Plain(expected))
        }
    }

    static let normalizeCases = ["TestImplicitContextPath", "TestNormalizeCustomNetwork", "TestNormalizeDefaultNetwork",
                                 "TestNormalizeDependsOn", "TestNormalizeEnvironment", "TestNormalizeImplicitDependencies",
                                 "TestNormalizeNetworkNames", "TestNormalizePreStartInheritsServiceImage",
                                 "TestNormalizeVolumes"]

    @Test(arguments: normalizeCases)
    func normalize(_ name: String) {
        let failure = Self.checkNormalize(name)
        #expect(failure == nil, "\(failure ?? "")")
    }

    static func checkNormalize(_ name: String) -> String? {
        conformanceCheck {
            let input = try Fixtures.yaml("compose-normalize/\(name)/input.yaml")
            let expected = try Fixtures.yaml("compose-normalize/\(name)/expected.yaml")
            guard let context = try Fixtures.json("compose-normalize/\(name)/context.json") as? [String: Any] else {
                return "context.json is not an object"
            }
            let env = (context["env"] as? [String: String]) ?? [:]
            let result = ComposeNormalize.normalize(input, lookup: { env[$0] })
            return differs(Plain(result), Plain(expected))
        }
    }

    // One line per fixture set, so a run shows how much of upstream's behaviour is matched
    // (deliberate differences are listed in Tests/CONFORMANCE.md).

    @Test func mergeSummary() {
        let cases = MergeCase.all()
        let failed = cases.filter { Self.checkMerge($0) != nil }.map(\.name)
        reportConformance("compose-merge", total: cases.count, failed: failed)
        #expect(cases.count == 73)
        #expect(failed == [])
    }

    @Test func unicitySummary() {
        let failed = Self.unicityCases.filter { Self.checkUnicity($0) != nil }
        reportConformance("compose-unicity", total: Self.unicityCases.count, failed: failed)
        #expect(failed == [])
    }

    @Test func normalizeSummary() {
        let failed = Self.normalizeCases.filter { Self.checkNormalize($0) != nil }
        reportConformance("compose-normalize", total: Self.normalizeCases.count, failed: failed)
        #expect(failed == [])
    }
}

/// Runs one fixture check; a thrown error (unreadable fixture, loader error) is a failure too.
func conformanceCheck(_ body: () throws -> String?) -> String? {
    do {
        return try body()
    } catch {
        return "error: \(error)"
    }
}

func differs(_ actual: Plain, _ expected: Plain) -> String? {
    actual == expected ? nil : "got \(actual)\nwant \(expected)"
}

/// Prints `conformance <set>: passed/total passed` and the names of failing cases.
func reportConformance(_ set: String, total: Int, failed: [String]) {
    var line = "conformance \(set): \(total - failed.count)/\(total) passed"
    if !failed.isEmpty { line += " (failed: \(failed.joined(separator: ", ")))" }
    print(line)
}
