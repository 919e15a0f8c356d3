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
    func merge(_ c: MergeCase) throws {
        let dir = "compose-merge/\(c.name)"
        var baseReset = ResetPaths()
        let base = try #require(baseReset.strip(try Fixtures.yaml("\(dir)/base.yaml")))
        var reset = ResetPaths()
        let override = try #require(reset.strip(try Fixtures.yaml("\(dir)/override.yaml")))
        var merged = try ComposeMerge.merge(reset.apply(base), override)
        if c.unicity { merged = ComposeUnicity.enforce(merged) }
        let expected = try Fixtures.yaml("\(dir)/expected.yaml")
        let spec = c.name.hasPrefix("spec-")
        #expect(Plain(merged, dropEmpty: spec) == Plain(expected, dropEmpty: spec))
    }

    static let unicityCases = ["uncity_test-Test_EnvironmentUnicity", "uncity_test-Test_PortsLongtUnicity",
                               "uncity_test-Test_PortsShortUnicity", "uncity_test-Test_VolumeUnicity"]

    @Test(arguments: unicityCases)
    func unicity(_ name: String) throws {
        let input = try Fixtures.yaml("compose-unicity/\(name)/input.yaml")
        let expected = try Fixtures.yaml("compose-unicity/\(name)/expected.yaml")
        #expect(Plain(ComposeUnicity.enforce(input)) == Plain(expected))
    }

    static let normalizeCases = ["TestImplicitContextPath", "TestNormalizeCustomNetwork", "TestNormalizeDefaultNetwork",
                                 "TestNormalizeDependsOn", "TestNormalizeEnvironment", "TestNormalizeImplicitDependencies",
                                 "TestNormalizeNetworkNames", "TestNormalizePreStartInheritsServiceImage",
                                 "TestNormalizeVolumes"]

    @Test(arguments: normalizeCases)
    func normalize(_ name: String) throws {
        let input = try Fixtures.yaml("compose-normalize/\(name)/input.yaml")
        let expected = try Fixtures.yaml("compose-normalize/\(name)/expected.yaml")
        let context = try #require(try Fixtures.json("compose-normalize/\(name)/context.json") as? [String: Any])
        let env = (context["env"] as? [String: String]) ?? [:]
        let result = ComposeNormalize.normalize(input, lookup: { env[$0] })
        #expect(Plain(result) == Plain(expected))
    }
}
