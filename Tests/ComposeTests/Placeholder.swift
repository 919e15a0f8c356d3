import Testing
@testable import Compose

// Replaced by the module's real tests in its issue.
@Test func moduleLinks() {
    #expect(String(describing: ComposeModule.self) == "ComposeModule")
}
