import Testing
@testable import Engine

// Replaced by the module's real tests in its issue.
@Test func moduleLinks() {
    #expect(String(describing: EngineModule.self) == "EngineModule")
}
