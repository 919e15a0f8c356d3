import Testing
@testable import BerthYAML

// Replaced by the module's real tests in its issue.
@Test func moduleLinks() {
    #expect(String(describing: BerthYAMLModule.self) == "BerthYAMLModule")
}
