import Testing
@testable import Dockerfile

// Replaced by the module's real tests in its issue.
@Test func moduleLinks() {
    #expect(String(describing: DockerfileModule.self) == "DockerfileModule")
}
