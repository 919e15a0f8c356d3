import Testing
@testable import Interpolation

// Replaced by the module's real tests in its issue.
@Test func moduleLinks() {
    #expect(String(describing: InterpolationModule.self) == "InterpolationModule")
}
