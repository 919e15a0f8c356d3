import Testing
@testable import Curl

// Replaced by the module's real tests in its issue.
@Test func moduleLinks() {
    #expect(String(describing: CurlModule.self) == "CurlModule")
}
